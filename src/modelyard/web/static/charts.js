// Profile charts. The page embeds their data as JSON in <script type="application/json"
// id="chart-data"> (no inline script runs); each chart goes into the element with its id.
// Plotly.js is loaded by a deferred <script> placed before this module, so it runs first.

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function trace(chart, colour) {
  if (chart.kind === "histogram") {
    return {
      type: "bar",
      x: chart.x,
      y: chart.y,
      width: chart.width,
      customdata: chart.labels,
      marker: { color: colour },
      hovertemplate: "%{customdata}<br>%{y} rows<extra></extra>",
    };
  }
  return {
    type: "bar",
    orientation: "h",
    x: chart.y,
    y: chart.x,
    marker: { color: colour },
    hovertemplate: "%{y}<br>%{x} rows<extra></extra>",
  };
}

function layout(chart, text, muted) {
  const axis = { color: muted, gridcolor: "rgba(0,0,0,0.06)", zeroline: false };
  const base = {
    height: 200,
    margin: { t: 8, r: 8, b: 32, l: chart.kind === "histogram" ? 44 : 110 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: cssVar("--font", "sans-serif"), size: 11, color: text },
    bargap: chart.kind === "histogram" ? 0.02 : 0.25,
    showlegend: false,
  };
  if (chart.kind === "histogram") {
    return { ...base, xaxis: { ...axis }, yaxis: { ...axis, title: { text: "rows" } } };
  }
  return {
    ...base,
    xaxis: { ...axis, title: { text: "rows" } },
    yaxis: { ...axis, type: "category", autorange: "reversed", automargin: true },
  };
}

function draw() {
  const source = document.getElementById("chart-data");
  if (!source) return;
  const charts = JSON.parse(source.textContent);
  const colour = cssVar("--accent", "#2f6fed");
  const text = cssVar("--text", "#1d2330");
  const muted = cssVar("--muted", "#667085");
  for (const chart of charts) {
    const target = document.getElementById(chart.id);
    if (!target) continue;
    if (!window.Plotly) {
      target.textContent = "Charts could not be drawn: Plotly.js did not load.";
      continue;
    }
    const config = { displayModeBar: false, responsive: true };
    window.Plotly.newPlot(target, [trace(chart, colour)], layout(chart, text, muted), config).then(
      () => {
        target.dataset.drawn = "true";
      },
    );
  }
}

draw();

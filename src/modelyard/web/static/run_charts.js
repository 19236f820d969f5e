// Metric charts of one run (its page) or of several overlaid (the compare view): a chart per
// metric key, a line per run. The page names the runs and keys in <script type="application/json"
// id="metric-charts"> (no inline script runs); the points come from the JSON API, so long curves
// do not weigh on the page. While a run is going the charts redraw every few seconds.
// Plotly.js is loaded by a deferred <script> placed before this module, so it runs first.

const REFRESH_MS = 5000;
const FINAL = new Set(["finished", "failed", "killed"]);
const PALETTE = ["#2f6fed", "#e8590c", "#1f8a4c", "#c2255c", "#7048e8", "#0c8599", "#b7791f",
  "#495057", "#f03e3e", "#5c940d"];

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

// Plotly reads a subset of HTML in names; run names are user text, shown as typed.
function escapeLabel(text) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} from ${url}`);
  return response.json();
}

function history(runId, key) {
  return fetchJson(`/api/v1/runs/${runId}/metrics/${encodeURIComponent(key)}`);
}

// "NaN", "Infinity" and "-Infinity" come as strings: a gap in the line, named in the hover.
function trace(run, points, index) {
  const y = points.values.map((v) => (typeof v === "number" ? v : null));
  const odd = points.values.map((v) => (typeof v === "number" ? "" : ` (${v})`));
  return {
    type: "scatter",
    mode: points.steps.length > 1 ? "lines" : "markers",
    name: escapeLabel(`${run.name} #${run.id}`),
    x: points.steps,
    y,
    customdata: odd,
    connectgaps: false,
    line: { color: PALETTE[index % PALETTE.length], width: 2 },
    marker: { color: PALETTE[index % PALETTE.length], size: 7 },
    hovertemplate: "%{fullData.name}<br>step %{x}: %{y}%{customdata}<extra></extra>",
  };
}

function layout(many) {
  const text = cssVar("--text", "#1d2330");
  const muted = cssVar("--muted", "#667085");
  const axis = { color: muted, gridcolor: "rgba(0,0,0,0.06)", zeroline: false };
  return {
    height: many ? 260 : 220,
    margin: { t: 8, r: 8, b: many ? 64 : 36, l: 52 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: cssVar("--font", "sans-serif"), size: 11, color: text },
    showlegend: many,
    legend: { orientation: "h", y: -0.3 },
    xaxis: { ...axis, title: { text: "step" } },
    yaxis: { ...axis },
  };
}

async function drawChart(config, chart, target) {
  const runs = config.runs.filter((run) => run.keys.includes(chart.key));
  const histories = await Promise.all(runs.map((run) => history(run.id, chart.key)));
  const traces = runs.map((run, i) => trace(run, histories[i], config.runs.indexOf(run)));
  const options = { displayModeBar: false, responsive: true };
  await window.Plotly.react(target, traces, layout(config.runs.length > 1), options);
  target.dataset.drawn = "true";
  target.dataset.traces = String(traces.length);
}

async function drawAll(config) {
  await Promise.all(
    config.charts.map(async (chart) => {
      const target = document.getElementById(chart.id);
      if (!target) return;
      if (!window.Plotly) {
        target.textContent = "Charts could not be drawn: Plotly.js did not load.";
        return;
      }
      try {
        await drawChart(config, chart, target);
      } catch (error) {
        target.textContent = `The points could not be loaded (${error.message}).`;
      }
    }),
  );
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function follow(config) {
  let going = config.runs.map((run) => run.id);
  while (going.length) {
    await sleep(REFRESH_MS);
    if (document.hidden) continue;
    let statuses;
    try {
      statuses = await Promise.all(going.map((id) => fetchJson(`/api/v1/runs/${id}`)));
    } catch {
      continue; // a blip (server restart, network): try again next round
    }
    await drawAll(config);
    going = going.filter((_, i) => !FINAL.has(statuses[i].status));
  }
}

const source = document.getElementById("metric-charts");
if (source) {
  const config = JSON.parse(source.textContent);
  await drawAll(config);
  if (config.live) follow(config);
}

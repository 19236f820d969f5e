// An endpoint's model quality over a chosen range (15 min, 1 h, 24 h, 7 d): accuracy (or MAE)
// per variant against its trivial baseline with the timeline's markers (drift, checkpoints,
// rollbacks, pauses) as dashed lines, labels received, label coverage and delay, the learners'
// lag, drift (PSI) per feature, and tables for the per-variant figures, the A/B read-out, the
// markers and the features' drift. Every 10 s, and at once when another range is chosen, it
// fetches the quality and drift APIs with the session cookie and redraws.
// The page names the URLs in <script type="application/json" id="quality-charts"> (no inline
// script runs). Plotly.js is loaded by a deferred <script> placed before this module.
// User text (variant and feature names, event messages) is set as textContent, and escaped
// where Plotly reads its subset of HTML (trace names, tick labels, annotations).

const PALETTE = ["#2f6fed", "#e8590c", "#1f8a4c", "#c2255c", "#7048e8", "#0c8599", "#b7791f",
  "#495057", "#f03e3e", "#5c940d"];
const MARKER_COLOURS = {
  drift: "#c2362b",
  checkpoint: "#1f8a4c",
  rollback: "#7048e8",
  paused: "#b7791f",
  resumed: "#0c8599",
  learner_restart: "#495057",
};
const PSI_DRIFT = 0.2;
const DRIFT_LINES = 8; // the most drifted features get a line; the table lists every one
const TIMELINE_ITEMS = 12;
const CHARTS = ["chart-accuracy", "chart-labels", "chart-coverage", "chart-lag", "chart-drift"];

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function escapeLabel(text) {
  return String(text).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} from ${url}`);
  return response.json();
}

// --- formatting ----------------------------------------------------------------------------

function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

function number(value) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? value.toLocaleString("en") : String(Number(value.toPrecision(4)));
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function pValue(p) {
  return p < 0.001 ? "< 0.001" : p.toFixed(3);
}

// Accuracy differences read as percentage points, MAE differences as they are.
function signed(value, metric) {
  const text = metric === "accuracy" ? (value * 100).toFixed(1) : String(Number(value.toPrecision(3)));
  return `${value > 0 ? "+" : ""}${text}${metric === "accuracy" ? " pts" : ""}`;
}

function utc(at) {
  return `${new Date(at * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// --- charts --------------------------------------------------------------------------------

function baseLayout(yaxis, extra = {}) {
  const axis = { color: cssVar("--muted", "#667085"), gridcolor: "rgba(0,0,0,0.06)", zeroline: false };
  return {
    height: 240,
    margin: { t: 8, r: 8, b: 32, l: 52 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: cssVar("--font", "sans-serif"), size: 11, color: cssVar("--text", "#1d2330") },
    showlegend: true,
    legend: { orientation: "h", y: -0.18, traceorder: "normal" },
    xaxis: axis,
    yaxis: { ...axis, rangemode: "tozero", ...yaxis },
    ...extra,
  };
}

// Times are unix seconds; Plotly reads numbers on a date axis as UTC milliseconds.
function timeLayout(span, yaxis, extra = {}) {
  const layout = baseLayout(yaxis, extra);
  layout.xaxis = { ...layout.xaxis, type: "date", range: [span.start * 1000, span.end * 1000] };
  return layout;
}

function line(name, x, y, colour, extra = {}) {
  return {
    type: "scatter",
    mode: "lines+markers",
    name: escapeLabel(name),
    x,
    y,
    connectgaps: true, // a step without labels has no accuracy, not a worse one
    line: { color: colour, width: 2 },
    marker: { color: colour, size: 4 },
    hovertemplate: "%{fullData.name}: %{y:.3g}<extra></extra>",
    ...extra,
  };
}

function markerShapes(markers) {
  return markers.map((m) => ({
    type: "line",
    xref: "x",
    yref: "paper",
    x0: m.at * 1000,
    x1: m.at * 1000,
    y0: 0,
    y1: 1,
    line: { color: MARKER_COLOURS[m.kind] ?? "#868e96", width: 1.5, dash: "dash" },
  }));
}

function markerAnnotations(markers) {
  return markers.map((m, i) => ({
    x: m.at * 1000,
    xref: "x",
    yref: "paper",
    y: 1 - (i % 3) * 0.09, // neighbours step down rather than overprint each other
    xanchor: "left",
    yanchor: "top",
    showarrow: false,
    text: escapeLabel(m.kind.replaceAll("_", " ")),
    hovertext: escapeLabel(m.message),
    font: { size: 10, color: MARKER_COLOURS[m.kind] ?? "#868e96" },
  }));
}

function colours(names) {
  const sorted = [...new Set(names)].sort();
  return (name) => PALETTE[sorted.indexOf(name) % PALETTE.length];
}

function accuracyFigure(quality, x, colourOf) {
  const traces = [];
  const regression = quality.series.length > 0 && quality.series.every((s) => s.task !== "classification");
  for (const s of quality.series) {
    const colour = colourOf(s.variant);
    if (s.task === "classification") {
      traces.push(line(s.variant, x, s.accuracy, colour));
      traces.push(line(`${s.variant} baseline`, x, s.baseline, colour, {
        line: { color: colour, width: 1.5, dash: "dot" },
        marker: { color: colour, size: 2 },
      }));
    } else {
      traces.push(line(`${s.variant} MAE`, x, s.mae, colour));
      const summary = quality.summary.find((v) => v.variant === s.variant);
      if (summary && summary.baseline_mae !== null) {
        traces.push(line(`${s.variant} baseline`, [x[0], x[x.length - 1]],
          [summary.baseline_mae, summary.baseline_mae], colour, {
            mode: "lines",
            line: { color: colour, width: 1.5, dash: "dot" },
          }));
      }
    }
  }
  if (!regression) {
    for (const l of quality.learners) {
      if (!l.accuracy.some((v) => v !== null)) continue;
      const colour = colourOf(l.variant);
      traces.push(line(`${l.variant} prequential`, x, l.accuracy, colour, {
        line: { color: colour, width: 1, dash: "dashdot" },
        marker: { color: colour, size: 2 },
      }));
    }
  }
  const yaxis = regression
    ? { title: { text: "MAE" } }
    : { title: { text: "accuracy" }, tickformat: ".0%", range: [0, 1.05], rangemode: "normal" };
  return [traces, yaxis, true];
}

function labelsFigure(quality, x, colourOf) {
  const traces = quality.series.map((s) => ({
    type: "bar",
    name: escapeLabel(s.variant),
    x,
    y: s.labels,
    marker: { color: colourOf(s.variant) },
    hovertemplate: "%{fullData.name}: %{y} labels<extra></extra>",
  }));
  return [traces, { title: { text: "labels" } }, false, { barmode: "stack" }];
}

function lagFigure(quality, x, colourOf) {
  const traces = quality.learners.map((l) =>
    line(l.variant, x, l.lag_seconds, colourOf(l.variant), {
      customdata: l.lag_events,
      hovertemplate: "%{fullData.name}: %{y:.3g} s, %{customdata} labels behind<extra></extra>",
    }),
  );
  return [traces, { title: { text: "seconds" } }, true];
}

// Per variant: the share of its predictions labelled (bars, left) and the mean delay of a
// label (bars, right axis).
function coverageFigure(quality, colourOf) {
  const rows = quality.summary.filter((s) => s.label_coverage !== null || s.label_delay_seconds !== null);
  const names = rows.map((s) => escapeLabel(s.variant));
  const traces = [
    {
      type: "bar",
      name: "coverage",
      x: names,
      y: rows.map((s) => (s.label_coverage === null ? null : s.label_coverage * 100)),
      marker: { color: rows.map((s) => colourOf(s.variant)) },
      offsetgroup: "coverage",
      hovertemplate: "%{x}: %{y:.1f} % labelled<extra></extra>",
    },
    {
      type: "bar",
      name: "delay",
      x: names,
      y: rows.map((s) => s.label_delay_seconds),
      yaxis: "y2",
      marker: { color: "rgba(0,0,0,0)", line: { color: rows.map((s) => colourOf(s.variant)), width: 2 } },
      offsetgroup: "delay",
      hovertemplate: "%{x}: %{y:.3g} s until the label<extra></extra>",
    },
  ];
  const layout = baseLayout({ title: { text: "% labelled" }, range: [0, 100] }, {
    yaxis2: {
      title: { text: "delay (s)" },
      overlaying: "y",
      side: "right",
      rangemode: "tozero",
      color: cssVar("--muted", "#667085"),
      showgrid: false,
    },
    margin: { t: 8, r: 52, b: 32, l: 52 },
  });
  layout.xaxis = { ...layout.xaxis, type: "category" };
  return [traces, layout];
}

function driftFigure(drift, colourOf) {
  const times = drift.series.times;
  const step = times.length > 1 ? times[1] - times[0] : 60;
  const x = times.map((t) => (t + step / 2) * 1000);
  const worst = [...drift.features].sort((a, b) => b.psi - a.psi).map((f) => f.feature);
  const shown = drift.series.features
    .filter((f) => f.psi.some((v) => v !== null))
    .sort((a, b) => worst.indexOf(a.feature) - worst.indexOf(b.feature))
    .slice(0, DRIFT_LINES);
  const traces = shown.map((f) => line(f.feature, x, f.psi, colourOf(f.feature), {
    connectgaps: false,
    customdata: f.counts,
    hovertemplate: "%{fullData.name}: PSI %{y:.3g} (%{customdata} values)<extra></extra>",
  }));
  const span = times.length ? { start: times[0], end: times[times.length - 1] + step } : null;
  const threshold = {
    type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: PSI_DRIFT, y1: PSI_DRIFT,
    line: { color: cssVar("--danger", "#c2362b"), width: 1, dash: "dot" },
  };
  return [traces, span, { title: { text: "PSI" } }, { shapes: [threshold] }];
}

// How many points of a chart carry data: what the browser tests (and curious people) read.
// A bar of 0 labels is no data; an accuracy of 0 is.
function pointsOf(traces) {
  const counts = (t, v) => v !== null && v !== undefined && (t.type !== "bar" || v !== 0);
  return traces.reduce((n, t) => n + t.y.filter((v) => counts(t, v)).length, 0);
}

async function draw(id, traces, layout) {
  const target = document.getElementById(id);
  if (!target) return;
  await window.Plotly.react(target, traces, layout, { displayModeBar: false, responsive: true });
  target.dataset.drawn = "true";
  target.dataset.traces = String(traces.length);
  target.dataset.points = String(pointsOf(traces));
}

// --- tables --------------------------------------------------------------------------------

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function badge(text, className) {
  const span = document.createElement("span");
  span.className = `badge ${className}`.trim();
  span.textContent = text;
  return span;
}

function fill(name, rows, emptyId) {
  const body = document.querySelector(`[data-quality="${name}"]`);
  if (!body) return;
  body.replaceChildren(...rows);
  const table = body.closest("table");
  if (table) table.hidden = rows.length === 0;
  const empty = emptyId ? document.getElementById(emptyId) : null;
  if (empty) empty.hidden = rows.length > 0;
}

function summaryRows(quality) {
  return quality.summary.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.variant = s.variant;
    const name = cell("");
    const strong = document.createElement("strong");
    strong.textContent = s.variant;
    name.append(strong);
    tr.append(name, cell(number(s.labels), "num"), cell(percent(s.accuracy), "num"),
      cell(percent(s.baseline_accuracy), "num"), cell(number(s.mae), "num"),
      cell(number(s.rmse), "num"), cell(percent(s.label_coverage), "num"),
      cell(seconds(s.label_delay_seconds), "num"), cell(number(s.late), "num"));
    return tr;
  });
}

function comparisonRows(quality) {
  return quality.comparisons.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.challenger = c.challenger;
    const verdict = cell("");
    verdict.append(c.significant ? badge("significant", "ok") : badge("not yet", ""));
    tr.append(
      cell(c.challenger),
      cell(c.champion),
      cell(`${signed(c.difference, c.metric)} ${c.metric}`, "num nowrap"),
      cell(`${signed(c.low, c.metric)} to ${signed(c.high, c.metric)}`, "num nowrap"),
      cell(pValue(c.p_value), "num"),
      cell(`${number(c.labels[1])} / ${number(c.labels[0])}`, "num nowrap"),
      verdict,
    );
    return tr;
  });
}

function markerItems(quality) {
  return quality.markers.slice(-TIMELINE_ITEMS).reverse().map((m) => {
    const li = document.createElement("li");
    li.dataset.kind = m.kind;
    li.append(badge(m.kind.replaceAll("_", " "), m.kind === "drift" ? "warn" : ""), " ");
    const when = document.createElement("span");
    when.className = "muted nowrap";
    when.textContent = utc(m.at);
    li.append(document.createTextNode(m.message), " ", when);
    return li;
  });
}

function driftRows(drift) {
  const order = (f) => (f.drifted ? 0 : f.judged ? 1 : 2);
  const features = [...drift.features].sort((a, b) => order(a) - order(b) || b.psi - a.psi);
  return features.map((f) => {
    const tr = document.createElement("tr");
    tr.dataset.feature = f.feature;
    const name = cell("");
    const code = document.createElement("code");
    code.textContent = f.feature;
    name.append(code);
    const status = cell("");
    if (!f.judged) status.append(badge("too few values", ""));
    else if (f.drifted) status.append(badge("drifted", "warn"));
    else status.append(badge("stable", "ok"));
    tr.append(name, cell(f.kind), cell(f.psi.toFixed(3), "num"),
      cell(f.test === "ks" ? "KS" : "χ²"), cell(f.statistic.toFixed(3), "num"),
      cell(pValue(f.p_value), "num"),
      cell(`${number(f.live_count)} / ${number(f.reference_count)}`, "num nowrap"), status);
    return tr;
  });
}

// --- the dashboard -------------------------------------------------------------------------

class Dashboard {
  constructor(config, section) {
    this.config = config;
    this.section = section;
    this.range = config.range;
    this.generation = 0; // a newer fetch (another range chosen) wins over an older one
  }

  status(text) {
    const target = document.getElementById("quality-status");
    if (target) target.textContent = text;
  }

  choose(range) {
    if (!(range in this.config.ranges)) return;
    this.range = range;
    for (const link of this.section.querySelectorAll("[data-range]")) {
      if (link.dataset.range === range) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const url = new URL(window.location.href);
    url.searchParams.set("range", range);
    url.searchParams.delete("done");
    url.hash = "quality";
    window.history.replaceState(null, "", url);
    this.status(`Loading the figures of the last ${range}…`);
    return this.refresh();
  }

  async refresh() {
    if (!window.Plotly) {
      this.status("Charts could not be drawn: Plotly.js did not load.");
      return;
    }
    const generation = ++this.generation;
    const range = this.range;
    const window_ = this.config.ranges[range];
    const [quality, drift] = await Promise.allSettled([
      fetchJson(`${this.config.quality}?window=${window_}`),
      fetchJson(`${this.config.drift}?window=${window_}`),
    ]);
    if (generation !== this.generation) return;
    if (quality.status === "rejected") {
      this.status(`The quality figures could not be loaded (${quality.reason.message}).`);
      return;
    }
    try {
      await this.show(quality.value, drift.status === "fulfilled" ? drift.value : null, generation);
    } catch (error) {
      this.status(`The quality figures could not be drawn (${error.message}).`);
      return;
    }
    if (generation !== this.generation) return;
    this.section.dataset.range = range;
    this.section.dataset.window = String(window_);
    const labels = quality.value.summary.reduce((n, s) => n + s.labels, 0);
    const duplicates = quality.value.duplicates ? `, ${number(quality.value.duplicates)} duplicates ignored` : "";
    const failed = drift.status === "rejected" ? ` Drift could not be loaded (${drift.reason.message}).` : "";
    this.status(`Last ${range} in steps of ${seconds(quality.value.step_seconds)}: ` +
      `${number(labels)} label${labels === 1 ? "" : "s"}${duplicates}. ` +
      `Updated ${utc(Date.now() / 1000)}.${failed}`);
  }

  async show(quality, drift, generation) {
    const step = quality.step_seconds;
    const times = quality.times;
    const span = { start: times[0], end: times[times.length - 1] + step };
    const x = times.map((t) => (t + step / 2) * 1000);
    const colourOf = colours([
      ...quality.summary.map((s) => s.variant),
      ...quality.series.map((s) => s.variant),
      ...quality.learners.map((l) => l.variant),
    ]);
    const labelled = quality.summary.some((s) => s.labels > 0);
    const empty = document.getElementById("quality-empty");
    if (empty) empty.hidden = labelled || quality.learners.length > 0;
    fill("summary", summaryRows(quality));
    fill("comparisons", comparisonRows(quality), "ab-empty");
    fill("markers", markerItems(quality), "markers-empty");

    const marked = { shapes: markerShapes(quality.markers), annotations: markerAnnotations(quality.markers) };
    const timed = [
      ["chart-accuracy", accuracyFigure(quality, x, colourOf)],
      ["chart-labels", labelsFigure(quality, x, colourOf)],
      ["chart-lag", lagFigure(quality, x, colourOf)],
    ];
    for (const [id, [traces, yaxis, withMarkers, extra = {}]] of timed) {
      if (generation !== this.generation) return;
      await draw(id, traces, timeLayout(span, yaxis, { ...extra, ...(withMarkers ? marked : {}) }));
    }
    const accuracy = document.getElementById("chart-accuracy");
    if (accuracy) accuracy.dataset.markers = String(quality.markers.length);
    const [coverageTraces, coverageLayout] = coverageFigure(quality, colourOf);
    if (generation !== this.generation) return;
    await draw("chart-coverage", coverageTraces, coverageLayout);

    if (drift === null) return;
    const reference = document.getElementById("drift-reference");
    if (reference) {
      reference.textContent = drift.series.reference_source
        ? `Against the reference of the champion: ${drift.series.reference_source}.`
        : "";
    }
    fill("drift", driftRows(drift), "drift-empty");
    const driftColour = colours(drift.features.map((f) => f.feature));
    const [traces, driftSpan, yaxis, extra] = driftFigure(drift, driftColour);
    if (generation !== this.generation) return;
    await draw("chart-drift", traces, timeLayout(driftSpan ?? span, yaxis, extra));
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const source = document.getElementById("quality-charts");
const section = document.getElementById("quality");
if (source && section) {
  const dashboard = new Dashboard(JSON.parse(source.textContent), section);
  for (const link of section.querySelectorAll("[data-range]")) {
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      dashboard.choose(link.dataset.range);
    });
  }
  await dashboard.refresh();
  for (;;) {
    await sleep(dashboard.config.refresh_ms);
    if (!document.hidden) await dashboard.refresh();
  }
}

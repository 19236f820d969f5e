// An endpoint's live figures: every 2 s this polls the metrics API for the last 15 minutes and
// redraws four Plotly charts (requests/s stacked per variant, p50/p95/p99 latency, error rate,
// replicas) and the last-minute summary; it also polls the endpoint for its status, replicas
// and the supervisor's events.
// The page names the URLs in <script type="application/json" id="endpoint-charts"> (no inline
// script runs). Plotly.js is loaded by a deferred <script> placed before this module.

const PALETTE = ["#2f6fed", "#e8590c", "#1f8a4c", "#c2255c", "#7048e8", "#0c8599", "#b7791f",
  "#495057", "#f03e3e", "#5c940d"];
const UNROUTED = "#adb5bd";

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

// Plotly reads a subset of HTML in names; variant names are user text, shown as typed.
function escapeLabel(text) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} from ${url}`);
  return response.json();
}

function layout(series, yaxis) {
  const muted = cssVar("--muted", "#667085");
  const axis = { color: muted, gridcolor: "rgba(0,0,0,0.06)", zeroline: false };
  const first = series.ts[0] * 1000;
  const last = (series.ts[series.ts.length - 1] + series.step) * 1000;
  return {
    height: 220,
    margin: { t: 8, r: 8, b: 32, l: 48 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: cssVar("--font", "sans-serif"), size: 11, color: cssVar("--text", "#1d2330") },
    showlegend: true,
    legend: { orientation: "h", y: -0.18, traceorder: "normal" },
    xaxis: { ...axis, type: "date", range: [first, last] },
    yaxis: { ...axis, rangemode: "tozero", ...yaxis },
  };
}

function line(name, x, y, colour, extra = {}) {
  return {
    type: "scatter",
    mode: "lines+markers", // a lone bucket between gaps shows as a dot
    name: escapeLabel(name),
    x,
    y,
    connectgaps: false,
    line: { color: colour, width: 2 },
    marker: { color: colour, size: 4 },
    hovertemplate: `%{fullData.name}: %{y:.3g}<extra></extra>`,
    ...extra,
  };
}

// Live variants stacked (their sum is the endpoint's traffic, each band its share); shadows,
// which get a copy of that traffic, as dashed lines on top.
function requestTraces(series, x, shadows) {
  const names = Object.keys(series.variant_rps);
  const live = names.filter((name) => !shadows.includes(name));
  const traces = live.map((name) =>
    line(name, x, series.variant_rps[name], PALETTE[names.indexOf(name) % PALETTE.length], {
      stackgroup: "requests",
    }),
  );
  // Requests refused before a variant was chosen (no key, bad input) count too.
  const routed = series.requests_per_second.map((_, i) =>
    live.reduce((sum, name) => sum + series.variant_rps[name][i], 0),
  );
  const rest = series.requests_per_second.map((total, i) => Math.max(0, total - routed[i]));
  if (rest.some((v) => v > 1e-9) || !traces.length) {
    const name = traces.length ? "not routed" : "all";
    traces.push(line(name, x, rest, UNROUTED, { stackgroup: "requests" }));
  }
  for (const name of names.filter((n) => shadows.includes(n))) {
    const colour = PALETTE[names.indexOf(name) % PALETTE.length];
    traces.push(
      line(`${name} (shadow)`, x, series.variant_rps[name], colour, {
        line: { color: colour, width: 2, dash: "dash" },
      }),
    );
  }
  return traces;
}

function figures(series, shadows) {
  const x = series.ts.map((t) => new Date((t + series.step / 2) * 1000));
  const percent = series.error_rate.map((v) => (v === null ? null : v * 100));
  return {
    "chart-requests": [requestTraces(series, x, shadows), { title: { text: "req/s" } }],
    "chart-latency": [
      [
        line("p50", x, series.p50_ms, PALETTE[0]),
        line("p95", x, series.p95_ms, PALETTE[1]),
        line("p99", x, series.p99_ms, PALETTE[3]),
      ],
      { title: { text: "ms" } },
    ],
    "chart-errors": [
      [line("errors", x, percent, cssVar("--danger", "#c2362b"))],
      { title: { text: "%" }, range: [0, 100] },
    ],
    "chart-replicas": [
      [line("replicas", x, series.replicas, PALETTE[2], { line: { shape: "hv", width: 2 } })],
      { title: { text: "replicas" }, dtick: 1 },
    ],
  };
}

// How many points of a chart carry data: what the browser tests (and curious people) read.
function pointsOf(traces) {
  return traces.reduce((n, t) => n + t.y.filter((v) => v !== null && v > 0).length, 0);
}

function number(value, unit = "") {
  if (value === null || value === undefined) return "—";
  return `${Number(value.toPrecision(4))}${unit}`;
}

function showSummary(summary) {
  const text = {
    requests_per_second: summary.requests_per_second.toFixed(2),
    p50_ms: number(summary.p50_ms, " ms"),
    p95_ms: number(summary.p95_ms, " ms"),
    p99_ms: number(summary.p99_ms, " ms"),
    error_rate: summary.error_rate === null ? "—" : `${(summary.error_rate * 100).toFixed(1)} %`,
    requests: summary.requests.toLocaleString("en"),
  };
  for (const [key, value] of Object.entries(text)) {
    const target = document.querySelector(`[data-summary="${key}"]`);
    if (target) target.textContent = value;
  }
}

async function drawCharts(config) {
  const metrics = await fetchJson(config.metrics);
  const series = { ...metrics.series, step: metrics.step_seconds };
  showSummary(metrics.summary);
  const traffic = series.requests_per_second.some((v) => v > 0);
  const empty = document.getElementById("charts-empty");
  if (empty) empty.hidden = traffic;
  const options = { displayModeBar: false, responsive: true };
  for (const [id, [traces, yaxis]] of Object.entries(figures(series, config.shadows))) {
    const target = document.getElementById(id);
    if (!target) continue;
    await window.Plotly.react(target, traces, layout(series, yaxis), options);
    target.dataset.drawn = "true";
    target.dataset.points = String(pointsOf(traces));
    target.dataset.traces = String(traces.length);
  }
}

function cell(text, className = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function showEndpoint(endpoint) {
  const status = document.querySelector('[data-live="status"] [data-testid="endpoint-status"]');
  if (status) {
    status.textContent = endpoint.status;
    status.className = `badge endpoint-${endpoint.status}`;
  }
  const body = document.querySelector('[data-live="replicas"]');
  if (!body) return;
  const rows = endpoint.replicas.map((r) => {
    const tr = document.createElement("tr");
    const id = cell("");
    const code = document.createElement("code");
    code.textContent = r.id;
    id.append(code);
    const state = cell("");
    state.append(badge(r.state, `badge replica-${r.state}`));
    tr.append(id, state, cell(r.pid ?? "—", "num"), cell(String(r.restarts), "num"),
      cell(String(r.inflight), "num"), cell(utc(r.started_at), "nowrap"));
    return tr;
  });
  body.replaceChildren(...rows);
  const table = body.closest("table");
  if (table) table.hidden = rows.length === 0;
  const none = document.querySelector('[data-testid="no-replicas"]');
  if (none) {
    none.hidden = rows.length > 0;
    if (!rows.length) {
      none.textContent = endpoint.state === "running" ? "Starting replicas…" : "Stopped: no replica runs.";
    }
  }
}

function utc(iso) {
  return `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function badge(text, className) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

// Starts, stops, restarts and scaling decisions, newest first, as the server renders them.
function showEvents(events) {
  const body = document.querySelector('[data-live="events"]');
  if (!body) return;
  const rows = events.items.slice(0, 20).map((e) => {
    const tr = document.createElement("tr");
    const kind = cell("");
    kind.append(badge(e.kind.replaceAll("_", " "), `badge event-${e.kind}`));
    const what = cell(e.message);
    what.append(document.createElement("br"), badge(utc(e.at), "muted"));
    tr.append(kind, cell(`${e.replicas_before} → ${e.replicas_after}`, "nowrap num"), what);
    return tr;
  });
  body.replaceChildren(...rows);
  body.closest("table").hidden = rows.length === 0;
  const none = document.querySelector('[data-testid="no-events"]');
  if (none) none.hidden = rows.length > 0;
}

function fail(message) {
  for (const id of ["chart-requests", "chart-latency", "chart-errors", "chart-replicas"]) {
    const target = document.getElementById(id);
    if (target && target.dataset.drawn !== "true") target.textContent = message;
  }
}

async function refresh(config) {
  if (!window.Plotly) {
    fail("Charts could not be drawn: Plotly.js did not load.");
    return;
  }
  // A failed status poll (a blip, a restart) just leaves the last one shown until the next.
  const [charts] = await Promise.allSettled([
    drawCharts(config),
    fetchJson(config.endpoint).then(showEndpoint),
    fetchJson(config.events).then(showEvents),
  ]);
  if (charts.status === "rejected") fail(`The figures could not be loaded (${charts.reason.message}).`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const source = document.getElementById("endpoint-charts");
if (source) {
  const config = JSON.parse(source.textContent);
  await refresh(config);
  for (;;) {
    await sleep(config.refresh_ms);
    if (!document.hidden) await refresh(config);
  }
}

// A run's output, followed while it runs: long-polls GET /api/v1/runs/{id}/logs from the byte
// offset read so far and appends what comes, until the run has ended and all is read.

const MAX_CHARS = 2_000_000; // the page keeps the last 2 MB; the full output stays on the server
const WAIT_SECONDS = 20;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function append(target, text) {
  if (!text) return;
  const atBottom = target.scrollTop + target.clientHeight >= target.scrollHeight - 4;
  let all = target.textContent + text;
  if (all.length > MAX_CHARS) {
    all = "[earlier output trimmed]\n" + all.slice(all.length - MAX_CHARS);
  }
  target.textContent = all;
  if (atBottom) target.scrollTop = target.scrollHeight;
}

async function follow(target, state) {
  const runId = target.dataset.runId;
  let offset = 0;
  let failures = 0;
  for (;;) {
    let response;
    try {
      response = await fetch(`/api/v1/runs/${runId}/logs?offset=${offset}&wait=${WAIT_SECONDS}`, {
        headers: { Accept: "application/json" },
      });
    } catch {
      failures += 1;
      state.textContent = "connection lost, retrying…";
      await sleep(Math.min(30_000, 1000 * 2 ** failures));
      continue;
    }
    if (response.status === 404) {
      target.closest("section").hidden = true; // no output kept for this run
      return;
    }
    if (!response.ok) {
      state.textContent = `the output could not be read (${response.status})`;
      return;
    }
    failures = 0;
    const chunk = await response.json();
    append(target, chunk.text);
    offset = chunk.offset;
    if (chunk.done) {
      state.textContent = `${chunk.status} · complete`;
      state.dataset.done = "true";
      if (target.textContent === "") target.textContent = "(no output)";
      return;
    }
    state.textContent = `${chunk.status} · following`;
  }
}

const target = document.getElementById("run-log");
const state = document.getElementById("log-state");
if (target && state) follow(target, state);

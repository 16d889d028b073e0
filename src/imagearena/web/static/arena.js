// Arena page: the round widget (round.js) over the study's matches, and the vote count under it. In a
// live study the next match is generated for a prompt the voter types (or draws): the round is started
// with POST data-live-url and followed through GET /api/v1/live/{job} until its match is ready.
import { startRound } from "/static/round.js";

const root = document.getElementById("arena");
const liveUrl = root && root.getAttribute("data-live-url");

function voterId() {
  try { return localStorage.getItem("imagearena-voter"); } catch (e) { return null; }
}

function getJson(url, options, fallback) {
  return fetch(url, options).then(
    (r) => r.json().catch(() => null).then((body) => {
      if (!r.ok) throw new Error((body && body.error && body.error.message) || fallback + " (HTTP " + r.status + ")");
      return body;
    }),
    () => { throw new Error(fallback + ": the server did not answer"); }
  );
}

// The live part: a prompt box whose Generate answers the widget's request for its next match.
function liveRounds() {
  const form = document.getElementById("live-form");
  const input = document.getElementById("live-prompt");
  const generate = document.getElementById("live-generate");
  const draw = document.getElementById("live-draw");
  const progress = document.getElementById("live-progress");
  const prompt = document.getElementById("prompt");
  let waiting = null; // the widget's request for a match, while it waits for a prompt
  let asked = null; // a prompt sent while the widget was showing a round: used at its next request
  let retry = null; // the prompt of a round that failed: "Try again" makes it again
  let running = false;
  let widget = null;

  function enable() {
    const state = root.getAttribute("data-state");
    const free = !running && (waiting !== null || ["ready", "voted", "error"].includes(state));
    generate.disabled = !free;
    draw.disabled = !free;
  }

  function say(text) {
    progress.textContent = text;
    progress.hidden = !text;
  }

  function describe(job) {
    const ready = job.images.filter((s) => s === "done").length;
    return "Generating: " + ready + " of " + job.images.length + " images ready (" + job.elapsed_s.toFixed(1) + " s)";
  }

  function follow(job) {
    say(describe(job));
    if (job.state === "ready") return job.match;
    if (job.state === "failed") throw new Error(job.error || "this round could not be made");
    const url = "/api/v1/live/" + encodeURIComponent(job.job) + "?wait=10&seen=" + job.version;
    return getJson(url, {}, "the round's progress did not load").then(follow);
  }

  function run(ask) {
    running = true;
    enable();
    prompt.textContent = ask.prompt || "Drawing a prompt…";
    const body = { prompt: ask.prompt || null };
    const voter = voterId();
    if (voter) body.voter = voter;
    say("Starting…");
    return getJson(liveUrl, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }, "the round could not be started")
      .then((job) => { prompt.textContent = job.prompt; return follow(job); })
      .then((match) => {
        retry = null;
        say("");
        if (document.activeElement === input) input.blur(); // the round's keys work at once
        return match;
      },
        (err) => { retry = ask; say(""); throw err; })
      .finally(() => { running = false; enable(); });
  }

  function fetchMatch() {
    const ask = asked || retry;
    asked = null;
    if (ask) return run(ask);
    return new Promise((resolve) => {
      waiting = resolve;
      prompt.textContent = "Type a prompt and press Generate: each image is made for you now.";
      enable();
      input.focus();
    }).then(run);
  }

  function submit(ask) {
    if (generate.disabled) return;
    retry = null;
    if (waiting) {
      const answer = waiting;
      waiting = null;
      answer(ask);
    } else {
      asked = ask;
      widget.reload();
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) { input.focus(); say("Type a prompt first, or draw one."); return; }
    submit({ prompt: text });
  });
  draw.addEventListener("click", () => submit({ prompt: "" }));
  new MutationObserver(enable).observe(root, { attributes: true, attributeFilter: ["data-state"] });
  return {
    fetchMatch,
    attach(w) { widget = w; }
  };
}

if (root) {
  const count = document.getElementById("vote-count");
  const live = liveUrl ? liveRounds() : null;
  const widget = startRound(root, {
    fetchMatch: live ? live.fetchMatch : undefined,
    decided(answer, step) {
      const n = Math.max(0, (parseInt(count.getAttribute("data-count"), 10) || 0) + step);
      count.setAttribute("data-count", String(n));
      count.textContent = n + (n === 1 ? " vote" : " votes") + " so far in this study.";
    }
  });
  if (live) live.attach(widget);
}

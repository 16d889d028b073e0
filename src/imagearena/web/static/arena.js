// Arena page: fetch a match, vote with buttons or keys, reveal the models, then the next match.
// The page is in one state at a time (data-state on #arena); setState alone decides which buttons
// show and which are live, so no button is ever shown that would do nothing.
//   loading -> ready -> voting -> voted -> loading ...; a failed match load -> error (retry);
//   a failed vote -> ready again with the message; empty (rendered by the server) never changes.
(function () {
  "use strict";
  var root = document.getElementById("arena");
  if (!root) return;
  var study = root.getAttribute("data-study");
  var el = function (id) { return document.getElementById(id); };
  var buttons = el("vote-buttons"), result = el("result"), status = el("status"), retryBox = el("retry-box");
  var voteButtons = Array.prototype.slice.call(buttons.querySelectorAll("button"));
  var state = root.getAttribute("data-state") || "loading";
  var token = null;
  var voter = null;
  try {
    voter = localStorage.getItem("imagearena-voter");
    if (!voter) {
      voter = Math.random().toString(36).slice(2) + Date.now().toString(36);
      localStorage.setItem("imagearena-voter", voter);
    }
  } catch (e) { voter = null; }

  function setState(next) {
    state = next;
    root.setAttribute("data-state", next);
    voteButtons.forEach(function (b) { b.disabled = next !== "ready"; });
    buttons.hidden = next === "voted";
    result.hidden = next !== "voted";
    retryBox.hidden = next !== "error";
  }

  function setStatus(text, isError) {
    status.textContent = text || "";
    status.className = "status" + (isError ? " error" : "");
  }

  // Any answer outside 2xx is an error; its message comes from the JSON error body when there is one.
  function request(url, options, fallback) {
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) {
          var message = (body && body.error && body.error.message) || fallback + " (HTTP " + r.status + ")";
          throw new Error(message);
        }
        return body;
      });
    }, function () { throw new Error(fallback + ": the server did not answer"); });
  }

  function loadImage(img, url) {
    return new Promise(function (resolve, reject) {
      img.onload = function () { resolve(); };
      img.onerror = function () { reject(new Error("an image of this match did not load")); };
      img.src = url;
    });
  }

  function nextMatch() {
    if (state === "ready" || state === "voted" || state === "error") loadMatch();
  }

  function loadMatch() {
    token = null;
    setState("loading");
    el("name-left").hidden = el("name-right").hidden = true;
    el("side-left").className = el("side-right").className = "side";
    setStatus("");
    request("/api/v1/studies/" + encodeURIComponent(study) + "/matches", { method: "POST" }, "could not load a match")
      .then(function (body) {
        el("prompt").textContent = body.prompt;
        return Promise.all([loadImage(el("img-left"), body.left.image_url),
                            loadImage(el("img-right"), body.right.image_url)]).then(function () {
          token = body.token;
          setState("ready");
        });
      })
      .catch(function (err) {
        el("prompt").textContent = "No match to show.";
        setStatus(err.message, true);
        setState("error");
      });
  }

  var verdicts = { model_a: "Left wins", model_b: "Right wins", tie: "Tie", both_bad: "Both bad" };

  function countVote() {
    var count = el("vote-count");
    var n = (parseInt(count.getAttribute("data-count"), 10) || 0) + 1;
    count.setAttribute("data-count", String(n));
    count.textContent = n + (n === 1 ? " vote" : " votes") + " so far in this study.";
  }

  function vote(winner) {
    if (state !== "ready" || !token) return;
    setState("voting");
    setStatus("");
    var payload = { token: token, winner: winner };
    if (voter) payload.voter = voter;
    request("/api/v1/votes", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    }, "the vote was not recorded")
      .then(function (body) {
        el("name-left").textContent = body.model_a;
        el("name-right").textContent = body.model_b;
        el("name-left").hidden = el("name-right").hidden = false;
        if (winner === "model_a") el("side-left").className = "side winner";
        if (winner === "model_b") el("side-right").className = "side winner";
        el("result-text").textContent = verdicts[winner] + ": left was " + body.model_a + ", right was " + body.model_b + ".";
        countVote();
        setState("voted");
        el("next").focus();
      })
      .catch(function (err) {
        setStatus(err.message, true);
        setState("ready");
      });
  }

  buttons.addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b || b.disabled) return;
    if (b.id === "skip") { nextMatch(); return; }
    var w = b.getAttribute("data-winner");
    if (w) vote(w);
  });
  el("next").addEventListener("click", nextMatch);
  el("retry").addEventListener("click", nextMatch);

  var keys = {
    a: "model_a", arrowleft: "model_a", "1": "model_a",
    b: "model_b", arrowright: "model_b", "2": "model_b",
    t: "tie", arrowup: "tie", "3": "tie",
    x: "both_bad", arrowdown: "both_bad", "4": "both_bad"
  };
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    var k = ev.key.toLowerCase();
    if (state === "voted" || state === "error") {
      if (k === "n" || k === "enter" || k === " ") { ev.preventDefault(); nextMatch(); }
      return;
    }
    if (state !== "ready") return;
    if (k === "s") { ev.preventDefault(); nextMatch(); return; }
    if (keys[k]) { ev.preventDefault(); vote(keys[k]); }
  });

  if (state === "empty") setState("empty");
  else loadMatch();
})();

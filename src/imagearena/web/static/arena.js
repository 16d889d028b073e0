// Arena page: fetch a match, vote with buttons or keys, reveal the models, then the next match.
(function () {
  "use strict";
  var root = document.getElementById("arena");
  if (!root) return;
  var study = root.getAttribute("data-study");
  var el = function (id) { return document.getElementById(id); };
  var buttons = el("vote-buttons"), result = el("result"), status = el("status");
  var token = null, busy = false, voted = false;
  var voter = null;
  try {
    voter = localStorage.getItem("imagearena-voter");
    if (!voter) {
      voter = Math.random().toString(36).slice(2) + Date.now().toString(36);
      localStorage.setItem("imagearena-voter", voter);
    }
  } catch (e) { voter = null; }

  function setStatus(text, isError) {
    status.textContent = text || "";
    status.className = "status" + (isError ? " error" : "");
  }

  function errorText(body, fallback) {
    return (body && body.error && body.error.message) || fallback;
  }

  function loadImage(img, url) {
    return new Promise(function (resolve) {
      img.onload = img.onerror = function () { resolve(); };
      img.src = url;
    });
  }

  function nextMatch() {
    if (busy) return;
    busy = true; voted = false; token = null;
    root.setAttribute("data-state", "loading");
    result.hidden = true; buttons.hidden = false;
    el("name-left").hidden = el("name-right").hidden = true;
    el("side-left").className = el("side-right").className = "side";
    setStatus("");
    fetch("/api/v1/studies/" + encodeURIComponent(study) + "/matches", { method: "POST" })
      .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
      .then(function (rb) {
        var r = rb[0], body = rb[1];
        if (!r.ok) throw new Error(errorText(body, "could not load a match"));
        el("prompt").textContent = body.prompt;
        return Promise.all([loadImage(el("img-left"), body.left.image_url),
                            loadImage(el("img-right"), body.right.image_url)]).then(function () {
          token = body.token;
          root.setAttribute("data-state", "ready");
        });
      })
      .catch(function (err) { setStatus(err.message, true); root.setAttribute("data-state", "error"); })
      .then(function () { busy = false; });
  }

  var verdicts = { model_a: "Left wins", model_b: "Right wins", tie: "Tie", both_bad: "Both bad" };

  function vote(winner) {
    if (busy || voted || !token) return;
    busy = true;
    var payload = { token: token, winner: winner };
    if (voter) payload.voter = voter;
    fetch("/api/v1/votes", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    })
      .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
      .then(function (rb) {
        var r = rb[0], body = rb[1];
        if (r.status !== 201) throw new Error(errorText(body, "the vote was not recorded"));
        voted = true;
        el("name-left").textContent = body.model_a;
        el("name-right").textContent = body.model_b;
        el("name-left").hidden = el("name-right").hidden = false;
        if (winner === "model_a") el("side-left").className = "side winner";
        if (winner === "model_b") el("side-right").className = "side winner";
        el("result-text").textContent = verdicts[winner] + ": left was " + body.model_a + ", right was " + body.model_b + ".";
        buttons.hidden = true; result.hidden = false;
        root.setAttribute("data-state", "voted");
        el("next").focus();
      })
      .catch(function (err) { setStatus(err.message, true); })
      .then(function () { busy = false; });
  }

  buttons.addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.id === "skip") { nextMatch(); return; }
    var w = b.getAttribute("data-winner");
    if (w) vote(w);
  });
  el("next").addEventListener("click", nextMatch);

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
    if (voted) {
      if (k === "n" || k === "enter" || k === " ") { ev.preventDefault(); nextMatch(); }
      return;
    }
    if (k === "s") { ev.preventDefault(); nextMatch(); return; }
    if (keys[k]) { ev.preventDefault(); vote(keys[k]); }
  });

  nextMatch();
})();

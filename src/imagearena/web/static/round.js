// One round of voting, shared by the arena and the folder ranker pages: fetch a match of two or four
// images, take the decision by mouse or keys, send it, reveal the names, then the next round; undo the
// last decision; a large view of any image.
//
// The page is in one state at a time (data-state on the root); refresh() alone decides which controls
// show and which are live, so no control is ever shown that would do nothing:
//   loading -> ready -> voting -> voted -> loading ...; a failed load -> error (retry); a failed vote ->
//   ready again with the message; undo -> undoing -> ready (the undone round again); empty never changes.
// The template (_round.html) declares the controls: data-action names what one does, data-keys its keys,
// data-winner (a vote button) or data-outcome (a pair's image) the outcome a pair control sends. This
// file spells no outcome and no round type.

const READY = "ready";

function voterId() {
  try {
    let voter = localStorage.getItem("imagearena-voter");
    if (!voter) {
      voter = Math.random().toString(36).slice(2) + Date.now().toString(36);
      localStorage.setItem("imagearena-voter", voter);
    }
    return voter;
  } catch (e) {
    return null;
  }
}

// Any answer outside 2xx is an error; its message comes from the JSON error body when there is one.
function request(url, options, fallback) {
  return fetch(url, options).then(
    (r) => r.json().catch(() => null).then((body) => {
      if (!r.ok) {
        const message = (body && body.error && body.error.message) || fallback + " (HTTP " + r.status + ")";
        throw new Error(message);
      }
      return body;
    }),
    () => { throw new Error(fallback + ": the server did not answer"); }
  );
}

function postJson(url, payload, fallback) {
  return request(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
  }, fallback);
}

function loadImage(img, url) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("an image of this round did not load"));
    img.src = url;
  });
}

// The key a keydown names in data-keys: lower case, the space bar as "space".
function keyName(ev) {
  return ev.key === " " ? "space" : ev.key.toLowerCase();
}

function shown(el) {
  return !el.disabled && el.closest("[hidden]") === null;
}

/**
 * Start the round widget inside `root` (the element holding the template's controls).
 * root's data: study (its name); match-url, vote-url and undo-url (the JSON API's by default); pick
 * (what choosing an image does: "winner" sends the image's outcome, "best" sends it as the best of four,
 * "order" adds it to the order best to worst); outcomes (a JSON map of outcome -> label); state
 * ("empty" when there is nothing to vote on).
 * hooks.decided(answer, +1 | -1) is called after each recorded vote (+1) and undo (-1); hooks.fetchMatch(),
 * when given, is how the next match is got (a Promise of a match answer; a live study generates it).
 */
export function startRound(root, hooks = {}) {
  const study = root.getAttribute("data-study");
  const urls = {
    match: root.getAttribute("data-match-url") || "/api/v1/studies/" + encodeURIComponent(study) + "/matches",
    vote: root.getAttribute("data-vote-url") || "/api/v1/votes",
    undo: root.getAttribute("data-undo-url") || "/api/v1/undo"
  };
  const pick = root.getAttribute("data-pick");
  const labels = JSON.parse(root.getAttribute("data-outcomes") || "{}");
  const $ = (id) => document.getElementById(id);
  const slots = Array.from(root.querySelectorAll("[data-slot]")).map((figure) => ({
    figure,
    img: figure.querySelector("img"),
    badge: figure.querySelector(".badge"),
    name: figure.querySelector(".reveal"),
    note: figure.querySelector(".image-prompt"),
    pick: figure.querySelector('[data-action="pick"]')
  }));
  slots.forEach((s) => { s.label = s.pick.getAttribute("aria-label") || ""; });
  const controls = Array.from(root.querySelectorAll("[data-action]"));
  const voteButtons = $("vote-buttons"), result = $("result"), status = $("status");
  const viewer = $("viewer"), undoButton = $("undo"), tiePrev = $("tie-prev"), submit = $("submit");
  const voter = voterId();

  let state = root.getAttribute("data-state") || "loading";
  let token = null; // the match on screen
  let lastToken = null; // the last decision, while it can be undone
  let choices = []; // order rounds: [{index, rank}] best first
  let tieNext = false; // order rounds: the next choice shares the last one's rank
  let viewing = 0; // the slot in the large view

  const chosen = (i) => choices.some((c) => c.index === i);

  // Whether a control does something in the current state.
  function live(el) {
    const action = el.getAttribute("data-action");
    const ready = state === READY && token !== null;
    switch (action) {
      case "pick": return ready && !(pick === "order" && chosen(Number(el.getAttribute("data-index"))));
      case "zoom": return slots.every((s) => s.img.getAttribute("src") !== "data:,") && state !== "empty";
      case "vote": case "none-best": case "skip": return ready;
      case "tie-prev": return ready && choices.length > 0 && choices.length < slots.length;
      case "back": return ready && choices.length > 0;
      case "submit": return ready && choices.length === slots.length;
      case "next": return state === "voted";
      case "undo": return lastToken !== null && (state === READY || state === "voted" || state === "error");
      case "retry": return state === "error";
      default: return false;
    }
  }

  function refresh() {
    root.setAttribute("data-state", state);
    controls.forEach((el) => { el.disabled = !live(el); });
    voteButtons.hidden = state === "voted";
    result.hidden = state !== "voted";
    $("retry-box").hidden = state !== "error";
    undoButton.hidden = lastToken === null || state === "empty";
    if (tiePrev) tiePrev.setAttribute("aria-pressed", tieNext ? "true" : "false");
    if (pick === "order" && state !== "voted") { // a vote's ranks are shown by reveal()
      slots.forEach((s, i) => {
        const c = choices.find((x) => x.index === i);
        s.badge.hidden = !c;
        s.badge.textContent = c ? String(c.rank) : "";
        s.figure.classList.toggle("chosen", !!c);
        s.pick.setAttribute("aria-label", c ? s.label + ", ranked " + c.rank : s.label);
      });
    }
  }

  function setState(next) {
    state = next;
    refresh();
  }

  function setStatus(text, isError) {
    status.textContent = text || "";
    status.className = "status" + (isError ? " error" : "");
  }

  function clearRound() {
    token = null;
    choices = [];
    tieNext = false;
    slots.forEach((s) => {
      s.name.hidden = true;
      s.name.textContent = "";
      s.badge.hidden = true;
      s.figure.className = "side";
    });
  }

  // Show a match answer: its prompt and images, in display order; ready once every image has loaded.
  function show(match) {
    const images = match.images || [match.left, match.right];
    $("prompt").textContent = match.prompt;
    if (images.length !== slots.length) {
      return Promise.reject(new Error("this page shows " + slots.length + " images a round and the server sent "
        + images.length + ": reload the page"));
    }
    slots.forEach((s, i) => { // an image's own prompt, where the study knows one (a folder's sidecar...)
      if (!s.note) return;
      s.note.textContent = images[i].prompt || "";
      s.note.title = images[i].prompt || "";
      s.note.hidden = !images[i].prompt;
    });
    return Promise.all(slots.map((s, i) => loadImage(s.img, images[i].image_url))).then(() => {
      token = match.token;
      setState(READY);
    });
  }

  function failed(err) {
    $("prompt").textContent = "No match to show.";
    setStatus(err.message, true);
    setState("error");
  }

  function loadMatch() {
    clearRound();
    setState("loading");
    setStatus("");
    (hooks.fetchMatch ? hooks.fetchMatch() : request(urls.match, { method: "POST" }, "could not load a match"))
      .then(show)
      .catch(failed);
  }

  function nextMatch() {
    if (state === READY || state === "voted" || state === "error") loadMatch();
  }

  function reveal(answer, decision) {
    const names = answer.models || [answer.model_a, answer.model_b];
    slots.forEach((s, i) => {
      s.name.textContent = names[i];
      s.name.hidden = false;
    });
    if (decision.winner) {
      const winning = slots.find((s) => s.pick.getAttribute("data-outcome") === decision.winner);
      if (winning) winning.figure.className = "side winner";
      $("result-text").textContent = (labels[decision.winner] || decision.winner) + ": left was " + names[0]
        + ", right was " + names[1] + ".";
      return;
    }
    const ranks = answer.ranks || decision.ranks;
    const top = Math.min.apply(null, ranks);
    slots.forEach((s, i) => {
      s.badge.textContent = String(ranks[i]);
      s.badge.hidden = pick !== "order" && ranks[i] !== top;
      s.figure.className = ranks[i] === top && ranks.some((r) => r !== top) ? "side winner" : "side";
    });
    if (ranks.every((r) => r === top)) {
      $("result-text").textContent = (pick === "best" ? "No clear best: " : "All tied: ") + names.join(", ") + ".";
    } else if (pick === "best") {
      $("result-text").textContent = "Best: " + names[ranks.indexOf(top)] + ".";
    } else {
      const order = names.map((n, i) => ({ n, r: ranks[i], i })).sort((a, b) => a.r - b.r || a.i - b.i);
      $("result-text").textContent = order.map((o) => o.r + ". " + o.n).join("\n");
    }
  }

  function send(decision) {
    if (state !== READY || !token) return;
    const sent = token;
    setState("voting");
    setStatus("");
    const payload = Object.assign({ token: sent }, decision);
    if (voter) payload.voter = voter;
    postJson(urls.vote, payload, "the vote was not recorded")
      .then((answer) => {
        lastToken = sent;
        reveal(answer, decision);
        if (hooks.decided) hooks.decided(answer, 1);
        setState("voted");
        $("next").focus();
      })
      .catch((err) => {
        setStatus(err.message, true);
        setState(READY);
      });
  }

  function undo() {
    if (!live(undoButton)) return;
    const before = state;
    setState("undoing");
    setStatus("");
    const payload = { token: lastToken };
    if (voter) payload.voter = voter;
    postJson(urls.undo, payload, "the decision was not undone")
      .then((answer) => {
        lastToken = null;
        if (hooks.decided) hooks.decided(answer, -1);
        clearRound();
        setStatus("Undone: decide this round again.");
        return show(answer.match).catch(failed);
      })
      .catch((err) => {
        setStatus(err.message, true);
        setState(before);
      });
  }

  function choose(i) {
    const el = slots[i].pick;
    if (!live(el)) return;
    if (pick === "winner") {
      send({ winner: el.getAttribute("data-outcome") });
    } else if (pick === "best") {
      send({ ranks: slots.map((_, j) => (j === i ? 1 : 2)) });
    } else {
      const last = choices[choices.length - 1];
      choices.push({ index: i, rank: tieNext && last ? last.rank : choices.length + 1 });
      tieNext = false;
      refresh();
      if (choices.length === slots.length) submit.focus();
    }
  }

  // --- the large view ------------------------------------------------------------------------------
  function openViewer(i) {
    if (!live(slots[i].figure.querySelector('[data-action="zoom"]'))) return;
    viewing = (i + slots.length) % slots.length;
    const s = slots[viewing];
    $("viewer-img").setAttribute("src", s.img.getAttribute("src"));
    $("viewer-img").alt = s.img.alt;
    const caption = s.figure.querySelector("figcaption").cloneNode(true);
    caption.querySelectorAll(".key, [hidden]").forEach((k) => k.remove());
    $("viewer-caption").textContent = caption.textContent.replace(/\s+/g, " ").trim();
    if (!viewer.open) viewer.showModal();
    root.setAttribute("data-viewer", String(viewing));
  }

  function closeViewer() {
    if (viewer.open) viewer.close();
  }

  viewer.addEventListener("close", () => root.removeAttribute("data-viewer"));
  viewer.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (b && b.hasAttribute("data-view")) openViewer(viewing + Number(b.getAttribute("data-view")));
    else if (!b || b.id === "viewer-close") closeViewer(); // a click on the image or around it closes
  });

  // --- controls and keys ---------------------------------------------------------------------------
  function act(el) {
    if (!live(el)) return;
    const index = Number(el.getAttribute("data-index"));
    switch (el.getAttribute("data-action")) {
      case "pick": choose(index); break;
      case "zoom": openViewer(index); break;
      case "vote": send({ winner: el.getAttribute("data-winner") }); break;
      case "none-best": send({ ranks: slots.map(() => 1) }); break;
      case "tie-prev": tieNext = !tieNext; refresh(); break;
      case "back": choices.pop(); tieNext = false; refresh(); break;
      case "submit": {
        const ranks = slots.map(() => 0);
        choices.forEach((c) => { ranks[c.index] = c.rank; });
        send({ ranks });
        break;
      }
      case "skip": case "next": case "retry": nextMatch(); break;
      case "undo": undo(); break;
    }
  }

  root.addEventListener("click", (ev) => {
    const el = ev.target.closest("[data-action]");
    if (el && root.contains(el)) act(el);
  });

  const keyed = {};
  controls.forEach((el) => {
    (el.getAttribute("data-keys") || "").split(/\s+/).filter(Boolean).forEach((k) => {
      (keyed[k] = keyed[k] || []).push(el);
    });
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    const k = keyName(ev);
    const digit = /^Digit([1-9])$/.exec(ev.code || "");
    if (ev.shiftKey && digit && Number(digit[1]) <= slots.length) {
      ev.preventDefault();
      openViewer(Number(digit[1]) - 1);
      return;
    }
    if (viewer.open) { // the large view takes the keys; Esc closes it (the dialog's own key)
      if (k === "v") { ev.preventDefault(); closeViewer(); }
      else if (k === "arrowleft" || k === "arrowright") {
        ev.preventDefault();
        openViewer(viewing + (k === "arrowleft" ? -1 : 1));
      }
      return;
    }
    if (k === "v") {
      const focused = slots.findIndex((s) => s.figure.contains(document.activeElement));
      ev.preventDefault();
      openViewer(Math.max(focused, 0));
      return;
    }
    const focused = document.activeElement;
    if ((k === "enter" || k === "space") && focused && focused.matches("button, a[href]")) return; // its own
    const target = (keyed[k] || []).find((el) => live(el) && shown(el));
    if (!target) return; // not ours now: the browser's own meaning (Enter on a focused button...)
    ev.preventDefault();
    act(target);
  });

  if (state === "empty") refresh();
  else loadMatch();
  return { reload: loadMatch };
}

// Folder ranker page: the round widget (round.js) over the folder study's rounds, and the progress line
// under it, read again from the folder's API after each decision and undo.
import { startRound } from "/static/round.js";

const root = document.getElementById("ranker");
if (root) {
  const progress = document.getElementById("progress");

  // A field marked data-format="percent" (confidence) arrives as a share (0..1) and shows as a
  // percentage, 0 and 1 included (JSON gives them as integers); counts show as they are.
  function show(numbers) {
    progress.querySelectorAll("[data-field]").forEach((item) => {
      const value = numbers[item.getAttribute("data-field")];
      if (value === undefined || value === null) return;
      const percent = item.getAttribute("data-format") === "percent" && typeof value === "number";
      const shown = percent ? Math.round(value * 100) + "%" : String(value);
      item.querySelector("strong").textContent = shown;
      item.hidden = false;
    });
  }

  function update() {
    fetch(root.getAttribute("data-progress-url"))
      .then((r) => (r.ok ? r.json() : null))
      .then((numbers) => { if (numbers) show(numbers); })
      .catch(() => {}); // the next decision tries again; the round itself is unaffected
  }

  startRound(root, { decided: update });
}

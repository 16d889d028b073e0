// Arena page: the round widget (round.js) over the study's matches, and the vote count under it.
import { startRound } from "/static/round.js";

const root = document.getElementById("arena");
if (root) {
  const count = document.getElementById("vote-count");
  startRound(root, {
    decided(answer, step) {
      const n = Math.max(0, (parseInt(count.getAttribute("data-count"), 10) || 0) + step);
      count.setAttribute("data-count", String(n));
      count.textContent = n + (n === 1 ? " vote" : " votes") + " so far in this study.";
    }
  });
}

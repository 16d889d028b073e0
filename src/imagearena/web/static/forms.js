// Forms that change a lot at once (reset) ask first: data-confirm holds the question.
// A script file, not an onsubmit attribute, so the Content-Security-Policy can refuse inline code.
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) ev.preventDefault();
  });
})();

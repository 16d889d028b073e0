// Study picker: switch to the same page of another study.
(function () {
  "use strict";
  var picker = document.getElementById("study-picker");
  if (!picker) return;
  picker.addEventListener("change", function () {
    var page = picker.getAttribute("data-page") || "arena";
    window.location.href = "/" + page + "/" + encodeURIComponent(picker.value);
  });
})();

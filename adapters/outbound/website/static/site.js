// Optional: remembers the large-text choice across pages. Every page works without it.
(function () {
  "use strict";
  var KEY = "bc-large-text";
  var root = document.documentElement;
  try {
    if (window.localStorage.getItem(KEY) === "1") { root.classList.add("large"); }
  } catch (e) { /* storage may be disabled: the #large link still works */ }
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a[data-textsize]") : null;
    if (!a) { return; }
    var large = a.getAttribute("data-textsize") === "large";
    root.classList.toggle("large", large);
    try { window.localStorage.setItem(KEY, large ? "1" : "0"); } catch (e) { /* ignore */ }
  });
})();

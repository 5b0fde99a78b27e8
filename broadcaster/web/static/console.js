// Live updates without reloading by hand. The pages work without this script: each has a
// refresh link; this only saves the officer a click.
(function () {
  "use strict";
  var holder = document.querySelector("[data-live]");
  if (!holder || !window.EventSource) { return; }
  var source = new EventSource(holder.getAttribute("data-live"));
  var busy = false;
  source.addEventListener("change", function () {
    if (holder.getAttribute("data-reload") === "page") { window.location.reload(); return; }
    var url = holder.getAttribute("data-fragment");
    if (!url || busy) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { holder.innerHTML = html; } })
      .finally(function () { busy = false; });
  });
})();

// Live updates without reloading by hand. The pages work without this script: each has a
// refresh link; this only saves the officer a click.
(function () {
  "use strict";
  // A form that sends something is sent once: a double click does not make two requests (the
  // server refuses a second cancel anyway; this spares the officer the refusal page).
  document.querySelectorAll("form.cancel, form.confirm-cancel, form.approve, form.reject, form.withdraw, form.send").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (form.getAttribute("data-sent") === "1") { e.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
    });
  });
  // Enter in a one-line field of the compose form sends nothing: it used to press the first
  // button, which put the template's text over what the officer had typed.
  document.querySelectorAll("form.compose input").forEach(function (input) {
    if (input.type === "checkbox" || input.type === "radio" || input.type === "hidden") { return; }
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); }
    });
  });
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
      .then(function (html) {
        if (html === null) { return; }
        var box = document.createElement("div");
        box.innerHTML = html;
        var table = box.querySelector("[data-standing]");
        var was = holder.getAttribute("data-standing");
        // Approved, cancelled, corrected, withdrawn elsewhere: the actions on this page changed,
        // so the whole page is drawn again rather than leaving a button that no longer applies.
        if (table && was !== null && table.getAttribute("data-standing") !== was) {
          window.location.reload();
          return;
        }
        holder.innerHTML = html;
      })
      .finally(function () { busy = false; });
  });
})();

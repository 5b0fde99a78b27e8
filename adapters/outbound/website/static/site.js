// Optional: remembers the large-text choice across pages, and keeps an open page current. Every
// page works without it: reloading shows the same as what this does by itself.
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

  // Live: the server says when the town's site was published again (a new alert, a cancel, an
  // update); the page fetches itself and, if what it says changed, shows the new text in place
  // with a line saying so. Nothing is sent but the page's own address, as a reload would.
  var live = document.getElementById("live");
  if (!live || !live.getAttribute("data-live") || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var url = new URL(live.getAttribute("data-live"), window.location.href).href;
  var release = null;  // the release the page was last checked against
  var busy = false;
  var again = false;

  function refresh(at) {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.pathname + window.location.search, { cache: "no-store" })
      .then(function (r) { return r.status < 500 ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main || fresh.innerHTML === main.innerHTML) { return; }
        main.replaceChildren.apply(main, Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true); }));
        if (doc.title) { document.title = doc.title; }
        // The time the server saw the change, as the town's clock shows it (the stream's times
        // are ISO 8601 with the zone, +09:00).
        var hhmm = typeof at === "string" ? at.slice(11, 16) : "";
        // The words are the page's own language's (the site's word table), with the time in them.
        var said = live.getAttribute("data-said") || "";
        live.textContent = said.replace("{time}", hhmm);
      })
      .catch(function () { /* offline for a moment: the next event tries again */ })
      .finally(function () {
        busy = false;
        if (again) { again = false; refresh(at); }
      });
  }

  function onRelease(e) {
    var data = {};
    try { data = JSON.parse(e.data); } catch (err) { return; }
    if (typeof data.state !== "string") { return; }
    var was = release;
    release = data.state;
    live.setAttribute("data-release", release);
    // A later hello (after a reconnect) or a change may follow a publish the page has not seen.
    // The first hello says how old the release is: made after the page was requested (or a
    // moment before, while it was on its way), it may be newer than the page.
    var age = parseFloat(data.age);
    var fresh = was === null && !isNaN(age) && age * 1000 < performance.now() + 2000;
    if ((was !== null && was !== release) || fresh) { refresh(data.at); }
  }

  var refused = 0;  // refusals in a row, without a hello between

  function connect() {
    var source = new EventSource(url);
    source.addEventListener("hello", function (e) { refused = 0; onRelease(e); });
    source.addEventListener("change", onRelease);
    source.addEventListener("error", function () {
      // A dropped connection is retried by the browser; a refusal (the server busy, 503) closes
      // the stream, so try again later, spread out so that a crowd does not come back at once.
      // Where nothing serves the stream (a CMS that does not forward it), stop asking.
      if (source.readyState === EventSource.CLOSED && ++refused < 5) {
        window.setTimeout(connect, 30000 + Math.floor(Math.random() * 30000));
      }
    });
  }
  connect();
})();

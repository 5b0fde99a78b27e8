// The leader's circular page follows the circular while it is open: cancelled or updated by the
// town, the page says so and stops asking for 確認しました and the reply, without a reload. The
// page works without this script (it is right on the next reload); this only spares the leader
// an answer to a circular that no longer stands.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var first = document.getElementById("live");
  if (!first || !first.getAttribute("data-live")) { return; }
  var url = first.getAttribute("data-live");
  var source = null;
  var busy = false;

  function shown() {
    var holder = document.getElementById("live");
    return holder ? holder.getAttribute("data-state") : null;
  }

  // The page as the server draws it now, put in place of the open one. Any answer with a page in
  // it will do: a link revoked meanwhile answers 410 with what to do, which is what to show.
  function redraw(after) {
    if (busy) { return; }
    busy = true;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.status < 500 ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main) { return; }
        main.replaceChildren.apply(main, Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true); }));
        if (doc.title) { document.title = doc.title; }
        // Screen readers hear the new notice (it is role=alert); focus goes to the top of it.
        var notice = main.querySelector("[role=alert]");
        if (notice) { notice.setAttribute("tabindex", "-1"); notice.focus(); }
        if (after) { after(); }
      })
      .catch(function () { /* the network is down: the page stays, the stream retries */ })
      .finally(function () { busy = false; });
  }

  function onState(e) {
    var data = {};
    try { data = JSON.parse(e.data); } catch (err) { return; }
    // What the stream last said, for a person debugging the page (and the browser tests).
    document.documentElement.setAttribute("data-live-state", String(data.state));
    if (data.state && data.state !== shown()) { redraw(); }
  }

  var refused = 0;  // refusals in a row, without a hello between

  function connect() {
    source = new EventSource(url);
    // A change while we were disconnected shows in the hello.
    source.addEventListener("hello", function (e) { refused = 0; onState(e); });
    source.addEventListener("change", onState);
    source.addEventListener("gone", function () { source.close(); redraw(); });
    source.addEventListener("error", function () {
      // EventSource retries a dropped connection by itself; a refusal (429, 503) closes it for
      // good, so come back later, at a pace that does not add to a crowd.
      if (source.readyState === EventSource.CLOSED && ++refused < 5) {
        window.setTimeout(connect, 30000 + Math.floor(Math.random() * 30000));
      }
    });
  }
  connect();
})();

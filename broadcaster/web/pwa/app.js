// The residents' app: current alerts (offline too, through the service worker) and push sign-up.
// Every text from the server is put in with textContent, never as HTML.
(function () {
  "use strict";
  var body = document.body;
  var cfg = {
    tenant: body.getAttribute("data-tenant"),
    vapid: body.getAttribute("data-vapid"),
    alerts: body.getAttribute("data-alerts"),
    site: body.getAttribute("data-site")
  };
  var KEY = "bc-app-" + cfg.tenant;
  // The page's own words, in the language the server wrote it in (broadcaster/web/pwa_text.py).
  var LANG = body.getAttribute("data-lang") || "ja";
  // The town's clock (tenants.time_zone): its times in its zone, as on its site.
  var ZONE = body.getAttribute("data-zone") || "Asia/Tokyo";
  var W = {};
  try { W = JSON.parse(body.getAttribute("data-words") || "{}"); } catch (e) { W = {}; }
  function w(key) { return W[key] || key; }
  var JA = LANG.indexOf("ja") === 0;
  var $ = function (id) { return document.getElementById(id); };

  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "{}"); } catch (e) { return {}; }
  }
  function save(prefs) {
    try { window.localStorage.setItem(KEY, JSON.stringify(prefs)); } catch (e) { /* private mode */ }
  }
  function say(text) { $("status").textContent = text; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    var ja = LANG.indexOf("ja") === 0;
    var tokyo = ZONE === "Asia/Tokyo";
    var options = { timeZone: ZONE, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" };
    // The zone is said as on the site: outside Japanese always (JST, which browsers call GMT+9),
    // in Japanese only when the town's clock is not Japan's.
    if (!tokyo) { options.timeZoneName = "short"; }
    var text = d.toLocaleString(ja ? "ja-JP" : LANG, options);
    return tokyo && !ja ? text + " JST" : text;
  }

  // District names as this page's reader knows them (the settings' English names outside Japanese).
  var NAMES = {};
  Array.prototype.forEach.call(document.querySelectorAll("input[name=district]"), function (i) {
    NAMES[i.value] = i.parentNode.textContent.trim();
  });
  function badge(a) { return a.status === "Test" ? w("test") : a.status === "Exercise" ? w("drill") : a.label; }
  function title(a) { return (a.titles && a.titles[LANG]) || a.title; }
  // The alert's page in the reader's language, where the site writes one (docs/website.md).
  function page(a) { return (a.pages && a.pages[LANG]) || a.url; }
  function areas(a) {
    if (LANG.indexOf("ja") === 0) { return a.areas || []; }
    if (a.town_wide || !(a.district_ids || []).length) { return [w("town_wide")]; }
    return a.district_ids.map(function (d) { return NAMES[d] || d; });
  }

  function mine(alert, districts) {
    if (!districts || districts.length === 0 || alert.town_wide) { return true; }
    return (alert.district_ids || []).some(function (d) { return districts.indexOf(d) >= 0; });
  }

  function render(data, offline) {
    var prefs = load();
    var list = (data.alerts || []).filter(function (a) { return mine(a, prefs.districts); });
    var box = $("alerts");
    box.textContent = "";
    $("offline").hidden = !offline;
    var banner = $("banner");
    banner.textContent = "";
    if (list.length === 0) {
      box.appendChild(el("p", "none", w("none")));
      banner.hidden = true;
    } else {
      var top = list[0];
      banner.className = "banner" + (top.drill ? " drill" : "");
      var link = el("a", "", (top.drill ? (JA ? "【" + badge(top) + "】" : badge(top) + ": ") : w("current")) + title(top));
      link.href = page(top);
      banner.appendChild(link);
      banner.hidden = false;
      var ul = el("ul", "alerts");
      list.forEach(function (a) {
        var li = el("li", "alert" + (a.drill ? " drill" : ""));
        li.setAttribute("data-id", a.id);
        var h = el("h3");
        if (a.drill) { h.appendChild(el("span", "badge", badge(a))); h.appendChild(document.createTextNode(" ")); }
        var link = el("a", "", title(a));
        link.href = page(a);
        h.appendChild(link);
        li.appendChild(h);
        li.appendChild(el("p", "meta", w("sent") + when(a.sent) + (areas(a).length ? (JA ? " ・ " : " · ") + areas(a).join(JA ? "、" : ", ") : "")));
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    $("updated").textContent = data.updated ? w("updated") + when(data.updated) : "";
  }

  function refresh() {
    return fetch(cfg.alerts, { cache: "no-store" }).then(function (resp) {
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      var offline = resp.headers.get("X-Offline") === "1";
      return resp.json().then(function (data) { render(data, offline); });
    }).catch(function () {
      $("alerts").textContent = "";
      $("alerts").appendChild(el("p", "offline", w("load_failed")));
    });
  }

  function b64ToBytes(text) {
    var pad = "=".repeat((4 - (text.length % 4)) % 4);
    var raw = window.atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function chosen(name) {
    return Array.prototype.map.call(
      document.querySelectorAll("input[name=" + name + "]:checked"), function (i) { return i.value; });
  }

  function showPrefs(prefs) {
    Array.prototype.forEach.call(document.querySelectorAll("input[name=district]"), function (i) {
      i.checked = (prefs.districts || []).indexOf(i.value) >= 0;
    });
    Array.prototype.forEach.call(document.querySelectorAll("input[name=topic]"), function (i) {
      i.checked = (prefs.topics || []).indexOf(i.value) >= 0;
    });
    $("language").value = prefs.language || new URLSearchParams(window.location.search).get("lang") || LANG;
    $("unsubscribe").hidden = !prefs.id;
    $("subscribe").textContent = prefs.id ? w("save") : w("subscribe");
  }

  function post(path, payload) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) { throw new Error(data.error || ("HTTP " + resp.status)); }
        return data;
      });
    });
  }

  function subscribe(ev) {
    ev.preventDefault();
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      say(w("no_push"));
      return;
    }
    if (!cfg.vapid) { say(w("no_vapid")); return; }
    var prefs = load();
    var wanted = { districts: chosen("district"), topics: chosen("topic"), language: $("language").value };
    say(w("registering"));
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error(w("not_permitted")); }
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      return reg.pushManager.getSubscription().then(function (sub) {
        return sub || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(cfg.vapid) });
      });
    }).then(function (sub) {
      var payload = { subscription: sub.toJSON(), districts: wanted.districts, topics: wanted.topics, language: wanted.language };
      if (prefs.id) { payload.id = prefs.id; }
      return post("subscriptions", payload);
    }).then(function (data) {
      var saved = { id: data.id, districts: data.districts, topics: data.topics, language: data.language };
      save(saved);
      showPrefs(saved);
      say(w("registered"));
      if (saved.language && saved.language !== LANG) { relang(saved.language); return; }
      refresh();
    }).catch(function (e) {
      say(w("register_failed") + e.message);
    });
  }

  function unsubscribe() {
    var prefs = load();
    say(w("leaving"));
    navigator.serviceWorker.ready.then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (sub) {
      if (!sub) { return null; }
      return post("subscriptions/delete", { subscription: sub.toJSON(), id: prefs.id }).then(function () {
        return sub.unsubscribe();
      });
    }).then(function () {
      save({});
      showPrefs({});
      say(w("left"));
    }).catch(function (e) {
      say(w("leave_failed") + e.message);
    });
  }

  // A safety check's notification opens the app with ?safety=<alert id> (sw.js): the answer goes
  // to the town with this app's subscription and registration id, as its sign-up did.
  function safety() {
    var alertId = new URLSearchParams(window.location.search).get("safety");
    var prefs = load();
    if (!alertId || !prefs.id || !("serviceWorker" in navigator)) { return; }
    $("safety").hidden = false;
    $("safety-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var answer = ev.submitter ? ev.submitter.value : "";
      var status = $("safety-status");
      status.textContent = w("sending");
      navigator.serviceWorker.ready.then(function (reg) {
        return reg.pushManager.getSubscription();
      }).then(function (sub) {
        if (!sub) { throw new Error(w("no_subscription")); }
        return post("safety", { subscription: sub.toJSON(), id: prefs.id, alert: alertId, answer: answer, note: $("safety-note").value });
      }).then(function (data) {
        var label = ev.submitter ? ev.submitter.textContent : answer;
        status.textContent = w("received").replace("{label}", label);
        status.setAttribute("data-outcome", data.outcome || "");
      }).catch(function (e) {
        status.textContent = w("send_failed") + e.message;
      });
    });
  }

  // The resident's chosen language wins over the browser's: reload the page written in it.
  function relang(lang) {
    var url = new URL(window.location.href);
    url.searchParams.set("lang", lang);
    window.location.replace(url.toString());
  }
  var kept = load().language;
  if (kept && !new URLSearchParams(window.location.search).get("lang") && kept !== LANG) { relang(kept); return; }

  showPrefs(load());
  $("language").addEventListener("change", function () {
    if (!load().id) { relang($("language").value); }
  });
  $("subscribe-form").addEventListener("submit", subscribe);
  $("unsubscribe").addEventListener("click", unsubscribe);
  safety();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch(function () { /* the page still works */ });
    navigator.serviceWorker.addEventListener("message", function (ev) {
      if (ev.data && ev.data.type === "alerts-updated") { refresh(); }
    });
  }
  refresh();
  window.setInterval(function () { if (!document.hidden) { refresh(); } }, 60000);
})();

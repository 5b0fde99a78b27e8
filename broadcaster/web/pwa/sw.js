// The app's service worker: keeps the app and the town's current alerts for offline use, and
// shows push notifications (the payload adapters/outbound/app_push/payload.py builds).
"use strict";
var SCOPE = self.registration.scope;                          // https://.../app/<tenant>/
var TENANT = new URL(SCOPE).pathname.split("/").filter(Boolean)[1];
var ALERTS = new URL("/site/" + TENANT + "/api/alerts.json", SCOPE).href;
var CACHE = "bc-app-" + TENANT + "-v1";
var SHELL = ["./", "app.js", "app.css", "manifest.webmanifest", "icon.svg"].map(function (p) {
  return new URL(p, SCOPE).href;
});

self.addEventListener("install", function (ev) {
  ev.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL.concat([ALERTS])); })
    .catch(function () { return caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("bc-app-" + TENANT) === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function fresh(request, key) {
  // Network first, so that a warning is never older than it must be; the cache when offline.
  return fetch(request).then(function (resp) {
    if (resp.ok) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (c) { return c.put(key, copy); });
    }
    return resp;
  }).catch(function () {
    return caches.open(CACHE).then(function (c) { return c.match(key); }).then(function (hit) {
      if (!hit) { return Response.error(); }
      var headers = new Headers(hit.headers);
      headers.set("X-Offline", "1");
      return hit.blob().then(function (b) { return new Response(b, { status: 200, headers: headers }); });
    });
  });
}

self.addEventListener("fetch", function (ev) {
  if (ev.request.method !== "GET") { return; }
  var url = new URL(ev.request.url);
  url.search = "";
  var key = url.href;
  if (key === ALERTS || SHELL.indexOf(key) >= 0) {
    ev.respondWith(fresh(ev.request, key));
  }
});

function tell(message) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    list.forEach(function (c) { c.postMessage(message); });
  });
}

self.addEventListener("push", function (ev) {
  var data = {};
  try { data = ev.data ? ev.data.json() : {}; } catch (e) { data = { title: "緊急情報", body: ev.data ? ev.data.text() : "" }; }
  var title = data.title || "緊急情報";
  var options = {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: Boolean(data.tag),
    requireInteraction: data.urgency === "high",
    lang: data.lang || "ja",
    icon: new URL("icon.svg", SCOPE).href,
    // A safety check opens the app's answer panel instead of the site's page.
    data: { url: data.safety && data.id ? SCOPE + "?safety=" + encodeURIComponent(data.id) : (data.url || SCOPE), id: data.id }
  };
  ev.waitUntil(Promise.all([
    self.registration.showNotification(title, options).catch(function () { /* no permission */ }),
    fetch(ALERTS, { cache: "no-store" }).then(function (resp) {
      if (resp.ok) { return caches.open(CACHE).then(function (c) { return c.put(ALERTS, resp); }); }
    }).catch(function () { /* offline: the push itself still shows */ })
  ]).then(function () { return tell({ type: "alerts-updated", id: data.id || null }); }));
});

function opened(id) {
  // The town counts the household reached by the app (docs/coverage.md); the subscription says
  // who we are, as at sign-up. Best effort: offline, the tap still opens the page.
  if (!id) { return Promise.resolve(); }
  return self.registration.pushManager.getSubscription().then(function (sub) {
    if (!sub) { return null; }
    return fetch(new URL("opened", SCOPE).href, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ subscription: sub.toJSON(), alert: id })
    });
  }).catch(function () { /* offline */ });
}

self.addEventListener("notificationclick", function (ev) {
  ev.notification.close();
  var target = (ev.notification.data && ev.notification.data.url) || SCOPE;
  var id = ev.notification.data && ev.notification.data.id;
  // Opening does not wait for the report: the tap must open the page at once.
  ev.waitUntil(Promise.all([opened(id), self.clients.matchAll({ type: "window" }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].url === target && "focus" in list[i]) { return list[i].focus(); }
    }
    return self.clients.openWindow(target);
  })]));
});

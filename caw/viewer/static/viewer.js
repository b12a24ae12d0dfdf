// The viewer's only script: search as you type, and live updates over server-sent events.
(function () {
  "use strict";
  const base = document.body.dataset.base;
  const live = document.getElementById("live");

  function refresh(target, url) {
    return fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const open = new Set(
          Array.from(target.querySelectorAll("details[open]")).map((d, i) => i)
        );
        target.innerHTML = html;
        Array.from(target.querySelectorAll("details")).forEach((d, i) => {
          if (open.has(i)) d.open = true;
        });
        document.body.dataset.refreshed = String(Date.now());
      })
      .catch(() => {});
  }

  const list = document.getElementById("list");
  const query = document.getElementById("q");
  function listUrl() {
    const q = query ? query.value : "";
    return base + "/?partial=1&q=" + encodeURIComponent(q);
  }
  if (query && list) {
    let timer = null;
    query.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        history.replaceState(null, "", base + "/?q=" + encodeURIComponent(query.value));
        refresh(list, listUrl());
      }, 150);
    });
  }

  const session = document.getElementById("session");
  const sessionId = document.body.dataset.sessionId;
  if (!list && !(session && sessionId)) return;
  const events = new EventSource(base + "/events");
  events.addEventListener("open", () => live && live.classList.add("on"));
  events.addEventListener("error", () => live && live.classList.remove("on"));
  events.addEventListener("change", (e) => {
    const ids = JSON.parse(e.data);
    if (list) refresh(list, listUrl());
    else if (ids.indexOf(sessionId) >= 0) refresh(session, base + "/s/" + sessionId + "?partial=1");
  });
})();

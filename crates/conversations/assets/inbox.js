// Frontdesk inbox: live updates for /app/inbox and /app/inbox/{id}. Progressive enhancement only:
// both pages work without this file (forms post and redirect).
//
// The staff event stream (/api/v1/conversations/events, session cookie) only carries hints; what
// changed is fetched again: the inbox re-reads its own page and swaps the list, a conversation
// fetches the messages after the newest one it shows (JSON API) and swaps its state panels.
// Server text reaches the DOM as text nodes only.
"use strict";
(() => {
  const RETRY_MIN = 2000;
  const RETRY_MAX = 60000;
  const TYPING_MS = 8000;
  // Least time between two "staff is typing" hints sent while a reply is written.
  const TYPING_HINT_MS = 4000;

  const parse = (s) => {
    try {
      const v = JSON.parse(s);
      return v && typeof v === "object" ? v : {};
    } catch {
      return {};
    }
  };
  const str = (v) => (typeof v === "string" ? v : "");

  // ---- waits that grow while the page is open (same words as the server: "12 min", "3 h 5 min") ----

  const waitLabel = (ms) => {
    const minutes = Math.floor(Math.max(0, ms) / 60000);
    if (minutes < 1) return "< 1 min";
    if (minutes < 60) return minutes + " min";
    if (minutes < 1440) return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
    return Math.floor(minutes / 1440) + " d " + Math.floor((minutes % 1440) / 60) + " h";
  };
  const tickWaits = () => {
    for (const el of document.querySelectorAll("[data-since]")) {
      const since = Number(el.getAttribute("data-since"));
      if (Number.isFinite(since)) el.textContent = waitLabel(Date.now() - since);
    }
  };

  /**
   * Runs `task` soon, at most once at a time: calls while it runs make it run once more after.
   * Bursts of events (a streamed answer, a handoff) cost one fetch, not one each.
   */
  const coalesce = (task, delay) => {
    let timer = 0;
    let running = false;
    let again = false;
    const run = async () => {
      timer = 0;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await task();
      } catch {
        /* the next event or reconnect tries again */
      }
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    };
    const schedule = () => {
      if (!timer) timer = setTimeout(run, delay);
    };
    return schedule;
  };

  /**
   * One EventSource with named handlers. The browser reconnects by itself after network errors;
   * when the server refuses (the session ended, a deploy), it gives up, so we retry with backoff.
   * `onOpen` runs on every (re)connect: events sent while disconnected are caught up there.
   */
  const follow = (url, handlers, onOpen) => {
    let source = null;
    let delay = RETRY_MIN;
    const connect = () => {
      source = new EventSource(url);
      source.addEventListener("open", () => {
        delay = RETRY_MIN;
        onOpen(true);
      });
      source.addEventListener("error", () => {
        onOpen(false);
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          setTimeout(connect, delay);
          delay = Math.min(RETRY_MAX, delay * 2);
        }
      });
      for (const name in handlers) {
        source.addEventListener(name, (ev) => handlers[name](parse(ev.data)));
      }
    };
    connect();
    window.addEventListener("pagehide", () => source && source.close());
  };

  /** This page again, parsed (a redirect to the log-in page simply has none of our elements). */
  const fetchPage = async (url) => {
    const res = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { accept: "text/html" } });
    if (!res.ok) return null;
    return new DOMParser().parseFromString(await res.text(), "text/html");
  };

  /** Replaces each element of `ids` by its fresh copy, except one the user is typing in. */
  const swap = (doc, ids) => {
    for (const id of ids) {
      const fresh = doc.getElementById(id);
      const current = document.getElementById(id);
      if (!fresh || !current) continue;
      if (current.contains(document.activeElement) && document.activeElement !== document.body) continue;
      current.replaceWith(document.adoptNode(fresh));
    }
    tickWaits();
  };

  const setLive = (on) => {
    const badge = document.getElementById("inbox-live");
    if (badge) badge.hidden = !on;
  };

  // ---- the inbox list -------------------------------------------------------------------------

  const inbox = (list) => {
    const refresh = coalesce(async () => {
      const doc = await fetchPage(location.href);
      if (doc) swap(doc, [list.id]);
    }, 400);
    follow("/api/v1/conversations/events", { changed: refresh, resync: refresh }, (on) => {
      setLive(on);
      // Also on the first connection: it may come a moment after the page was rendered.
      if (on) refresh();
    });
  };

  // ---- one conversation -----------------------------------------------------------------------

  const conversation = (box) => {
    const id = box.getAttribute("data-conversation");
    const list = document.getElementById("messages");
    const template = document.getElementById("message-template");
    const typing = document.getElementById("typing");
    if (!id || !list || !template) return;
    let last = box.getAttribute("data-last") || "";
    let typingTimer = 0;

    const zone = box.getAttribute("data-time-zone") || "UTC";
    let clock;
    try {
      clock = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      });
    } catch {
      clock = null;
    }
    /** `2026-03-01 14:05` in the business's time zone, like the server writes it. */
    const localTime = (iso) => {
      const d = new Date(iso);
      if (!clock || Number.isNaN(d.getTime())) return str(iso);
      const p = {};
      for (const part of clock.formatToParts(d)) p[part.type] = part.value;
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
    };
    const safeUrl = (v) => {
      try {
        const u = new URL(str(v));
        return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
      } catch {
        return null;
      }
    };
    const link = (href, text) => {
      const a = document.createElement("a");
      a.href = href;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      a.textContent = text;
      return a;
    };

    const setTyping = (on) => {
      clearTimeout(typingTimer);
      if (!typing) return;
      typing.hidden = !on;
      if (on) typingTimer = setTimeout(() => setTyping(false), TYPING_MS);
    };

    const AUTHORS = ["customer", "agent", "staff", "system"];
    /** A message of the JSON API as the page renders it (see the `message` macro). */
    const render = (m) => {
      const author = AUTHORS.includes(m.author) ? m.author : "system";
      const li = template.content.firstElementChild.cloneNode(true);
      li.classList.add("msg-" + author);
      li.setAttribute("data-id", str(m.id));
      li.setAttribute("data-author", author);
      const role = box.getAttribute("data-who-" + author) || author;
      li.querySelector(".msg-who").textContent = author === "staff" ? str(m.author_name) || role : role;
      li.querySelector(".msg-time").textContent = localTime(m.created_at);
      const text = li.querySelector(".msg-text");
      if (str(m.text)) text.textContent = m.text;
      else text.remove();

      const buttons = li.querySelector(".msg-buttons");
      const cards = [];
      for (const c of Array.isArray(m.content) ? m.content : []) {
        const labels = (Array.isArray(c.buttons) ? c.buttons : []).map((b) => str(b && b.label)).filter(Boolean);
        for (const label of labels) buttons.append(Object.assign(document.createElement("li"), { textContent: label }));
        if (c.type === "card") {
          const p = document.createElement("p");
          p.className = "msg-card";
          const href = safeUrl(c.url);
          const title = href ? link(href, str(c.title)) : document.createElement("strong");
          if (!href) title.textContent = str(c.title);
          p.append(title);
          if (str(c.subtitle)) {
            const sub = document.createElement("span");
            sub.className = "muted";
            sub.textContent = c.subtitle;
            p.append(" ", sub);
          }
          cards.push(p);
        }
      }
      if (!buttons.firstChild) buttons.remove();
      const files = li.querySelector(".msg-files");
      files.before(...cards);
      for (const a of Array.isArray(m.attachments) ? m.attachments : []) {
        const item = document.createElement("li");
        const name = str(a.name) || str(a.content_type);
        const href = safeUrl(a.url);
        item.append(href ? link(href, name) : name);
        files.append(item);
      }
      if (!files.firstChild) files.remove();

      const trace = li.querySelector(".msg-trace");
      const tr = m.trace;
      if (author !== "agent" || !tr || typeof tr !== "object") trace.remove();
      else {
        const tools = (Array.isArray(tr.tools) ? tr.tools : [])
          .map((x) => str(x.name) + (str(x.summary) ? " (" + x.summary + ")" : ""))
          .join(", ");
        const num = (v) => (typeof v === "number" ? String(v) : "");
        const tokens = tr.tokens_in != null || tr.tokens_out != null ? (num(tr.tokens_in) || "–") + " → " + (num(tr.tokens_out) || "–") : "";
        const values = {
          specialist: str(tr.specialist),
          tools,
          model: str(tr.model),
          tokens,
          latency: typeof tr.latency_ms === "number" ? tr.latency_ms + " ms" : "",
        };
        for (const part of trace.querySelectorAll("[data-trace]")) {
          const value = values[part.getAttribute("data-trace")];
          if (value) part.querySelector("dd").textContent = value;
          else part.remove();
        }
      }
      return li;
    };

    /** Whether the reader is at the newest message (then new ones keep it in view). */
    const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    const toBottom = () => {
      list.scrollTop = list.scrollHeight;
    };
    toBottom();

    /** Appends what came after the newest message shown (pages of 200 until none are left). */
    const catchUp = async () => {
      for (;;) {
        const q = new URLSearchParams({ limit: "200" });
        if (last) q.set("after", last);
        const res = await fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/messages?" + q, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { accept: "application/json" },
        });
        if (!res.ok) return;
        const messages = await res.json();
        if (!Array.isArray(messages) || !messages.length) return;
        const stick = atBottom();
        for (const m of messages) {
          if (!m || !str(m.id)) continue;
          last = m.id;
          if (list.querySelector('[data-id="' + CSS.escape(m.id) + '"]')) continue;
          list.append(render(m));
          if (m.author !== "customer") setTyping(false);
        }
        if (stick) toBottom();
        if (messages.length < 200) return;
      }
    };
    const fetchMessages = coalesce(catchUp, 150);

    // While a reply is being written, the customer sees that someone is typing (at most one
    // hint every few seconds; the widget shows it for a while after each).
    const replyForm = document.getElementById("reply-form");
    const replyText = document.getElementById("f-text");
    const csrf = replyForm && replyForm.querySelector("input[name=_csrf]");
    let typingSent = 0;
    if (replyText && csrf) {
      replyText.addEventListener("input", () => {
        const now = Date.now();
        if (now - typingSent < TYPING_HINT_MS || !replyText.value.trim()) return;
        typingSent = now;
        fetch("/api/v1/conversations/" + encodeURIComponent(id) + "/typing", {
          method: "POST",
          credentials: "same-origin",
          headers: { "x-csrf-token": csrf.value },
        }).catch(() => {});
      });
    }
    const refreshState = coalesce(async () => {
      // The conversation's own page (the address bar may show a form's address after an error).
      const doc = await fetchPage("/app/inbox/" + encodeURIComponent(id));
      if (doc) swap(doc, ["conversation-state", "conversation-manage"]);
    }, 400);
    const changed = () => {
      fetchMessages();
      refreshState();
    };
    follow(
      "/api/v1/conversations/events?conversation=" + encodeURIComponent(id),
      {
        message: changed,
        status: changed,
        changed,
        resync: changed,
        // A colleague's (or this page's own) typing is not the customer's or the assistant's.
        typing: (d) => {
          if (!d || d.author !== "staff") setTyping(true);
        },
      },
      (on) => {
        if (on) changed();
      },
    );
  };

  document.addEventListener("DOMContentLoaded", () => {
    tickWaits();
    setInterval(tickWaits, 30000);
    const list = document.querySelector("[data-live-inbox]");
    if (list && window.EventSource) inbox(list);
    const box = document.querySelector("[data-live-conversation]");
    if (box && window.EventSource) conversation(box);
  });
})();

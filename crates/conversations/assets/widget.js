/*! Frontdesk web chat widget.
 *
 * Embed: <script src="https://HOST/widget.js" data-tenant="SLUG" async></script>
 * Optional attributes: data-open="true" (start open), data-lang="en|de" (override the tenant's language).
 * Host page API: window.FrontdeskWidget.open() / .close() / .toggle().
 *
 * Plain ES2019, no dependencies, no build step. Everything renders inside an open shadow root; server text only ever
 * reaches the DOM as text nodes (never innerHTML) and links are limited to http(s). The only requests made are to
 * HOST's /api/v1/public/* endpoints (plus images the tenant configured: logo and card pictures).
 */
(() => {
  "use strict";

  if (window.FrontdeskWidget || !window.fetch || !window.TextDecoder || !Element.prototype.attachShadow) return;
  // Captured synchronously: document.currentScript is only set while this file first runs.
  const me = document.currentScript || document.querySelector("script[data-tenant][src*='widget']");
  const slug = me && me.getAttribute("data-tenant");
  if (!slug) return console.warn("Frontdesk widget: the script tag needs a data-tenant attribute");
  let origin;
  try {
    origin = new URL(me.src, location.href).origin;
  } catch {
    return;
  }
  const langAttr = me.getAttribute("data-lang");

  const STRINGS = {
    en: {
      chat: "Chat with %s",
      unread: "%d new",
      close: "Close chat",
      input: "Message",
      ph: "Write a message…",
      send: "Send",
      quick: "Suggestions",
      typing: "Typing…",
      you: "You",
      agent: "Assistant",
      staff: "Team",
      system: "Notice",
      retry: "Try again",
      failed: "Sorry, your message could not be sent.",
      offline: "No connection. Please check your internet connection and try again.",
      cut: "The answer was interrupted.",
      slow: "You are sending messages too quickly. Please wait a moment.",
      s_waiting: "Waiting for a team member…",
      s_handed_off: "You are now chatting with our team.",
      s_resolved: "This conversation is closed. Write to us to start a new one.",
    },
    de: {
      chat: "Chat mit %s",
      unread: "%d neu",
      close: "Chat schließen",
      input: "Nachricht",
      ph: "Nachricht schreiben…",
      send: "Senden",
      quick: "Vorschläge",
      typing: "Schreibt…",
      you: "Sie",
      agent: "Assistent",
      staff: "Team",
      system: "Hinweis",
      retry: "Erneut versuchen",
      failed: "Leider konnte Ihre Nachricht nicht gesendet werden.",
      offline: "Keine Verbindung. Bitte prüfen Sie Ihre Internetverbindung und versuchen Sie es erneut.",
      cut: "Die Antwort wurde unterbrochen.",
      slow: "Sie senden Nachrichten zu schnell. Bitte warten Sie einen Moment.",
      s_waiting: "Wir verbinden Sie mit unserem Team…",
      s_handed_off: "Sie chatten jetzt mit unserem Team.",
      s_resolved: "Dieses Gespräch ist beendet. Schreiben Sie uns, um ein neues zu beginnen.",
    },
  };

  const CSS = `
:host{all:initial}
*{box-sizing:border-box}
.w{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;-webkit-font-smoothing:antialiased;-webkit-text-size-adjust:100%}
button,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer}
button:disabled{cursor:default;opacity:.55}
[hidden]{display:none!important}
:focus{outline:none}
:focus-visible{outline:3px solid #1f2328;outline-offset:2px;box-shadow:0 0 0 2px #fff}
.sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.l{position:fixed;z-index:2147483000;bottom:calc(20px + env(safe-area-inset-bottom,0px));right:calc(20px + env(safe-area-inset-right,0px));width:56px;height:56px;padding:0;border:0;border-radius:50%;background:var(--c);color:var(--t);box-shadow:0 4px 16px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s ease}
.l:hover{transform:scale(1.06)}
.left .l{right:auto;left:calc(20px + env(safe-area-inset-left,0px))}
.l svg{width:28px;height:28px;fill:currentColor}
.bd{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#cf222e;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}
.p{position:fixed;z-index:2147483000;bottom:calc(88px + env(safe-area-inset-bottom,0px));right:calc(20px + env(safe-area-inset-right,0px));width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;overflow:hidden;background:#fff;border-radius:16px;box-shadow:0 12px 48px rgba(0,0,0,.28);animation:fd-in .18s ease-out}
.left .p{right:auto;left:calc(20px + env(safe-area-inset-left,0px))}
@keyframes fd-in{from{opacity:0;transform:translateY(12px)}}
.h{display:flex;align-items:center;gap:10px;padding:12px 10px 12px 16px;background:var(--c);color:var(--t);flex:none}
.h img{width:34px;height:34px;border-radius:50%;object-fit:cover;background:#fff;flex:none}
.h h2{flex:1;min-width:0;margin:0;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:inherit}
.x{width:40px;height:40px;padding:0;border:0;border-radius:10px;background:transparent;color:inherit;display:flex;align-items:center;justify-content:center;flex:none}
.x:hover{background:rgba(127,127,127,.2)}
.x svg{width:22px;height:22px;fill:currentColor}
.st{flex:none;padding:8px 16px;font-size:13px;background:#fff8c5;border-bottom:1px solid #eee}
.st:empty{padding:0;border:0}
.s{flex:1;min-height:0;overflow-y:auto;padding:16px 14px;background:#f6f7f9;overscroll-behavior:contain}
.g{display:flex;flex-direction:column;gap:10px}
.m{display:flex;flex-direction:column;align-items:flex-start;max-width:86%}
.m[data-author=customer]{align-self:flex-end;align-items:flex-end}
.m[data-author=system]{align-self:center;align-items:center;max-width:100%}
.n{margin:0 6px 2px;font-size:12px;color:#59636e}
.b{padding:9px 13px;border-radius:16px;background:#fff;border:1px solid #e1e4e8;white-space:pre-wrap;overflow-wrap:anywhere}
[data-author=customer] .b{background:var(--c);color:var(--t);border-color:transparent}
[data-author=system] .b{padding:2px 8px;background:transparent;border:0;color:#59636e;font-size:13px;font-style:italic;text-align:center}
.b a{color:inherit;text-decoration:underline}
[data-state=queued] .b,[data-state=sending] .b{opacity:.75}
[data-state=failed] .b{opacity:.7;outline:1px dashed #cf222e;outline-offset:2px}
.bt,.q{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.bt button,.q button{padding:6px 12px;border:1px solid var(--c);border-radius:16px;background:#fff;color:#1f2328;font-size:14px;line-height:1.3;text-align:left}
.bt button:hover:not(:disabled),.q button:hover{background:#f0f2f4}
.cd{width:250px;max-width:100%;margin-top:6px;overflow:hidden;background:#fff;border:1px solid #e1e4e8;border-radius:14px}
.cd img{display:block;width:100%;height:140px;object-fit:cover}
.cd>div{padding:10px 12px}
.ct{display:block;font-weight:600;color:#1f2328}
a.ct{text-decoration:underline}
.cd small{display:block;margin-top:2px;font-size:13px;color:#59636e}
.ty{display:flex;gap:5px;width:max-content;margin-top:10px;padding:13px 14px;background:#fff;border:1px solid #e1e4e8;border-radius:16px}
.ty i{width:7px;height:7px;border-radius:50%;background:#8c959f;animation:fd-dot 1.2s infinite ease-in-out}
.ty i:nth-child(2){animation-delay:.15s}
.ty i:nth-child(3){animation-delay:.3s}
@keyframes fd-dot{0%,60%,100%{opacity:.35;transform:none}30%{opacity:1;transform:translateY(-3px)}}
.er{align-self:flex-end;display:flex;flex-wrap:wrap;align-items:center;justify-content:flex-end;gap:8px;max-width:86%;font-size:13px;color:#a40e26;text-align:right}
.er button{padding:4px 12px;border:1px solid currentColor;border-radius:14px;background:#fff;color:inherit}
.q{flex:none;margin:0;padding:8px 12px 0;background:#fff}
.f{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 12px calc(10px + env(safe-area-inset-bottom,0px));background:#fff;border-top:1px solid #e1e4e8}
textarea{flex:1;min-width:0;min-height:44px;max-height:140px;padding:10px 12px;resize:none;border:1px solid #c9d1d9;border-radius:12px;background:#fff;color:#1f2328;font-size:16px;line-height:1.4}
textarea::placeholder{color:#6e7781}
.sd{width:44px;height:44px;padding:0;border:0;border-radius:12px;background:var(--c);color:var(--t);display:flex;align-items:center;justify-content:center;flex:none}
.sd svg{width:22px;height:22px;fill:currentColor}
@media (max-width:480px){
.p{top:0;left:0;right:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}
.left .p{left:0}
.h{padding-top:calc(12px + env(safe-area-inset-top,0px));padding-left:calc(16px + env(safe-area-inset-left,0px));padding-right:calc(10px + env(safe-area-inset-right,0px))}
.open .l{display:none}
}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}
`;

  const ICON_CHAT =
    "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM6 9h12v2H6zm8 5H6v-2h8zm4-6H6V6h12z";
  const ICON_CLOSE =
    "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z";
  const ICON_SEND = "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z";

  // ---- small helpers ------------------------------------------------------------------------------------------

  const str = (v) => (typeof v === "string" ? v : "");
  const list = (v) => (Array.isArray(v) ? v : []);
  const parse = (s) => {
    try {
      const v = JSON.parse(s);
      return v && typeof v === "object" ? v : {};
    } catch {
      return {};
    }
  };
  const hex = (v, fallback) => (/^#[0-9a-f]{6}$/i.test(str(v)) ? v : fallback);
  /** An absolute http(s) URL, or null: keeps javascript:, data: and friends out of href and src. */
  const safeUrl = (v) => {
    try {
      const u = new URL(str(v));
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch {
      return null;
    }
  };

  /** Builds an element. Children that are strings become text nodes, so server text can never become markup. */
  const h = (tag, attrs, ...kids) => {
    const el = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids) if (c != null) el.append(c);
    return el;
  };
  const icon = (d) => {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  };
  const link = (href, label, cls) => h("a", { href, class: cls, target: "_blank", rel: "noopener noreferrer" }, label);
  const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/g;
  /** Appends text to el, turning http(s) URLs into links. */
  const richText = (el, text) => {
    let at = 0;
    for (const m of text.matchAll(URL_IN_TEXT)) {
      const href = safeUrl(m[0]);
      if (!href) continue;
      el.append(text.slice(at, m.index), link(href, m[0]));
      at = m.index + m[0].length;
    }
    el.append(text.slice(at));
  };
  const newId = () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "cmid_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // localStorage may be missing or throw (privacy modes, sandboxed iframes): the widget then forgets on reload.
  const KEY = "frontdesk:" + slug + ":visitor";
  const storage = {
    get() {
      try {
        return localStorage.getItem(KEY);
      } catch {
        return null;
      }
    },
    set(v) {
      try {
        if (v) localStorage.setItem(KEY, v);
        else localStorage.removeItem(KEY);
      } catch {
        /* not persisted; the session still works */
      }
    },
  };

  // ---- API -----------------------------------------------------------------------------------------------------

  let token = storage.get();

  const apiUrl = (path, query) => {
    const u = new URL("/api/v1/public/" + path, origin);
    u.searchParams.set("tenant", slug);
    for (const k in query || {}) u.searchParams.set(k, query[k]);
    return u.href;
  };
  const call = (path, init, query) => {
    const headers = Object.assign({}, init && init.headers);
    if (token) headers["x-visitor-token"] = token;
    const opts = Object.assign({ mode: "cors", credentials: "omit", cache: "no-store" }, init, { headers });
    return fetch(apiUrl(path, query), opts);
  };
  /** The text to show for a non-2xx answer (application/problem+json). */
  const problemText = async (res) => {
    let p = {};
    try {
      p = await res.json();
    } catch {
      /* not JSON: use our own words */
    }
    if (res.status >= 500) return t.failed;
    return str(p.detail) || str(p.title) || (res.status === 429 ? t.slow : t.failed);
  };

  /**
   * Reads a text/event-stream body (WHATWG rules): `event:` and `data:` fields, `:` comments, CR, LF or CRLF line
   * ends, a blank line dispatches, and lines or multi-byte characters split across network reads. `id:`/`retry:` are
   * not needed: resumption uses `?after=<message id>` and reconnect timing is ours. Calls onEvent(type, data) per
   * event and onBytes() per read; resolves when the stream ends, rejects on network errors or abort.
   */
  const readEvents = async (res, onEvent, onBytes) => {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let type = "";
    let data = [];
    const line = (l) => {
      if (!l) {
        if (data.length) onEvent(type || "message", data.join("\n"));
        type = "";
        data = [];
        return;
      }
      if (l[0] === ":") return;
      const i = l.indexOf(":");
      const field = i < 0 ? l : l.slice(0, i);
      let value = i < 0 ? "" : l.slice(i + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    };
    const feed = (chunk, last) => {
      buf += chunk;
      // A lone CR at the end may be the first half of a CRLF: keep it for the next read, unless this is the end.
      const eol = last ? /\r\n|\n|\r/g : /\r\n|\n|\r(?!$)/g;
      let at = 0;
      let m;
      while ((m = eol.exec(buf))) {
        line(buf.slice(at, m.index));
        at = eol.lastIndex;
      }
      buf = buf.slice(at);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (onBytes) onBytes();
      feed(decoder.decode(value, { stream: true }));
    }
    feed(decoder.decode(), true);
  };

  // ---- state ---------------------------------------------------------------------------------------------------

  let t = STRINGS.en;
  let title = "";
  let ui = null; // the built DOM, once bootstrap answered
  let isOpen = false;
  let wantOpen = me.getAttribute("data-open") === "true";
  let unread = 0;
  const seen = new Map(); // message id → its element: history, stream and events overlap
  let newest = null; // id of the newest message rendered: `after=` for the events stream
  let newestAt = -Infinity;
  const turns = []; // customer messages the server has not acknowledged yet: { text, cid, el, id }
  let streamEl = null; // the agent bubble being streamed, replaced by the final `message`
  let waiting = false; // a sent message awaits its first delta
  let typingTimer = 0;
  let queue = Promise.resolve(); // history load and sends run one at a time, in order
  let synced = false; // history for the current token is on screen
  let liveOn = false;
  let liveAbort = null;
  let parked = false; // events stream paused while the page is hidden
  let wake = null;
  let parkTimer = 0;

  // ---- rendering -----------------------------------------------------------------------------------------------

  /** Runs a DOM change and keeps the log pinned to the bottom if the reader was there (or if forced). */
  const show = (change, force) => {
    const s = ui.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    change();
    if (atBottom || force) s.scrollTop = s.scrollHeight;
  };
  /** Inserts a message above customer messages still waiting in the queue, so replies stay next to their turn. */
  const place = (el) => ui.log.insertBefore(el, ui.log.querySelector("[data-state=queued]"));

  const AUTHORS = ["customer", "agent", "staff", "system"];
  const authorOf = (m) => (AUTHORS.includes(m.author) ? m.author : "agent");

  const buttonsOf = (items) => {
    const box = h("div", { class: "bt", "data-fd": "buttons", role: "group" });
    for (const b of list(items)) {
      const label = str(b && b.label);
      const value = str(b && b.value) || label;
      if (label) box.append(h("button", { type: "button", "data-value": value, onclick: () => send(value) }, label));
    }
    return box.firstChild ? box : null;
  };

  const cardOf = (c) => {
    const href = safeUrl(c.url);
    const img = safeUrl(c.image_url);
    const heading = str(c.title);
    return h(
      "div",
      { class: "cd", "data-fd": "card" },
      img ? h("img", { src: img, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : null,
      h(
        "div",
        null,
        href ? link(href, heading, "ct") : h("strong", { class: "ct" }, heading),
        str(c.subtitle) ? h("small", null, c.subtitle) : null,
        buttonsOf(c.buttons),
      ),
    );
  };

  const buildMessage = (m) => {
    const who = authorOf(m);
    const text = str(m.text);
    const name = who === "agent" || who === "staff" ? str(m.author_name) : "";
    const el = h(
      "div",
      { class: "m", "data-fd": "message", "data-author": who, "data-id": m.id || null },
      name ? h("div", { class: "n", "aria-hidden": "true" }, name) : null,
      h("span", { class: "sr" }, (who === "customer" ? t.you : name || t[who]) + ": "),
    );
    const content = list(m.content);
    if (text || !content.length) {
      const bubble = h("div", { class: "b", "data-fd": "message-text" });
      richText(bubble, text);
      el.append(bubble);
    }
    for (const c of content) {
      if (c && c.type === "buttons") el.append(buttonsOf(c.buttons) || "");
      else if (c && c.type === "card") el.append(cardOf(c));
    }
    return el;
  };

  /** Remembers the newest message (by created_at; arrival order breaks ties) for `after=`. */
  const noteNewest = (m) => {
    const at = Date.parse(m.created_at);
    if (!(at < newestAt)) {
      if (!Number.isNaN(at)) newestAt = at;
      newest = m.id;
    }
  };

  /** Buttons answer the latest question only: once the customer speaks, earlier buttons are spent. */
  const freeze = () => {
    for (const b of ui.log.querySelectorAll("button[data-value]")) b.disabled = true;
  };
  const refreshQuick = () => {
    ui.quick.hidden = !ui.quick.firstChild || seen.size > 0 || turns.length > 0;
  };

  /** Marks a sent customer message as stored under id. */
  const bind = (turn, id) => {
    if (turn.id) return;
    const other = seen.get(id);
    if (other && other !== turn.el) {
      turn.el.remove();
      turn.el = other;
    }
    turn.id = id;
    turn.el.setAttribute("data-id", id);
    turn.el.removeAttribute("data-state");
    seen.set(id, turn.el);
    turns.splice(turns.indexOf(turn), 1);
  };

  /**
   * Renders a Message once, whichever channel brings it first. A final agent message replaces the streaming bubble;
   * fromStream: it came from the chat stream, where any final message replaces the bubble. Returns true if new.
   */
  const addMessage = (m, fromStream) => {
    if (!m || !str(m.id)) return false;
    noteNewest(m);
    if (seen.has(m.id)) {
      if (fromStream && streamEl) {
        streamEl.remove();
        streamEl = null;
      }
      return false;
    }
    if (m.author === "customer") {
      const mine = turns.find((x) => x.text === str(m.text).trim() && x.el.getAttribute("data-state") !== "queued");
      if (mine) {
        bind(mine, m.id);
        return false;
      }
      freeze();
    }
    const el = buildMessage(m);
    seen.set(m.id, el);
    show(() => {
      if (streamEl && (fromStream || m.author === "agent")) {
        streamEl.replaceWith(el);
        streamEl = null;
      } else place(el);
    });
    refreshQuick();
    return true;
  };

  const delta = (text) => {
    waiting = false;
    setTyping(false);
    if (!text) return;
    show(() => {
      if (!streamEl) {
        streamEl = buildMessage({ author: "agent", text: "" });
        streamEl.setAttribute("data-streaming", "");
        // Screen readers hear the final message once instead of every token.
        streamEl.setAttribute("aria-hidden", "true");
        place(streamEl);
      }
      streamEl.querySelector("[data-fd=message-text]").append(text);
    });
  };

  const setTyping = (on, ms) => {
    clearTimeout(typingTimer);
    if (on && ms) typingTimer = setTimeout(() => setTyping(waiting), ms);
    if (ui.typing.hidden === !on) return;
    show(() => {
      ui.typing.hidden = !on;
    });
  };

  const setStatus = (d) => {
    if (!d || !str(d.status)) return;
    // The "s_" prefix keeps server values away from Object.prototype names.
    ui.status.textContent = str(d.notice) || str(t["s_" + d.status]);
  };

  const showError = (turn, text) => {
    turn.el.setAttribute("data-state", "failed");
    const err = h(
      "div",
      { class: "er", "data-fd": "error" },
      h("span", null, text),
      h(
        "button",
        {
          type: "button",
          "data-fd": "retry",
          onclick: () => {
            err.remove();
            if (!turn.id) ui.log.append(turn.el); // it is sent now, so it belongs at the end
            enqueue(turn);
            ui.input.focus();
          },
        },
        t.retry,
      ),
    );
    show(() => turn.el.after(err));
  };

  const paintLauncher = () => {
    const label = t.chat.replace("%s", title);
    ui.launcher.setAttribute("aria-label", unread ? label + " (" + t.unread.replace("%d", unread) + ")" : label);
    ui.badge.textContent = unread > 9 ? "9+" : String(unread);
    ui.badge.hidden = !unread;
    ui.launcher.replaceChild(icon(isOpen ? ICON_CLOSE : ICON_CHAT), ui.launcher.firstChild);
  };

  // ---- conversation --------------------------------------------------------------------------------------------

  const remember = (v) => {
    if (!v || v === token) return;
    token = v;
    storage.set(v);
    synced = true; // a fresh token belongs to the conversation on screen
  };
  const forget = () => {
    token = null;
    storage.set(null);
    synced = false;
    newest = null;
    newestAt = -Infinity;
    if (liveAbort) liveAbort.abort();
  };

  /** Loads the stored conversation. 2 = loaded, 1 = none yet, 0 = failed (try later), -1 = token rejected. */
  const loadHistory = async () => {
    try {
      const res = await call("history");
      if (res.status === 401) {
        forget();
        return -1;
      }
      if (res.status === 404) {
        synced = true;
        return 1;
      }
      if (!res.ok) return 0;
      const d = await res.json();
      show(() => {
        for (const m of list(d.messages)) addMessage(m);
      }, true);
      setStatus(d);
      synced = true;
      return 2;
    } catch {
      return 0;
    }
  };

  const send = (raw) => {
    const text = str(raw).trim();
    if (!text || !ui) return;
    freeze();
    const turn = { text, cid: newId(), el: buildMessage({ author: "customer", text }), id: null };
    turns.push(turn);
    show(() => ui.log.append(turn.el), true);
    refreshQuick();
    enqueue(turn);
  };
  const enqueue = (turn) => {
    turn.el.setAttribute("data-state", "queued");
    queue = queue.then(() => streamTurn(turn, false));
  };

  /** Sends one customer message over POST /chat/stream and renders the streamed answer. Never rejects. */
  const streamTurn = async (turn, again) => {
    turn.el.setAttribute("data-state", "sending");
    waiting = true;
    setTyping(true);
    let failure = null;
    let done = false;
    let res = null;
    try {
      res = await call("chat/stream", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ message: turn.text, client_message_id: turn.cid }),
      });
      if (res.status === 401 && token && !again) {
        // The stored token is no longer valid here: start a new conversation with the same message.
        forget();
        return streamTurn(turn, true);
      }
      if (!res.ok) failure = await problemText(res);
      else
        await readEvents(res, (type, raw) => {
          const d = parse(raw);
          if (type === "accepted") {
            remember(str(d.visitor_token));
            if (d.message && str(d.message.id)) {
              noteNewest(d.message);
              bind(turn, d.message.id);
            } else turn.el.removeAttribute("data-state");
            startLive();
          } else if (type === "typing") setTyping(true);
          else if (type === "delta") delta(str(d.text));
          else if (type === "message") {
            waiting = false;
            setTyping(false);
            addMessage(d, true);
          } else if (type === "status") setStatus(d);
          else if (type === "error") failure = str(d.detail) || str(d.title) || t.failed;
          else if (type === "done") done = true;
        });
      if (!done && !failure) failure = t.cut;
    } catch {
      // No answer at all: offline or unreachable. An answer that broke off: interrupted.
      failure = !res ? (navigator.onLine === false ? t.offline : t.failed) : t.cut;
    }
    waiting = false;
    setTyping(false);
    if (streamEl) {
      if (failure) streamEl.remove();
      else {
        streamEl.removeAttribute("data-streaming");
        streamEl.removeAttribute("aria-hidden");
      }
      streamEl = null;
    }
    if (failure) showError(turn, failure);
    else if (!turn.id) turn.el.removeAttribute("data-state");
  };

  // ---- live updates (GET /events) ------------------------------------------------------------------------------

  const onLive = (type, raw) => {
    const d = parse(raw);
    if (type === "message") {
      if (!waiting) setTyping(false);
      if (addMessage(d) && !isOpen && d.author !== "customer") {
        unread++;
        paintLauncher();
      }
    } else if (type === "status") setStatus(d);
    else if (type === "typing") setTyping(true, 8000);
  };

  /** One events connection. Resolves 1 if anything arrived, 0 if not (back off), -1 to stop (token rejected). */
  const liveOnce = async () => {
    if (!synced) {
      const r = await loadHistory();
      // No conversation yet (1): nothing to follow until the next `accepted` starts the loop again.
      if (r < 2) return r === 1 ? -1 : r;
    }
    const ctl = new AbortController();
    liveAbort = ctl;
    let heard = 0;
    try {
      const init = { signal: ctl.signal, headers: { accept: "text/event-stream" } };
      const res = await call("events", init, newest ? { after: newest } : null);
      if (res.status === 401) {
        forget();
        return -1;
      }
      if (!res.ok) return 0;
      await readEvents(res, onLive, () => {
        heard = 1;
      });
    } catch {
      /* dropped or aborted: reconnect below */
    } finally {
      liveAbort = null;
    }
    return heard;
  };

  /** Keeps one events stream open while there is a token: backoff 1, 2, 4 … 30 s with jitter, reset by success. */
  const liveLoop = async () => {
    let failures = 0;
    while (token) {
      if (parked) {
        await new Promise((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const r = await liveOnce();
      if (r < 0) break;
      failures = r > 0 ? 0 : failures + 1;
      if (parked) continue;
      // After a healthy stream ends: ~1 s; then 2, 4, 8 … capped at 30 s.
      const ms = Math.min(30000, 1000 * 2 ** failures * (0.75 + Math.random() / 2));
      await new Promise((resolve) => {
        const id = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(id);
          resolve();
        };
      });
    }
    liveOn = false;
  };
  const startLive = () => {
    if (liveOn || !token) return;
    liveOn = true;
    liveLoop();
  };

  // A page hidden for a minute drops its stream; on return it reconnects with `after=`, so nothing is missed.
  document.addEventListener("visibilitychange", () => {
    clearTimeout(parkTimer);
    if (document.hidden) {
      parkTimer = setTimeout(() => {
        parked = true;
        if (liveAbort) liveAbort.abort();
      }, 60000);
    } else {
      parked = false;
      if (wake) wake();
      wake = null;
    }
  });

  // ---- open / close --------------------------------------------------------------------------------------------

  const setOpen = (on, moveFocus) => {
    if (!ui) {
      wantOpen = on;
      return;
    }
    const focusInside = ui.panel.contains(ui.root.activeElement);
    isOpen = on;
    ui.panel.hidden = !on;
    ui.wrap.classList.toggle("open", on);
    ui.launcher.setAttribute("aria-expanded", String(on));
    if (on) unread = 0;
    paintLauncher();
    if (on) {
      ui.scroller.scrollTop = ui.scroller.scrollHeight;
      if (moveFocus) ui.input.focus({ preventScroll: true });
    } else if (moveFocus || focusInside) ui.launcher.focus({ preventScroll: true });
  };
  const api = {
    open: () => setOpen(true, true),
    close: () => setOpen(false, false),
    toggle: () => setOpen(!(ui ? isOpen : wantOpen), true),
  };

  // ---- build ---------------------------------------------------------------------------------------------------

  const build = (boot) => {
    const w = (boot && boot.widget) || {};
    const tenant = (boot && boot.tenant) || {};
    const lang = str(langAttr || w.language).toLowerCase().startsWith("de") ? "de" : "en";
    t = STRINGS[lang];
    title = str(w.title) || str(tenant.name) || "Chat";

    const launcher = h(
      "button",
      {
        type: "button",
        class: "l",
        "data-fd": "launcher",
        "aria-expanded": "false",
        "aria-controls": "fd-panel",
        onclick: api.toggle,
      },
      icon(ICON_CHAT),
    );
    const badge = h("span", { class: "bd", "aria-hidden": "true", hidden: true });
    launcher.append(badge);

    const logo = safeUrl(w.logo_url);
    const logoImg = logo ? h("img", { src: logo, alt: "", referrerpolicy: "no-referrer" }) : null;
    if (logoImg) logoImg.addEventListener("error", () => logoImg.remove());

    const log = h("div", {
      class: "g",
      "data-fd": "log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": title,
    });
    if (str(w.greeting)) {
      const greet = h("div", { class: "m", "data-fd": "greeting", "data-author": "agent" }, h("div", { class: "b" }));
      richText(greet.lastChild, w.greeting);
      log.append(greet);
    }
    const typing = h(
      "div",
      { class: "ty", "data-fd": "typing", hidden: true },
      h("i"),
      h("i"),
      h("i"),
      h("span", { class: "sr" }, t.typing),
    );
    const scroller = h("div", { class: "s" }, log, typing);

    const quick = h("div", { class: "q", "data-fd": "quick", role: "group", "aria-label": t.quick });
    for (const q of list(w.quick_replies)) {
      if (str(q)) quick.append(h("button", { type: "button", onclick: () => send(q) }, q));
    }

    const input = h("textarea", {
      "data-fd": "input",
      rows: "1",
      "aria-label": t.input,
      placeholder: str(w.placeholder) || t.ph,
      enterkeyhint: "send",
      autocomplete: "off",
    });
    const grow = () => {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
    };
    const submit = (ev) => {
      if (ev) ev.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      grow();
      send(text);
    };
    input.addEventListener("input", grow);
    input.addEventListener("keydown", (ev) => {
      // Enter sends, Shift+Enter is a newline; never while an IME is composing.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) submit(ev);
    });

    const status = h("div", { class: "st", "data-fd": "status", role: "status" });
    const panel = h(
      "div",
      {
        class: "p",
        id: "fd-panel",
        "data-fd": "panel",
        role: "dialog",
        "aria-label": t.chat.replace("%s", title),
        hidden: true,
      },
      h(
        "div",
        { class: "h" },
        logoImg,
        h("h2", null, title),
        h(
          "button",
          { type: "button", class: "x", "aria-label": t.close, onclick: () => setOpen(false, true) },
          icon(ICON_CLOSE),
        ),
      ),
      status,
      scroller,
      quick,
      h(
        "form",
        { class: "f", onsubmit: submit },
        input,
        h("button", { type: "submit", class: "sd", "data-fd": "send", "aria-label": t.send }, icon(ICON_SEND)),
      ),
    );

    const wrap = h("div", { class: "w" + (w.position === "left" ? " left" : ""), lang, dir: "ltr" }, panel, launcher);
    wrap.style.setProperty("--c", hex(w.color, "#2563eb"));
    wrap.style.setProperty("--t", hex(w.text_color, "#ffffff"));
    wrap.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && isOpen) {
        ev.stopPropagation();
        setOpen(false, true);
      }
    });

    const host = document.createElement("frontdesk-widget");
    const root = host.attachShadow({ mode: "open" });
    try {
      // A constructed sheet also works on pages whose CSP forbids inline <style>.
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(h("style", null, CSS));
    }
    root.append(wrap);

    ui = { root, wrap, launcher, badge, panel, log, typing, scroller, quick, input, status };
    paintLauncher();
    refreshQuick();
    const mount = () => {
      document.body.append(host);
      if (wantOpen) setOpen(true, false);
    };
    if (document.body) mount();
    else document.addEventListener("DOMContentLoaded", mount, { once: true });

    if (token) {
      queue = queue.then(async () => {
        const r = await loadHistory();
        refreshQuick();
        if (r === 2 || r === 0) startLive();
      });
    }
  };

  /** GET /bootstrap, retried with backoff on network or server errors; a 4xx means this tenant has no widget. */
  const boot = async () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        const res = await fetch(apiUrl("bootstrap"), { mode: "cors", credentials: "omit" });
        if (res.ok) return build(await res.json());
        if (res.status < 500 && res.status !== 429) {
          return console.warn("Frontdesk widget: no chat for tenant " + JSON.stringify(slug) + " (" + res.status + ")");
        }
      } catch {
        /* offline or unreachable: retry */
      }
      await sleep(Math.min(30000, 1000 * 2 ** attempt));
    }
  };

  window.FrontdeskWidget = Object.freeze(api);
  boot();
})();

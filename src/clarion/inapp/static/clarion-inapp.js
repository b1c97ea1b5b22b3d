/*!
 * Clarion in-app web SDK: fetches a device's in-app alerts, draws them from the
 * payload alone (standard modal, banner, fullscreen interstitial), draws the
 * notification center, and posts impression and CTA feedback back unchanged.
 *
 * Plain modern JavaScript, no dependencies, no build step. Use it either way:
 *
 *   <script src="https://clarion.example.com/sdk/clarion-inapp.js"></script>
 *   <script>const client = ClarionInApp.create({...});</script>
 *
 *   import { create } from "https://clarion.example.com/sdk/clarion-inapp.esm.js";
 *   // or, for the global only: import "https://clarion.example.com/sdk/clarion-inapp.js";
 *
 * Payload text is only ever set with textContent (never innerHTML), and a LINK
 * becomes an <a href> only for http(s), mailto, tel or relative URLs.
 */
(function (root) {
  "use strict";

  const VERSION = "0.1.0";
  const CSS_ID = "clarion-inapp-css";
  const TEMPLATES = ["standard", "banner", "fullscreen"];
  const MODALS = new Set(["standard", "fullscreen"]);
  const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:", "tel:"]);
  const IMAGE_PROTOCOLS = new Set(["http:", "https:"]);
  // Whitespace and control characters are dropped by URL parsers ("java\tscript:"),
  // backslashes turned into slashes: a URL holding any of them is never a link.
  const URL_NOISE = /[\u0000-\u0020\u007f-\u009f\\]/;
  const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
  const RETRY_STATUSES = new Set([429, 502, 503, 504]);
  const DEFAULT_LABELS = Object.freeze({
    notifications: "Notifications",
    more: "More",
    archive: "Archive",
    unarchive: "Unarchive",
    markAllRead: "Mark all as read",
    empty: "You're all caught up.",
    unread: (count) => `${count} unread`,
  });

  let lastId = 0;
  const newId = (kind) => `clarion-${kind}-${++lastId}`;

  const CSS = `
.clarion-root, .clarion-root *, .clarion-root *::before, .clarion-root *::after { box-sizing: border-box; }
.clarion-root {
  --clarion-accent: #4338ca; --clarion-accent-hover: #3730a3; --clarion-on-accent: #ffffff;
  --clarion-fg: #111827; --clarion-muted: #4b5563; --clarion-bg: #ffffff; --clarion-line: #e5e7eb;
  --clarion-focus: #6366f1; --clarion-radius: 16px;
  --clarion-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  font-family: var(--clarion-font); font-size: 16px; line-height: 1.5; color: var(--clarion-fg);
  -webkit-font-smoothing: antialiased; text-align: left;
}
.clarion-root a.clarion-link { color: var(--clarion-accent); text-decoration: underline; text-underline-offset: 2px; }
.clarion-root a.clarion-link:focus-visible { outline: 2px solid var(--clarion-focus); outline-offset: 2px; border-radius: 3px; }
.clarion-overlay {
  position: fixed; inset: 0; z-index: 2147483000; display: flex; align-items: center; justify-content: center;
  padding: 24px; background: rgba(15, 23, 42, 0.55); animation: clarion-fade 160ms ease-out;
}
.clarion-alert:focus { outline: none; }
.clarion-alert--standard {
  width: 100%; max-width: 440px; max-height: calc(100vh - 48px); overflow: auto;
  padding: 32px 28px 24px; background: var(--clarion-bg); border-radius: var(--clarion-radius);
  box-shadow: 0 24px 64px rgba(15, 23, 42, 0.28), 0 2px 8px rgba(15, 23, 42, 0.12);
  text-align: center; animation: clarion-pop 180ms ease-out;
}
.clarion-title { margin: 0; font-size: 1.3rem; line-height: 1.3; font-weight: 700; letter-spacing: -0.01em; }
.clarion-body { margin: 10px 0 0; color: var(--clarion-muted); }
.clarion-body strong, .clarion-title strong { color: var(--clarion-fg); font-weight: 700; }
.clarion-ctas { display: flex; flex-direction: column; gap: 8px; margin-top: 24px; }
.clarion-cta {
  font: inherit; font-weight: 600; cursor: pointer; border-radius: 10px; border: 1px solid transparent;
  padding: 11px 20px; min-height: 44px; transition: background-color 120ms, box-shadow 120ms;
}
.clarion-cta--button { background: #eef2ff; color: var(--clarion-accent); }
.clarion-cta--button:hover { background: #e0e7ff; }
.clarion-cta--button.selected { background: var(--clarion-accent); color: var(--clarion-on-accent); }
.clarion-cta--button.selected:hover { background: var(--clarion-accent-hover); }
.clarion-cta--link { background: transparent; color: var(--clarion-muted); font-weight: 500; }
.clarion-cta--link:hover { color: var(--clarion-fg); text-decoration: underline; text-underline-offset: 3px; }
.clarion-cta:focus { outline: none; }
.clarion-cta:focus-visible { box-shadow: 0 0 0 3px var(--clarion-bg), 0 0 0 6px var(--clarion-focus); }
.clarion-footer {
  margin: 20px 0 0; padding-top: 16px; border-top: 1px solid var(--clarion-line);
  font-size: 0.85rem; color: var(--clarion-muted);
}
.clarion-alert--banner {
  position: fixed; top: 0; left: 0; right: 0; z-index: 2147482000;
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 10px 20px;
  background: #111827; color: #f9fafb; font-size: 0.95rem;
  box-shadow: 0 4px 16px rgba(15, 23, 42, 0.25); animation: clarion-slide 180ms ease-out;
  --clarion-bg: #111827; --clarion-focus: #a5b4fc;
}
.clarion-alert--banner .clarion-text { flex: 1 1 320px; min-width: 0; }
.clarion-alert--banner .clarion-title { display: inline; font-size: inherit; margin-right: 6px; }
.clarion-alert--banner .clarion-body { display: inline; margin: 0; color: #d1d5db; }
.clarion-alert--banner .clarion-body strong { color: #ffffff; }
.clarion-alert--banner .clarion-ctas { flex-direction: row; align-items: center; margin: 0; gap: 4px; }
.clarion-alert--banner .clarion-cta { min-height: 36px; padding: 6px 14px; font-size: 0.9rem; }
.clarion-alert--banner .clarion-cta--button { background: rgba(255, 255, 255, 0.12); color: #ffffff; }
.clarion-alert--banner .clarion-cta--button.selected { background: #ffffff; color: #111827; }
.clarion-alert--banner .clarion-cta--link { color: #d1d5db; }
.clarion-alert--banner .clarion-cta--link:hover { color: #ffffff; }
.clarion-alert--banner .clarion-footer { flex-basis: 100%; margin: 0; padding: 0; border: 0; font-size: 0.8rem; color: #9ca3af; }
.clarion-alert--banner a.clarion-link { color: #c7d2fe; }
.clarion-alert--fullscreen {
  position: fixed; inset: 0; z-index: 2147483000; overflow: auto;
  display: flex; flex-direction: column; align-items: center; justify-content: center; padding: 48px 24px;
  background: radial-gradient(circle at 50% 0%, #312e81 0%, #111827 62%); color: #f9fafb;
  text-align: center; animation: clarion-fade 200ms ease-out;
  --clarion-bg: #111827; --clarion-focus: #a5b4fc; --clarion-muted: #d1d5db;
}
.clarion-alert--fullscreen .clarion-content { width: 100%; max-width: 560px; }
.clarion-alert--fullscreen .clarion-title { font-size: clamp(1.75rem, 4vw, 2.5rem); line-height: 1.2; }
.clarion-alert--fullscreen .clarion-body { margin-top: 16px; font-size: 1.1rem; }
.clarion-alert--fullscreen .clarion-body strong { color: #ffffff; }
.clarion-alert--fullscreen .clarion-ctas { max-width: 360px; margin: 36px auto 0; }
.clarion-alert--fullscreen .clarion-cta { min-height: 52px; font-size: 1.05rem; }
.clarion-alert--fullscreen .clarion-cta--button { background: rgba(255, 255, 255, 0.12); color: #ffffff; }
.clarion-alert--fullscreen .clarion-cta--button.selected { background: #ffffff; color: #1e1b4b; }
.clarion-alert--fullscreen .clarion-cta--link:hover { color: #ffffff; }
.clarion-alert--fullscreen .clarion-footer { border-color: rgba(255, 255, 255, 0.16); color: #9ca3af; margin-top: 40px; }
.clarion-alert--fullscreen a.clarion-link { color: #c7d2fe; }
html.clarion-scroll-lock { overflow: hidden; }
.clarion-center {
  display: flex; flex-direction: column; width: 100%; max-width: 420px; background: var(--clarion-bg);
  border: 1px solid var(--clarion-line); border-radius: var(--clarion-radius); overflow: hidden;
  box-shadow: 0 8px 28px rgba(15, 23, 42, 0.10);
}
.clarion-center__header {
  display: flex; align-items: center; gap: 10px; padding: 16px 20px; border-bottom: 1px solid var(--clarion-line);
}
.clarion-center__title { margin: 0; font-size: 1.05rem; font-weight: 700; }
.clarion-center__read-all {
  margin-left: auto; padding: 4px 10px; border: 0; border-radius: 8px; background: transparent;
  color: var(--clarion-accent); font: inherit; font-size: 0.85rem; font-weight: 600; cursor: pointer;
}
.clarion-center__read-all:hover { background: #eef2ff; }
.clarion-center__read-all[hidden] { display: none; }
.clarion-center__read-all:focus { outline: none; }
.clarion-center__read-all:focus-visible { box-shadow: 0 0 0 2px var(--clarion-focus); }
.clarion-item--archived { opacity: 0.7; }
.clarion-badge {
  display: inline-flex; align-items: center; justify-content: center; min-width: 22px; height: 22px;
  padding: 0 7px; border-radius: 999px; background: #dc2626; color: #ffffff; font-size: 0.75rem; font-weight: 700;
}
.clarion-badge[hidden] { display: none; }
.clarion-center__list { list-style: none; margin: 0; padding: 0; }
.clarion-item {
  position: relative; display: flex; gap: 12px; padding: 14px 48px 14px 20px;
  border-bottom: 1px solid var(--clarion-line); cursor: pointer;
}
.clarion-item:hover { background: #f9fafb; }
.clarion-item--unread { background: #f5f7ff; }
.clarion-item--unread::before {
  content: ""; position: absolute; left: 7px; top: 22px; width: 7px; height: 7px; border-radius: 50%;
  background: var(--clarion-accent);
}
.clarion-item__image { flex: none; width: 56px; height: 56px; border-radius: 8px; object-fit: cover; background: #e5e7eb; }
.clarion-item__text { min-width: 0; flex: 1; }
.clarion-item__open {
  display: block; width: 100%; padding: 0; margin: 0; border: 0; background: none; cursor: pointer;
  font: inherit; font-weight: 600; color: var(--clarion-fg); text-align: left;
}
.clarion-item--read .clarion-item__open { font-weight: 500; }
.clarion-item__open:focus { outline: none; }
.clarion-item__open:focus-visible { outline: 2px solid var(--clarion-focus); outline-offset: 2px; border-radius: 4px; }
.clarion-item__body { margin: 2px 0 0; font-size: 0.9rem; color: var(--clarion-muted); }
.clarion-item__time { display: block; font-size: 0.75rem; color: #6b7280; margin-top: 4px; }
.clarion-item__archive {
  position: absolute; top: 10px; right: 10px; width: 30px; height: 30px; border: 0; border-radius: 8px;
  background: transparent; color: #6b7280; font: inherit; font-size: 1.1rem; line-height: 1; cursor: pointer;
}
.clarion-item__archive:hover { background: #eef2ff; color: var(--clarion-fg); }
.clarion-item__archive:focus { outline: none; }
.clarion-item__archive:focus-visible { box-shadow: 0 0 0 2px var(--clarion-focus); }
.clarion-center__empty { margin: 0; padding: 28px 20px; text-align: center; color: var(--clarion-muted); }
.clarion-center__more {
  margin: 12px 20px; padding: 8px 14px; border: 1px solid var(--clarion-line); border-radius: 10px;
  background: var(--clarion-bg); color: var(--clarion-accent); font: inherit; font-weight: 600; cursor: pointer;
}
.clarion-center__more:focus { outline: none; }
.clarion-center__more:focus-visible { box-shadow: 0 0 0 3px var(--clarion-focus); }
@keyframes clarion-fade { from { opacity: 0; } to { opacity: 1; } }
@keyframes clarion-pop { from { opacity: 0; transform: translateY(8px) scale(0.98); } to { opacity: 1; transform: none; } }
@keyframes clarion-slide { from { transform: translateY(-100%); } to { transform: none; } }
@media (prefers-reduced-motion: reduce) {
  .clarion-overlay, .clarion-alert--standard, .clarion-alert--banner, .clarion-alert--fullscreen { animation: none; }
}
`;

  /** An HTTP answer other than 2xx; `status` is 0 when the request never got one. */
  class ClarionError extends Error {
    constructor(message, status, body) {
      super(message);
      this.name = "ClarionError";
      this.status = status;
      this.body = body;
    }
  }

  /** `url` when it may be an <a href> (http, https, mailto, tel, or relative), else null. */
  function safeLinkUrl(url, base) {
    return checkedUrl(url, base, LINK_PROTOCOLS);
  }

  function checkedUrl(url, base, protocols) {
    if (typeof url !== "string" || url === "" || url.length > 2048 || URL_NOISE.test(url)) {
      return null;
    }
    const scheme = SCHEME.exec(url);
    if (scheme && !protocols.has(scheme[1].toLowerCase() + ":")) return null;
    if (!scheme && url.startsWith("//")) return null; // another host without saying how
    let resolved;
    try {
      resolved = new URL(url, base || "http://localhost/");
    } catch (_) {
      return null;
    }
    return protocols.has(resolved.protocol) ? url : null;
  }

  /** Whether `page` (a path or URL) is one of `blockedPages` or under one, by path segment. */
  function isBlocked(page, blockedPages) {
    if (!page || !Array.isArray(blockedPages) || blockedPages.length === 0) return false;
    let path;
    try {
      path = new URL(String(page), "http://localhost/").pathname || "/";
    } catch (_) {
      return false;
    }
    return blockedPages.some((prefix) => {
      if (typeof prefix !== "string") return false;
      const base = prefix.replace(/\/+$/, "");
      return base === "" || path === base || path.startsWith(base + "/");
    });
  }

  /** Appends copy elements to `parent`: TEXT as text, BOLD as <strong>, NEWLINE as <br>,
   * LINK as <a> (or as text when its URL is not safe). Unknown elements become text. */
  function appendCopy(parent, elements) {
    const doc = parent.ownerDocument;
    if (!Array.isArray(elements)) return parent;
    for (const element of elements) {
      if (!element || typeof element !== "object") continue;
      const content = typeof element.content === "string" ? element.content : "";
      if (element.elementType === "BOLD") {
        const strong = doc.createElement("strong");
        strong.textContent = content;
        parent.appendChild(strong);
      } else if (element.elementType === "NEWLINE") {
        parent.appendChild(doc.createElement("br"));
      } else if (element.elementType === "LINK") {
        const href = safeLinkUrl(element.url, doc.baseURI);
        if (href === null) {
          parent.appendChild(doc.createTextNode(content));
          continue;
        }
        const link = doc.createElement("a");
        link.className = "clarion-link";
        link.href = href;
        link.rel = "noopener";
        if (/^https?:/i.test(href)) link.target = "_blank";
        link.textContent = content || href;
        parent.appendChild(link);
      } else {
        parent.appendChild(doc.createTextNode(content));
      }
    }
    return parent;
  }

  function el(doc, tag, className, attributes) {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function copyOf(block) {
    return block && typeof block === "object" && Array.isArray(block.copy) ? block.copy : null;
  }

  function ensureStyles(doc, nonce) {
    if (doc.getElementById(CSS_ID)) return;
    const style = doc.createElement("style");
    style.id = CSS_ID;
    if (nonce) style.nonce = nonce;
    style.textContent = CSS;
    (doc.head || doc.documentElement).appendChild(style);
  }

  function focusables(container) {
    return Array.from(
      container.querySelectorAll("button:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])")
    ).filter((node) => node.getClientRects().length > 0);
  }

  function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** One alert on screen (or waiting for its turn, for a modal). */
  class AlertView {
    constructor(client, container, alert) {
      this.client = client;
      this.container = container;
      this.alert = alert;
      this.templateId = TEMPLATES.includes(alert.templateId) ? alert.templateId : "standard";
      this.modal = MODALS.has(this.templateId);
      this.element = null; // the outermost node, once shown
      this.dialog = null;
      this.shown = false;
      this.closed = false;
      this._previousFocus = null;
      this._onKey = (event) => this._key(event);
      this.done = new Promise((resolve) => {
        this._resolve = resolve;
      });
    }

    show() {
      if (this.shown || this.closed) return;
      this.shown = true;
      const doc = this.container.ownerDocument;
      this._previousFocus = doc.activeElement;
      const { element, dialog, selected } = this._build(doc);
      this.element = element;
      this.dialog = dialog;
      this.container.appendChild(element);
      if (this.modal) doc.documentElement.classList.add("clarion-scroll-lock");
      dialog.addEventListener("keydown", this._onKey);
      if (this.modal || selected) {
        (selected || focusables(dialog)[0] || dialog).focus({ preventScroll: true });
      }
      const feedback = this.alert.attributes && this.alert.attributes.impressionFeedback;
      if (feedback) this.client._background(this.client.postFeedback(feedback));
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      if (this.element) {
        this.dialog.removeEventListener("keydown", this._onKey);
        this.element.remove();
        const doc = this.container.ownerDocument;
        if (this.modal && !doc.querySelector(".clarion-alert[aria-modal='true']")) {
          doc.documentElement.classList.remove("clarion-scroll-lock");
        }
        const back = this._previousFocus;
        if (back && typeof back.focus === "function" && doc.contains(back)) {
          back.focus({ preventScroll: true });
        }
      }
      this._resolve(this);
    }

    _build(doc) {
      const template = (this.alert && this.alert.template) || {};
      const titleId = newId("title");
      const bodyId = newId("body");
      const dialog = el(doc, "div", `clarion-root clarion-alert clarion-alert--${this.templateId}`, {
        role: "dialog",
        tabindex: "-1",
        "aria-describedby": bodyId,
        "data-clarion-alert": "",
        "data-clarion-template": this.templateId,
      });
      if (this.modal) dialog.setAttribute("aria-modal", "true");
      const content = el(doc, "div", this.templateId === "banner" ? "clarion-text" : "clarion-content");
      const title = copyOf(template.title);
      if (title) {
        const heading = el(doc, "h2", "clarion-title", { id: titleId, "data-clarion-title": "" });
        content.appendChild(appendCopy(heading, title));
      }
      dialog.setAttribute("aria-labelledby", title ? titleId : bodyId);
      const body = el(doc, "p", "clarion-body", { id: bodyId, "data-clarion-body": "" });
      content.appendChild(appendCopy(body, copyOf(template.body) || []));
      dialog.appendChild(content);

      const ctas = el(doc, "div", "clarion-ctas", { "data-clarion-ctas": "" });
      let selected = null;
      for (const cta of Array.isArray(template.ctas) ? template.ctas : []) {
        if (!cta || typeof cta !== "object") continue;
        const kind = cta.ctaType === "LINK" ? "link" : "button";
        const button = el(doc, "button", `clarion-cta clarion-cta--${kind}`, {
          type: "button",
          "data-clarion-cta": String(cta.action || ""),
          "data-clarion-action-type": String(cta.actionType || ""),
        });
        appendCopy(button, Array.isArray(cta.copy) ? cta.copy : []);
        if (cta.isSelected === true && selected === null) {
          button.classList.add("selected");
          button.setAttribute("data-clarion-selected", "true");
          selected = button;
        }
        button.addEventListener("click", () => this._click(cta));
        ctas.appendChild(button);
      }
      (this.templateId === "banner" ? dialog : content).appendChild(ctas);

      const footer = copyOf(template.footer);
      if (footer) {
        const foot = el(doc, "p", "clarion-footer", { "data-clarion-footer": "" });
        (this.templateId === "banner" ? dialog : content).appendChild(appendCopy(foot, footer));
      }
      if (this.templateId !== "standard") return { element: dialog, dialog, selected };
      const overlay = el(doc, "div", "clarion-root clarion-overlay", { "data-clarion-overlay": "" });
      overlay.appendChild(dialog);
      return { element: overlay, dialog, selected };
    }

    _click(cta) {
      if (this.closed) return;
      if (cta.actionType === "BACKEND" && cta.ctaFeedback) {
        // The service runs the action itself; when that fails, its answer carries the
        // alert to show instead (the fallback, in this device's locale).
        const answer = this.client.postFeedback(cta.ctaFeedback, { locale: true });
        this.client._background(answer.then((reply) => this._fallback(reply)));
      } else if (cta.ctaFeedback) {
        this.client._background(this.client.postFeedback(cta.ctaFeedback));
      }
      if (cta.actionType === "REDIRECT") {
        this.container.dispatchEvent(
          new CustomEvent("clarion:action", {
            bubbles: true,
            composed: true,
            detail: { action: cta.action, actionType: cta.actionType },
          })
        );
      }
      // DISMISS, ACKNOWLEDGE, REDIRECT and BACKEND (run by the service) all close the alert.
      this.close();
    }

    _fallback(reply) {
      const alert = reply && reply.fallback;
      if (alert && typeof alert === "object" && alert.template) {
        this.client.showAlerts(this.container, [alert]);
      }
    }

    _key(event) {
      if (event.key === "Escape") {
        const dismiss = (this.alert.template.ctas || []).find((c) => c && c.actionType === "DISMISS");
        if (dismiss) {
          event.preventDefault();
          this._click(dismiss);
        }
      } else if (event.key === "Tab" && this.modal) {
        const nodes = focusables(this.dialog);
        if (nodes.length === 0) return;
        const doc = this.dialog.ownerDocument;
        const first = nodes[0];
        const last = nodes[nodes.length - 1];
        if (event.shiftKey && (doc.activeElement === first || doc.activeElement === this.dialog)) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && doc.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    }
  }

  /** The notification center drawn into a container. */
  class NotificationCenter {
    constructor(client, container, options) {
      this.client = client;
      this.container = container;
      this.limit = Math.max(1, Math.min(100, Number(options.limit) || 20));
      // With `archived`, archived items are listed too, each with an Unarchive button.
      this.archived = options.archived === true;
      this.labels = client.labels;
      this.unread = 0;
      this.cursor = null;
      this.items = new Map(); // guid -> {item, node}
      this._seen = new Set();
      this._observer = null;
      this._build();
    }

    _build() {
      const doc = this.container.ownerDocument;
      const titleId = newId("center");
      this.element = el(doc, "section", "clarion-root clarion-center", {
        "aria-labelledby": titleId,
        "data-clarion-center": "",
      });
      const header = el(doc, "div", "clarion-center__header");
      const title = el(doc, "h2", "clarion-center__title", { id: titleId });
      title.textContent = this.labels.notifications;
      this.badge = el(doc, "span", "clarion-badge", { "data-clarion-badge": "0" });
      this.badge.hidden = true;
      this.readAll = el(doc, "button", "clarion-center__read-all", {
        type: "button",
        "data-clarion-read-all": "",
      });
      this.readAll.textContent = this.labels.markAllRead;
      this.readAll.hidden = true;
      this.readAll.addEventListener("click", () => this.markAllRead());
      header.append(title, this.badge, this.readAll);
      this.list = el(doc, "ul", "clarion-center__list", { role: "list", "aria-live": "polite" });
      this.empty = el(doc, "p", "clarion-center__empty", { "data-clarion-empty": "" });
      this.empty.textContent = this.labels.empty;
      this.empty.hidden = true;
      this.more = el(doc, "button", "clarion-center__more", { type: "button", "data-clarion-more": "" });
      this.more.textContent = this.labels.more;
      this.more.hidden = true;
      this.more.addEventListener("click", () => this.load());
      this.element.append(header, this.list, this.empty, this.more);
      this.container.appendChild(this.element);
      const view = doc.defaultView;
      if (view && typeof view.IntersectionObserver === "function") {
        this._observer = new view.IntersectionObserver((entries) => {
          for (const entry of entries) {
            if (entry.isIntersecting) this._impression(entry.target.getAttribute("data-clarion-notification"));
          }
        });
      }
    }

    /** Loads the next page (the first one on the first call) and appends it. */
    async load() {
      this.more.disabled = true;
      try {
        const page = await this.client.fetchNotifications({
          limit: this.limit,
          cursor: this.cursor,
          archived: this.archived,
        });
        this.unread = Math.max(0, Number(page.unreadCount) || 0);
        this.cursor = page.nextCursor || null;
        for (const item of page.notifications || []) this._add(item);
        this._refresh();
        return page;
      } finally {
        this.more.disabled = false;
      }
    }

    /** Empties the list and loads the first page again. */
    async reload() {
      for (const { node } of this.items.values()) node.remove();
      this.items.clear();
      this.cursor = null;
      return this.load();
    }

    /** Marks every listed item read, here at once and on the server for every device. */
    markAllRead() {
      for (const guid of this.items.keys()) {
        this.items.get(guid).item.read = true;
        this._paint(guid);
      }
      this.unread = 0;
      this._refresh();
      return this.client.markAllRead().catch((error) => this.client.onError(error));
    }

    destroy() {
      if (this._observer) this._observer.disconnect();
      this.element.remove();
    }

    _add(item) {
      if (!item || typeof item.guid !== "string" || this.items.has(item.guid)) return;
      if (item.archived && !this.archived) return;
      const doc = this.container.ownerDocument;
      const template = item.template || {};
      const node = el(doc, "li", "clarion-item", { "data-clarion-notification": item.guid });
      const image = template.image && checkedUrl(template.image, doc.baseURI, IMAGE_PROTOCOLS);
      if (image) {
        node.appendChild(el(doc, "img", "clarion-item__image", { src: image, alt: "", loading: "lazy" }));
      }
      const text = el(doc, "div", "clarion-item__text");
      const open = el(doc, "button", "clarion-item__open", { type: "button", "data-clarion-open": "" });
      appendCopy(open, copyOf(template.title) || []);
      const body = el(doc, "p", "clarion-item__body");
      appendCopy(body, copyOf(template.body) || []);
      text.append(open, body);
      const created = new Date(item.createdAt);
      if (!Number.isNaN(created.getTime())) {
        const time = el(doc, "time", "clarion-item__time", { datetime: created.toISOString() });
        time.textContent = this.client._formatTime(created);
        text.appendChild(time);
      }
      node.appendChild(text);
      node.appendChild(this._archiveButton(doc, item, open.textContent));
      node.addEventListener("click", () => this._open(item.guid));
      this.items.set(item.guid, { item, node });
      this._paint(item.guid);
      this.list.appendChild(node);
      if (this._observer) this._observer.observe(node);
      else this._impression(item.guid);
    }

    /** The item's archive button, or for an archived item its unarchive button. */
    _archiveButton(doc, item, name) {
      const undo = Boolean(item.archived);
      const label = undo ? this.labels.unarchive : this.labels.archive;
      const button = el(doc, "button", "clarion-item__archive", {
        type: "button",
        [undo ? "data-clarion-unarchive" : "data-clarion-archive"]: "",
        "aria-label": `${label}: ${name}`,
        title: label,
      });
      button.textContent = undo ? "\u21a9" : "\u00d7";
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        if (undo) this._unarchive(item.guid, button, name);
        else this._archive(item.guid);
      });
      return button;
    }

    _paint(guid) {
      const { item, node } = this.items.get(guid);
      node.classList.toggle("clarion-item--archived", Boolean(item.archived));
      node.setAttribute("data-clarion-archived", item.archived ? "true" : "false");
      node.classList.toggle("clarion-item--unread", !item.read);
      node.classList.toggle("clarion-item--read", Boolean(item.read));
      node.setAttribute("data-clarion-read", item.read ? "true" : "false");
    }

    _refresh() {
      this.badge.textContent = String(this.unread);
      this.badge.setAttribute("data-clarion-badge", String(this.unread));
      this.badge.setAttribute("aria-label", this.labels.unread(this.unread));
      this.badge.hidden = this.unread === 0;
      this.readAll.hidden = this.unread === 0;
      this.more.hidden = !this.cursor;
      this.empty.hidden = this.items.size > 0 || Boolean(this.cursor);
    }

    _impression(guid) {
      const entry = guid && this.items.get(guid);
      if (!entry || this._seen.has(guid)) return;
      this._seen.add(guid);
      if (this._observer) this._observer.unobserve(entry.node);
      if (entry.item.impressionFeedback) {
        this.client._background(this.client.postFeedback(entry.item.impressionFeedback));
      }
    }

    _open(guid) {
      const entry = this.items.get(guid);
      if (!entry) return;
      const { item } = entry;
      const action = item.template && item.template.action;
      if (action && action.actionFeedback) {
        this.client._background(this.client.postFeedback(action.actionFeedback));
      }
      if (!item.read) {
        item.read = true;
        this.unread = Math.max(0, this.unread - 1);
        this._paint(guid);
        this._refresh();
        this.client._background(this.client.markRead(guid));
      }
      if (action && action.actionType === "REDIRECT") {
        this.container.dispatchEvent(
          new CustomEvent("clarion:action", {
            bubbles: true,
            composed: true,
            detail: { action: action.action, actionType: action.actionType, notification: guid },
          })
        );
      }
    }

    _unarchive(guid, button, name) {
      const entry = this.items.get(guid);
      if (!entry) return;
      entry.item.archived = false;
      button.replaceWith(this._archiveButton(entry.node.ownerDocument, entry.item, name));
      this._paint(guid);
      this.client._background(this.client.unarchive(guid));
    }

    _archive(guid) {
      const entry = this.items.get(guid);
      if (!entry) return;
      if (this._observer) this._observer.unobserve(entry.node);
      entry.node.remove();
      this.items.delete(guid);
      if (!entry.item.read) this.unread = Math.max(0, this.unread - 1);
      this._refresh();
      this.client._background(this.client.archive(guid));
    }
  }

  /** A device's connection to Clarion. */
  class Client {
    constructor(options) {
      const o = options || {};
      if (!o.token) throw new TypeError("ClarionInApp.create: token is required");
      if (!o.deviceId) throw new TypeError("ClarionInApp.create: deviceId is required");
      const base = o.baseUrl === undefined || o.baseUrl === null ? "" : String(o.baseUrl);
      this.baseUrl = base.replace(/\/+$/, "");
      this.token = o.token; // a string, or a function giving one (or a promise of one)
      this.deviceId = String(o.deviceId);
      this.appVersion = o.appVersion === undefined || o.appVersion === null ? null : String(o.appVersion);
      const nav = root.navigator;
      this.locale = o.locale || (nav && nav.language) || "en";
      this.platform = o.platform || "web";
      this.labels = Object.assign({}, DEFAULT_LABELS, o.labels || {});
      this.styleNonce = o.styleNonce || null;
      this.injectStyles = o.injectStyles !== false;
      this.onError = typeof o.onError === "function" ? o.onError : (error) => console.warn("clarion:", error);
      this._fetch = o.fetch || root.fetch.bind(root);
      this._modalQueue = [];
      this._modal = null;
      this._views = new Set(); // every alert view not yet closed
    }

    /** The alerts for `page` (default: the current path), most important first. */
    async fetchAlerts(page) {
      const query = {
        platform: this.platform,
        deviceId: this.deviceId,
        appVersion: this.appVersion,
        locale: this.locale,
        page: page === undefined ? currentPath() : page,
      };
      const data = await this._request("GET", "/v1/inapp/alerts", { query });
      return data && Array.isArray(data.alerts) ? data.alerts : [];
    }

    /** Fetches the alerts for `options.page` and shows them in `container` (see showAlerts). */
    async renderAlerts(container, options) {
      const page = options && options.page !== undefined ? options.page : currentPath();
      const alerts = await this.fetchAlerts(page);
      return this.showAlerts(container, alerts, { page });
    }

    /** Shows `alerts` in `container`: banners at once, modals (standard, fullscreen) one at
     * a time in the given order. An alert blocked on `options.page` is not shown at all.
     * Returns the views (`view.done` settles when the alert closes). */
    showAlerts(container, alerts, options) {
      const target = container || root.document.body;
      if (this.injectStyles) ensureStyles(target.ownerDocument, this.styleNonce);
      const page = options && options.page !== undefined ? options.page : currentPath();
      const views = [];
      for (const alert of Array.isArray(alerts) ? alerts : []) {
        if (!alert || typeof alert !== "object" || !alert.template) continue;
        const blocked = alert.attributes && alert.attributes.blockedPages;
        if (isBlocked(page, blocked)) continue;
        const view = new AlertView(this, target, alert);
        views.push(view);
        this._views.add(view);
        view.done.then(() => this._views.delete(view));
        if (view.modal) {
          this._modalQueue.push(view);
          view.done.then(() => this._nextModal(view));
        } else {
          view.show();
        }
      }
      this._nextModal(null);
      return views;
    }

    /** Closes every alert this client shows or has queued. */
    closeAlerts() {
      this._modalQueue.splice(0);
      for (const view of Array.from(this._views)) view.close();
    }

    _nextModal(closed) {
      if (closed !== null && this._modal !== closed) return;
      if (closed !== null) this._modal = null;
      while (this._modal === null && this._modalQueue.length > 0) {
        const view = this._modalQueue.shift();
        if (view.closed) continue;
        this._modal = view;
        view.show();
      }
    }

    /** Draws the notification center into `container` and loads its first page. */
    async renderNotificationCenter(container, options) {
      if (this.injectStyles) ensureStyles(container.ownerDocument, this.styleNonce);
      const center = new NotificationCenter(this, container, options || {});
      await center.load();
      return center;
    }

    /** A page of the notification center: {notifications, unreadCount, nextCursor}, the
     * items this device may show, in its locale (`archived: true` lists archived ones too). */
    async fetchNotifications(options) {
      const o = options || {};
      const query = {
        ...this._device(),
        locale: this.locale,
        limit: o.limit || 20,
        cursor: o.cursor || null,
        archived: o.archived ? "true" : null,
      };
      return this._request("GET", "/v1/inapp/notifications", { query });
    }

    /** Marks read every unread item this device's center lists: {marked}. */
    markAllRead() {
      const query = this._device();
      return this._request("POST", "/v1/inapp/notifications/read-all", { query, retries: 2 });
    }

    unarchive(guid) {
      const path = `/v1/inapp/notifications/${encodeURIComponent(guid)}/unarchive`;
      return this._request("POST", path, { retries: 2 });
    }

    /** What this device says about itself on every center request. */
    _device() {
      return { platform: this.platform, deviceId: this.deviceId, appVersion: this.appVersion };
    }

    markRead(guid) {
      const path = `/v1/inapp/notifications/${encodeURIComponent(guid)}/read`;
      return this._request("POST", path, { retries: 2 });
    }

    archive(guid) {
      const path = `/v1/inapp/notifications/${encodeURIComponent(guid)}/archive`;
      return this._request("POST", path, { retries: 2 });
    }

    /** Posts a feedback object exactly as it was received, with this device's context
     * (and its locale with `{locale: true}`: for a BACKEND CTA, whose answer may carry
     * a fallback alert to show). Resolves to the answer: {status, effects, fallback?}. */
    postFeedback(feedback, options) {
      if (!feedback || typeof feedback !== "object") {
        return Promise.reject(new TypeError("feedback must be the object received"));
      }
      const context = { platform: this.platform, deviceId: this.deviceId };
      if (this.appVersion !== null) context.appVersion = this.appVersion;
      if (options && options.locale) context.locale = this.locale;
      const body = JSON.stringify({ feedback, context });
      return this._request("POST", "/v1/inapp/feedback", { body, retries: 2 });
    }

    async _request(method, path, options) {
      const o = options || {};
      const url = new URL(this.baseUrl + path, root.location ? root.location.href : undefined);
      for (const [name, value] of Object.entries(o.query || {})) {
        if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
      }
      const token = typeof this.token === "function" ? await this.token() : this.token;
      const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
      if (o.body !== undefined) headers["Content-Type"] = "application/json";
      const init = {
        method,
        headers,
        body: o.body,
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        // Lets feedback reach the service when the page navigates right after a click.
        keepalive: method === "POST" && (o.body || "").length < 60000,
      };
      const attempts = 1 + (o.retries || 0);
      for (let attempt = 1; ; attempt++) {
        let response;
        try {
          response = await this._fetch(url.toString(), init);
        } catch (error) {
          if (attempt < attempts) {
            await delay(200 * 2 ** attempt);
            continue;
          }
          throw new ClarionError(`${method} ${path}: ${error.message}`, 0, null);
        }
        if (response.ok) {
          if (response.status === 204) return null;
          const text = await response.text();
          return text ? JSON.parse(text) : null;
        }
        if (RETRY_STATUSES.has(response.status) && attempt < attempts) {
          await delay(200 * 2 ** attempt);
          continue;
        }
        let body = null;
        try {
          body = await response.json();
        } catch (_) {
          body = null;
        }
        throw new ClarionError(`${method} ${path}: HTTP ${response.status}`, response.status, body);
      }
    }

    _background(promise) {
      promise.catch((error) => this.onError(error));
    }

    _formatTime(date) {
      try {
        return new Intl.DateTimeFormat(this.locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
      } catch (_) {
        return date.toISOString();
      }
    }
  }

  function currentPath() {
    return root.location ? root.location.pathname : "/";
  }

  const ClarionInApp = Object.freeze({
    version: VERSION,
    create: (options) => new Client(options),
    Client,
    ClarionError,
    appendCopy,
    isBlocked,
    safeLinkUrl,
  });
  root.ClarionInApp = ClarionInApp;
})(typeof globalThis !== "undefined" ? globalThis : window);

import DOMPurify from 'dompurify';

// HTML mail made safe (issue 18): DOMPurify removes scripts, event handlers, forms, frames, SVG
// and MathML and every URL that is not http(s), mailto, tel, cid or a fragment (javascript:,
// vbscript:, data: in links...). Remote resources (images, CSS url(), @import) are rewritten away
// until the user allows them; the result goes into a sandboxed iframe without allow-scripts whose
// own Content-Security-Policy repeats the rule, so a sanitiser miss still cannot run or load.

const SAFE_URL = /^(?:https?:|mailto:|tel:|cid:|#)/i;
const REMOTE = /^(?:https?:)?\/\//i;
const CSS_URL = /url\(\s*(['"]?)(.*?)\1\s*\)/gi;

export interface SanitizedMail {
  /** The clean body, as nodes of DOMPurify's inert document (nothing in it loads or runs until imported into the frame). */
  body: DocumentFragment;
  /** The message asked for remote content that was blocked. */
  blockedRemote: boolean;
}

function cleanCss(css: string, allowRemote: boolean, state: { blocked: boolean }): string {
  let out = css.replace(/@import[^;]*;?/gi, () => {
    state.blocked = true;
    return '';
  });
  out = out.replace(CSS_URL, (whole, _q, url: string) => {
    const u = url.trim();
    if (/^(?:data:image\/|blob:)/i.test(u)) return whole;
    if (allowRemote && /^https?:/i.test(u)) return whole;
    state.blocked = true;
    return 'none';
  });
  // Old IE expressions and behaviours: never meaningful in mail.
  return out.replace(/expression\s*\(|behavior\s*:|-moz-binding/gi, 'x-blocked');
}

/** What the hooks of the one sanitiser need for the call in progress (sanitising is synchronous: one call at a time). */
let current = { allowRemote: false, cidUrls: new Map<string, string>(), state: { blocked: false } };
let purifier: ReturnType<typeof DOMPurify> | null = null;

/**
 * One DOMPurify instance for the page, hooks added once: building an instance (and its inert
 * document) for every message cost more than sanitising a short one (issue 18, opening a message).
 */
function purify(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify();
  p.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'style' && node.textContent) node.textContent = cleanCss(node.textContent, current.allowRemote, current.state);
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    const { allowRemote, cidUrls, state } = current;
    const el = node as Element;
    if (el.hasAttribute('style')) el.setAttribute('style', cleanCss(el.getAttribute('style') ?? '', allowRemote, state));
    for (const attr of ['background', 'poster', 'srcset']) {
      if (el.hasAttribute(attr)) {
        state.blocked ||= REMOTE.test(el.getAttribute(attr) ?? '') || attr === 'srcset';
        el.removeAttribute(attr);
      }
    }
    if (el.tagName === 'A') {
      const href = el.getAttribute('href') ?? '';
      if (href && !SAFE_URL.test(href.trim())) el.removeAttribute('href');
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer');
    }
    if (el.tagName === 'IMG') {
      const src = (el.getAttribute('src') ?? '').trim();
      if (/^cid:/i.test(src)) {
        const url = cidUrls.get(decodeURIComponent(src.slice(4)).replace(/^<|>$/g, ''));
        if (url) el.setAttribute('src', url);
        else el.removeAttribute('src');
      } else if (/^https?:/i.test(src) || REMOTE.test(src)) {
        if (!allowRemote) {
          state.blocked = true;
          el.removeAttribute('src');
          el.setAttribute('data-blocked-src', src);
          el.setAttribute('alt', el.getAttribute('alt') || '');
        }
      } else if (!/^data:image\/(?:png|gif|jpeg|webp);/i.test(src)) {
        el.removeAttribute('src');
      }
    }
  });
  purifier = p;
  return p;
}

/**
 * Sanitises one HTML body. cidUrls maps Content-ID (without angle brackets) to an object URL of
 * the inline part, so cid: images show without any remote load. The result is a fragment of
 * DOMPurify's inert document, put into the reading frame by showInFrame (no second parse of a
 * serialised string, so no mutation between the sanitiser's view and the frame's).
 */
export function sanitizeMail(html: string, allowRemote: boolean, cidUrls: Map<string, string> = new Map()): SanitizedMail {
  const state = { blocked: false };
  current = { allowRemote, cidUrls, state };
  const body = purify().sanitize(html, {
    USE_PROFILES: { html: true },
    WHOLE_DOCUMENT: false,
    ADD_TAGS: ['style'],
    FORBID_TAGS: ['form', 'input', 'button', 'select', 'textarea', 'option', 'meta', 'link', 'base', 'iframe', 'frame', 'frameset',
      'object', 'embed', 'applet', 'audio', 'video', 'source', 'track', 'script', 'noscript', 'template', 'portal', 'dialog'],
    FORBID_ATTR: ['action', 'formaction', 'ping', 'srcset', 'xmlns', 'http-equiv'],
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    FORCE_BODY: true,
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
  return { body, blockedRemote: state.blocked };
}

/**
 * The reading frame's document, loaded once per policy and then reused for every message (issue
 * 18: a new srcdoc document per message cost ~65 ms): no script at all (the frame's sandbox has no
 * allow-scripts, and the CSP says it again); images from data:/blob: only, remote ones only in the
 * "remote" shell, which the frame loads when the user allows them. A policy can only be tightened
 * from inside a document, never loosened, so the two modes are two documents; data-shell tells
 * which one the frame holds.
 */
export function frameShell(allowRemote: boolean): string {
  const img = allowRemote ? "data: blob: https: http:" : 'data: blob:';
  const csp = `default-src 'none'; script-src 'none'; img-src ${img}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'`;
  return `<!doctype html><html data-shell="${shellMode(allowRemote)}"><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    '<meta name="referrer" content="no-referrer">' +
    '<style>html,body{margin:0;padding:0}body{font:14px/1.5 system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;' +
    'color:#1f2328;overflow-wrap:anywhere;padding:4px 2px}img{max-width:100%;height:auto}pre{white-space:pre-wrap}' +
    'blockquote{margin:0 0 0 .5em;padding-left:.8em;border-left:3px solid #d0d7de;color:#57606a}</style>' +
    '</head><body></body></html>';
}

export const shellMode = (allowRemote: boolean) => (allowRemote ? 'remote' : 'blocked');

/**
 * Puts a sanitised body into the frame's document when that document is the shell of the mail's
 * policy (else false: the shell is still loading, and its load event calls again). The nodes are
 * imported from the inert document into the frame's, where its CSP governs every load; null clears.
 */
export function showInFrame(frame: HTMLIFrameElement, mail: SanitizedMail | null, allowRemote: boolean): boolean {
  const doc = frame.contentDocument;
  if (!doc || doc.documentElement?.dataset.shell !== shellMode(allowRemote) || !doc.body) return false;
  if (mail) doc.body.replaceChildren(doc.importNode(mail.body, true));
  else doc.body.replaceChildren();
  doc.documentElement.scrollTop = 0;
  return true;
}

/** Plain text as HTML (escaped; http(s) links made clickable). */
export function textToHtml(text: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const parts = text.split(/(https?:\/\/[^\s<>"]+)/g);
  return '<div style="white-space:pre-wrap">' +
    parts.map((p, i) => (i % 2 === 1 ? `<a href="${esc(p)}" target="_blank" rel="noopener noreferrer">${esc(p)}</a>` : esc(p))).join('') +
    '</div>';
}

const SENDERS_KEY = 'grainmail.imagesAllowedFrom';

export function imagesAllowedFrom(address: string | undefined): boolean {
  if (!address) return false;
  const list: string[] = JSON.parse(localStorage.getItem(SENDERS_KEY) ?? '[]');
  return list.includes(address.toLowerCase());
}

export function allowImagesFrom(address: string) {
  const list: string[] = JSON.parse(localStorage.getItem(SENDERS_KEY) ?? '[]');
  if (!list.includes(address.toLowerCase())) list.push(address.toLowerCase());
  localStorage.setItem(SENDERS_KEY, JSON.stringify(list));
}

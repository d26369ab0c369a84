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
  html: string;
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

/**
 * Sanitises one HTML body. cidUrls maps Content-ID (without angle brackets) to an object URL of
 * the inline part, so cid: images show without any remote load.
 */
export function sanitizeMail(html: string, allowRemote: boolean, cidUrls: Map<string, string> = new Map()): SanitizedMail {
  const state = { blocked: false };
  const purify = DOMPurify();
  purify.addHook('uponSanitizeElement', (node, data) => {
    if (data.tagName === 'style' && node.textContent) node.textContent = cleanCss(node.textContent, allowRemote, state);
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
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
  const clean = purify.sanitize(html, {
    USE_PROFILES: { html: true },
    WHOLE_DOCUMENT: false,
    ADD_TAGS: ['style'],
    FORBID_TAGS: ['form', 'input', 'button', 'select', 'textarea', 'option', 'meta', 'link', 'base', 'iframe', 'frame', 'frameset',
      'object', 'embed', 'applet', 'audio', 'video', 'source', 'track', 'script', 'noscript', 'template', 'portal', 'dialog'],
    FORBID_ATTR: ['action', 'formaction', 'ping', 'srcset', 'xmlns', 'http-equiv'],
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    FORCE_BODY: true,
  }) as string;
  return { html: clean, blockedRemote: state.blocked };
}

/** The frame document: the mail under its own CSP (no script at all; images remote only when allowed). */
export function frameDocument(body: string, allowRemote: boolean): string {
  const img = allowRemote ? "data: blob: https: http:" : 'data: blob:';
  const csp = `default-src 'none'; script-src 'none'; img-src ${img}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'`;
  return '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    '<meta name="referrer" content="no-referrer">' +
    '<style>html,body{margin:0;padding:0}body{font:14px/1.5 system-ui,"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;' +
    'color:#1f2328;overflow-wrap:anywhere;padding:4px 2px}img{max-width:100%;height:auto}pre{white-space:pre-wrap}' +
    'blockquote{margin:0 0 0 .5em;padding-left:.8em;border-left:3px solid #d0d7de;color:#57606a}</style>' +
    `</head><body>${body}</body></html>`;
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

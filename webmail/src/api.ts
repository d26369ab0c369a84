// The server side of the webmail: the interactive login and account settings under /api/v1/me
// (the gateway's REST endpoints), and everything about mail over JMAP (RFC 8620 core, RFC 8621
// mail). No private mail API: what JMAP has a method for goes through JMAP.

export const CORE = 'urn:ietf:params:jmap:core';
export const MAIL = 'urn:ietf:params:jmap:mail';
export const SUBMISSION = 'urn:ietf:params:jmap:submission';
export const VACATION = 'urn:ietf:params:jmap:vacationresponse';

export class ApiError extends Error {
  constructor(readonly status: number, readonly title: string, readonly detail?: string) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

const TOKEN_KEY = 'grainmail.token';
const ACCOUNT_KEY = 'grainmail.account';

export function savedLogin(): { token: string; account: string } | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const account = sessionStorage.getItem(ACCOUNT_KEY);
  return token && account ? { token, account } : null;
}

export function forgetLogin() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACCOUNT_KEY);
}

async function problem(r: Response): Promise<ApiError> {
  try {
    const p = await r.json();
    return new ApiError(r.status, p.title ?? r.statusText, p.detail ?? undefined);
  } catch {
    return new ApiError(r.status, r.statusText || `HTTP ${r.status}`);
  }
}

export type LoginResult = { ok: true; token: string; account: string; restrictions: string[] } | { ok: false; needTotp: boolean; error: ApiError };

/** POST /api/v1/me/sessions: 401 "Two-factor code required" means ask for the TOTP code and send again. */
export async function login(address: string, password: string, totp?: string): Promise<LoginResult> {
  const r = await fetch('/api/v1/me/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ address, password, totp: totp || null }),
  });
  if (r.status === 201) {
    const s = await r.json();
    sessionStorage.setItem(TOKEN_KEY, s.token);
    sessionStorage.setItem(ACCOUNT_KEY, s.account);
    return { ok: true, token: s.token, account: s.account, restrictions: s.restrictions ?? [] };
  }
  const error = await problem(r);
  return { ok: false, needTotp: r.status === 401 && /two-factor/i.test(error.title), error };
}

/**
 * Single sign-on: the enterprise's link brings a one-time ticket in the URL fragment (#sso=…), which
 * no request carries. Take it out of the address bar and history at once, then redeem it by POST
 * (in a body, not a URL) for a session kept like the login's. Null when the page was not opened so.
 */
export function takeSsoTicket(): string | null {
  const m = /^#sso=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!location.hash.startsWith('#sso=')) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return m ? m[1] : '';
}

export async function redeemSso(ticket: string): Promise<LoginResult> {
  const r = await fetch('/api/v1/sso', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ticket }),
  });
  if (r.status === 200) {
    const s = await r.json();
    sessionStorage.setItem(TOKEN_KEY, s.token);
    sessionStorage.setItem(ACCOUNT_KEY, s.account);
    return { ok: true, token: s.token, account: s.account, restrictions: s.restrictions ?? [] };
  }
  return { ok: false, needTotp: false, error: await problem(r) };
}

/** The account's REST endpoints (/api/v1/me/…), with the session's bearer token. */
export class Rest {
  constructor(readonly token: string, readonly account: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw await problem(r);
    const text = await r.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  logout() {
    return this.call('DELETE', '/api/v1/me/sessions/current').catch(() => undefined);
  }
}

export interface JmapSession {
  capabilities: Record<string, any>;
  accounts: Record<string, { name: string; isPersonal: boolean; isReadOnly: boolean; accountCapabilities: Record<string, any> }>;
  primaryAccounts: Record<string, string>;
  username: string;
  apiUrl: string;
  downloadUrl: string;
  uploadUrl: string;
  eventSourceUrl: string;
  state: string;
}

export type Invocation = [string, Record<string, any>, string];

export class MethodError extends Error {
  constructor(readonly type: string, readonly description?: string) {
    super(description ? `${type}: ${description}` : type);
  }
}

export interface EmailAddress {
  name: string | null;
  email: string;
}

export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
  totalThreads: number;
  unreadThreads: number;
}

export interface EmailBodyPart {
  partId: string | null;
  blobId: string | null;
  size: number;
  name: string | null;
  type: string;
  charset?: string | null;
  disposition?: string | null;
  cid?: string | null;
}

export interface Email {
  id: string;
  blobId: string;
  threadId: string;
  mailboxIds: Record<string, boolean>;
  keywords: Record<string, boolean>;
  size: number;
  receivedAt: string;
  sentAt?: string | null;
  from: EmailAddress[] | null;
  to: EmailAddress[] | null;
  cc?: EmailAddress[] | null;
  replyTo?: EmailAddress[] | null;
  subject: string | null;
  preview?: string;
  hasAttachment?: boolean;
  messageId?: string[] | null;
  inReplyTo?: string[] | null;
  references?: string[] | null;
  textBody?: EmailBodyPart[];
  htmlBody?: EmailBodyPart[];
  attachments?: EmailBodyPart[];
  bodyValues?: Record<string, { value: string; isTruncated: boolean; isEncodingProblem: boolean }>;
}

export const LIST_PROPERTIES = ['id', 'threadId', 'mailboxIds', 'keywords', 'from', 'to', 'subject', 'receivedAt', 'size', 'preview', 'hasAttachment'];
export const READ_PROPERTIES = [
  ...LIST_PROPERTIES, 'blobId', 'cc', 'replyTo', 'sentAt', 'messageId', 'inReplyTo', 'references', 'textBody', 'htmlBody', 'attachments', 'bodyValues',
];

export interface ListPage {
  position: number;
  total: number;
  emails: Email[];
  queryState: string;
}

/** What the mailbox view needs first: the folders, and the first page of the INBOX list when it could be asked for already. */
export interface FirstLoad {
  mailboxes: Mailbox[];
}

const INBOX_KEY = 'grainmail.inbox.';
const connecting = new Map<string, Promise<Jmap>>();

/**
 * The session resource, then at once the folders and the INBOX's first page (issue 18: the first
 * page after login). Started by the login itself, so no render lies between the requests; the app
 * picks the same promise up by token.
 */
export function connectJmap(token: string): Promise<Jmap> {
  let p = connecting.get(token);
  if (!p) {
    p = Jmap.connect(token).then((j) => (j.startFirstLoad(), j));
    p.catch(() => connecting.delete(token));
    connecting.set(token, p);
  }
  return p;
}

/** A JMAP client (RFC 8620) bound to one account of the session resource. */
export class Jmap {
  private firstLoad: Promise<FirstLoad> | null = null;
  private readonly prefetched = new Map<string, Promise<ListPage>>();

  private constructor(readonly token: string, readonly session: JmapSession, readonly accountId: string) {}

  static async connect(token: string): Promise<Jmap> {
    const r = await fetch('/.well-known/jmap', { headers: { Authorization: `Bearer ${token}` } });
    if (!r.ok) throw await problem(r);
    const session = (await r.json()) as JmapSession;
    const accountId = session.primaryAccounts[MAIL] ?? Object.keys(session.accounts)[0];
    if (!accountId) throw new ApiError(500, 'No mail account in the JMAP session');
    return new Jmap(token, session, accountId);
  }

  /** Rows per list request: Email/get of a page stays within the server's maxObjectsInGet. */
  get listPageSize(): number {
    return Math.min(100, this.maxObjectsInGet);
  }

  /**
   * Mailbox/get and the INBOX's first page. The INBOX id is remembered from the last visit in this
   * browser: then both go in one request; else the page query leaves as soon as the folders answer,
   * before anything is drawn. A remembered id that no longer names the INBOX costs one more query.
   */
  startFirstLoad() {
    if (this.firstLoad) return;
    const remembered = localStorage.getItem(INBOX_KEY + this.accountId);
    const pageCalls = (inbox: string, tag: string): Invocation[] => [
      ['Email/query', { accountId: this.accountId, filter: { inMailbox: inbox }, sort: [{ property: 'receivedAt', isAscending: false }],
        collapseThreads: true, position: 0, limit: this.listPageSize, calculateTotal: true }, `${tag}q`],
      ['Email/get', { accountId: this.accountId, '#ids': { resultOf: `${tag}q`, name: 'Email/query', path: '/ids' }, properties: LIST_PROPERTIES }, `${tag}g`],
    ];
    const load = (async (): Promise<FirstLoad> => {
      const [boxes, q, g] = await this.request([['Mailbox/get', { accountId: this.accountId, ids: null }, 'm'], ...(remembered ? pageCalls(remembered, 'p') : [])]);
      const mailboxes = boxes.list as Mailbox[];
      const inbox = mailboxes.find((b) => b.role === 'inbox');
      if (inbox) {
        localStorage.setItem(INBOX_KEY + this.accountId, inbox.id);
        const key = this.pageKey({ inMailbox: inbox.id }, 0, this.listPageSize, true);
        if (remembered === inbox.id) this.prefetched.set(key, Promise.resolve(Jmap.page(q, g)));
        else {
          const page = this.request(pageCalls(inbox.id, 'p')).then(([pq, pg]) => Jmap.page(pq, pg));
          page.catch(() => undefined);
          this.prefetched.set(key, page);
        }
      }
      return { mailboxes };
    })();
    load.catch(() => undefined);
    this.firstLoad = load;
  }

  /** The folders: the first time from the load started with the session. */
  async mailboxesFirst(): Promise<Mailbox[]> {
    const first = this.firstLoad;
    this.firstLoad = null;
    if (first) {
      try {
        return (await first).mailboxes;
      } catch {
        /* asked again below */
      }
    }
    return this.mailboxes();
  }

  private pageKey(filter: Record<string, any> | null, position: number, limit: number, collapseThreads: boolean): string {
    return JSON.stringify([filter, position, limit, collapseThreads]);
  }

  private static page(q: Record<string, any>, g: Record<string, any>): ListPage {
    const byId = new Map((g.list as Email[]).map((e) => [e.id, e]));
    return {
      position: q.position as number,
      total: (q.total as number | undefined) ?? (q.ids as string[]).length,
      emails: (q.ids as string[]).map((id) => byId.get(id)).filter((e): e is Email => !!e),
      queryState: q.queryState as string,
    };
  }

  has(capability: string): boolean {
    return capability in (this.session.capabilities ?? {});
  }

  get maxObjectsInGet(): number {
    return this.session.capabilities[CORE]?.maxObjectsInGet ?? 500;
  }

  /** One API request (RFC 8620 §3.3); method errors throw, with their type (§3.6.2). */
  async request(calls: Invocation[], using: string[] = [CORE, MAIL]): Promise<Record<string, any>[]> {
    const r = await fetch(this.session.apiUrl, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: using.filter((u) => u === CORE || this.has(u) || u === MAIL), methodCalls: calls }),
    });
    if (!r.ok) throw await problem(r);
    const body = await r.json();
    const responses = body.methodResponses as Invocation[];
    return responses.map(([name, args]) => {
      if (name === 'error') throw new MethodError(args.type, args.description);
      return args;
    });
  }

  /** Shortcut: one method, accountId filled in. */
  async call(method: string, args: Record<string, any>, using?: string[]): Promise<Record<string, any>> {
    const [res] = await this.request([[method, { accountId: this.accountId, ...args }, '0']], using);
    return res;
  }

  async mailboxes(): Promise<Mailbox[]> {
    const res = await this.call('Mailbox/get', { ids: null });
    return res.list as Mailbox[];
  }

  /** Email/query plus Email/get of the ids found, in one request (result reference, §3.7). */
  async queryPage(filter: Record<string, any> | null, position: number, limit: number, collapseThreads: boolean): Promise<ListPage> {
    const key = this.pageKey(filter, position, limit, collapseThreads);
    const early = this.prefetched.get(key);
    if (early) {
      // Used once: a later load of the same page (a refresh) asks the server again.
      this.prefetched.delete(key);
      try {
        return await early;
      } catch {
        /* asked again below */
      }
    }
    const [q, g] = await this.request([
      ['Email/query', {
        accountId: this.accountId, filter, sort: [{ property: 'receivedAt', isAscending: false }],
        collapseThreads, position, limit, calculateTotal: true,
      }, 'q'],
      ['Email/get', { accountId: this.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: LIST_PROPERTIES }, 'g'],
    ]);
    return Jmap.page(q, g);
  }

  async getEmails(ids: string[], properties = READ_PROPERTIES): Promise<Email[]> {
    if (ids.length === 0) return [];
    const res = await this.call('Email/get', { ids, properties, fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 1024 * 1024 });
    return res.list as Email[];
  }

  private readonly threads = new Map<string, Promise<Email[]>>();

  /**
   * Starts reading a thread before it is asked for (a pointer resting on its row, the row's
   * pointerdown before its click, the row below the one being read): the next thread() of it
   * within 30 s takes this answer instead of asking again. Bounded: at most 4 threads are held
   * (the oldest dropped), each used once.
   */
  prefetchThread(threadId: string) {
    if (this.threads.has(threadId)) return;
    const p = this.loadThread(threadId);
    p.catch(() => undefined);
    this.threads.set(threadId, p);
    while (this.threads.size > 4) this.threads.delete(this.threads.keys().next().value!);
    setTimeout(() => this.threads.get(threadId) === p && this.threads.delete(threadId), 30000);
  }

  /** The emails of a thread (RFC 8621 §3), oldest first. */
  async thread(threadId: string): Promise<Email[]> {
    const early = this.threads.get(threadId);
    if (early) {
      this.threads.delete(threadId);
      try {
        return await early;
      } catch {
        /* asked again below */
      }
    }
    return this.loadThread(threadId);
  }

  private async loadThread(threadId: string): Promise<Email[]> {
    const [, g] = await this.request([
      ['Thread/get', { accountId: this.accountId, ids: [threadId] }, 't'],
      ['Email/get', {
        accountId: this.accountId, '#ids': { resultOf: 't', name: 'Thread/get', path: '/list/*/emailIds' },
        properties: READ_PROPERTIES, fetchHTMLBodyValues: true, fetchTextBodyValues: true, maxBodyValueBytes: 1024 * 1024,
      }, 'g'],
    ]);
    return (g.list as Email[]).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  /** Email/set update with patches (RFC 8620 §5.3), e.g. {"keywords/$seen": true}. */
  async update(patches: Record<string, Record<string, unknown>>) {
    const res = await this.call('Email/set', { update: patches });
    const failed = res.notUpdated && Object.values(res.notUpdated)[0];
    if (failed) throw new MethodError((failed as any).type, (failed as any).description);
    return res;
  }

  async destroy(ids: string[]) {
    const res = await this.call('Email/set', { destroy: ids });
    const failed = res.notDestroyed && Object.values(res.notDestroyed)[0];
    if (failed) throw new MethodError((failed as any).type, (failed as any).description);
  }

  /** The download URL template (RFC 8620 §6.2) filled in. */
  downloadUrl(blobId: string, name: string, type: string): string {
    return this.session.downloadUrl
      .replace('{accountId}', encodeURIComponent(this.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name || 'download'))
      .replace('{type}', encodeURIComponent(type || 'application/octet-stream'));
  }

  /** A blob fetched with the bearer token (a plain link cannot carry it), as an object URL. */
  async blobUrl(blobId: string, name: string, type: string): Promise<string> {
    const r = await fetch(this.downloadUrl(blobId, name, type), { headers: { Authorization: `Bearer ${this.token}` } });
    if (!r.ok) throw await problem(r);
    return URL.createObjectURL(await r.blob());
  }

  async blobBytes(blobId: string, name: string, type: string): Promise<ArrayBuffer> {
    const r = await fetch(this.downloadUrl(blobId, name, type), { headers: { Authorization: `Bearer ${this.token}` } });
    if (!r.ok) throw await problem(r);
    return r.arrayBuffer();
  }

  /** Upload (RFC 8620 §6.1) by XMLHttpRequest, whose upload events drive the progress bar. */
  upload(file: Blob, onProgress: (fraction: number) => void): Promise<{ blobId: string; type: string; size: number }> {
    const url = this.session.uploadUrl.replace('{accountId}', encodeURIComponent(this.accountId));
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(JSON.parse(xhr.responseText));
        } else {
          reject(new ApiError(xhr.status, xhr.statusText || `HTTP ${xhr.status}`, xhr.responseText.slice(0, 200)));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, 'Network error'));
      xhr.send(file);
    });
  }

  /** Files above this go as a link (large attachments, /jmap/large) instead of a blob in the message. */
  get largeFileThreshold(): number {
    const maxUpload = this.session.capabilities[CORE]?.maxSizeUpload ?? 50 * 1024 * 1024;
    return Math.min(maxUpload, 20 * 1024 * 1024);
  }

  /**
   * A large attachment (issue 18, 4.1.3) by GrainMail's resumable upload (docs/architecture.md,
   * "Large attachments by link"): POST the name, type and size; PATCH pieces at the offset the
   * server holds (409 or a broken connection: ask with HEAD and go on from there); the finished
   * upload's status carries the link for the mail and when it expires.
   */
  async uploadLarge(file: File, onProgress: (fraction: number) => void): Promise<{ downloadUrl: string; expires: string | null }> {
    const auth = { Authorization: `Bearer ${this.token}` };
    const created = await fetch('/jmap/large', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: file.name, type: file.type || 'application/octet-stream', size: file.size }),
    });
    if (!created.ok) throw await problem(created);
    const status = await created.json();
    const uploadUrl: string = status.uploadUrl ?? created.headers.get('Location');
    const piece = 8 * 1024 * 1024;
    let offset = 0;
    let failures = 0;
    while (offset < file.size) {
      const end = Math.min(file.size, offset + piece);
      try {
        offset = await this.patchPiece(uploadUrl, file.slice(offset, end), offset, (sent) => onProgress((offset + sent) / file.size));
        failures = 0;
      } catch (e) {
        if (++failures > 5) throw e;
        const head = await fetch(uploadUrl, { method: 'HEAD', headers: auth });
        offset = Number(head.headers.get('Upload-Offset') ?? offset);
      }
      onProgress(offset / file.size);
    }
    const done = await fetch(uploadUrl, { headers: auth });
    if (!done.ok) throw await problem(done);
    const final = await done.json();
    return { downloadUrl: new URL(final.downloadUrl, location.origin).toString(), expires: final.expires ?? null };
  }

  private patchPiece(url: string, piece: Blob, offset: number, onSent: (bytes: number) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PATCH', url);
      xhr.setRequestHeader('Authorization', `Bearer ${this.token}`);
      xhr.setRequestHeader('Upload-Offset', String(offset));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.upload.onprogress = (e) => onSent(e.loaded);
      xhr.onload = () => {
        if (xhr.status === 204 || xhr.status === 200) resolve(Number(xhr.getResponseHeader('Upload-Offset') ?? offset + piece.size));
        else reject(new ApiError(xhr.status, xhr.statusText || `HTTP ${xhr.status}`));
      };
      xhr.onerror = () => reject(new ApiError(0, 'Network error'));
      xhr.send(piece);
    });
  }

  /**
   * Push (RFC 8620 §7.3): EventSource cannot send an Authorization header, so the session token
   * goes as access_token on this one URL (the server accepts it there only).
   */
  eventSource(onChange: (changed: Record<string, Record<string, string>>) => void, onFail?: () => void): EventSource | null {
    if (!this.session.eventSourceUrl || typeof EventSource === 'undefined') return null;
    const url = this.session.eventSourceUrl
      .replace('{types}', '*')
      .replace('{closeafter}', 'no')
      .replace('{ping}', '30');
    const sep = url.includes('?') ? '&' : '?';
    const es = new EventSource(`${url}${sep}access_token=${encodeURIComponent(this.token)}`);
    es.addEventListener('state', (e) => {
      try {
        const change = JSON.parse((e as MessageEvent).data);
        if (change?.changed) onChange(change.changed);
      } catch {
        /* a malformed event changes nothing */
      }
    });
    // The browser retries a dropped stream by itself; CLOSED means it has given up (an error status).
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) onFail?.();
    });
    return es;
  }
}

/** "Name <address>" for display and for the reply's quote line. */
export function showAddress(a: EmailAddress | undefined | null): string {
  if (!a) return '';
  return a.name ? `${a.name} <${a.email}>` : a.email;
}

export function shortName(a: EmailAddress | undefined | null): string {
  return a ? a.name || a.email : '';
}

/** Parses "A <a@x>, b@y" typed into an address field. */
export function parseAddresses(text: string): EmailAddress[] {
  return text
    .split(/[,;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(.*)<([^>]+)>$/.exec(s);
      if (m) return { name: m[1].trim().replace(/^"|"$/g, '') || null, email: m[2].trim() };
      return { name: null, email: s };
    });
}

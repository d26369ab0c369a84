import { forwardRef } from 'preact/compat';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Email, EmailBodyPart, Jmap, Mailbox, MethodError, Rest, shortName, showAddress } from './api';
import type { Auth } from './app';
import { LanguageSwitch } from './app';
import { Compose, ComposeDraft, replyDraft } from './compose';
import { formatDate, formatSize, t } from './i18n';
import { Preview } from './preview';
import { allowImagesFrom, frameShell, imagesAllowedFrom, sanitizeMail, SanitizedMail, showInFrame, textToHtml } from './sanitize';
import { Settings } from './settings';
import { bodyInFrame, openStarted } from './timing';

const ROW_HEIGHT = 64;
const OVERSCAN = 8;

interface ListKey {
  mailboxId: string | null;
  search: string;
  version: number;
}

export interface Toast {
  text: string;
  id: number;
}

let toastSeq = 0;

export function MailApp(props: { auth: Auth; rest: Rest; jmap: Jmap | null; jmapError: string | null; onLogout: () => void }) {
  const { auth, rest, jmap } = props;
  const [mailboxes, setMailboxes] = useState<Mailbox[]>([]);
  const [key, setKey] = useState<ListKey>({ mailboxId: null, search: '', version: 0 });
  const [searchText, setSearchText] = useState('');
  const [selected, setSelected] = useState<{ index: number; email: Email } | null>(null);
  const [composing, setComposing] = useState<ComposeDraft | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(auth.restrictions.length > 0);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [error, setError] = useState<string | null>(null);
  const listRef = useRef<VirtualListHandle>(null);
  const inboxUnread = useRef<number | null>(null);

  const toast = useCallback((text: string) => {
    const id = ++toastSeq;
    setToasts((ts) => [...ts, { text, id }]);
    setTimeout(() => setToasts((ts) => ts.filter((x) => x.id !== id)), 5000);
  }, []);

  const byRole = useMemo(() => {
    const m = new Map<string, Mailbox>();
    for (const b of mailboxes) if (b.role) m.set(b.role, b);
    return m;
  }, [mailboxes]);

  const loadMailboxes = useCallback(async () => {
    if (!jmap) return;
    try {
      const list = await jmap.mailboxesFirst();
      setMailboxes(list);
      const inbox = list.find((b) => b.role === 'inbox');
      if (inbox) {
        if (inboxUnread.current !== null && inbox.unreadEmails > inboxUnread.current) toast(t('notice.newMail'));
        inboxUnread.current = inbox.unreadEmails;
      }
      setKey((k) => (k.mailboxId || k.search ? k : { ...k, mailboxId: inbox?.id ?? list[0]?.id ?? null }));
    } catch (e) {
      setError(t('notice.error', e instanceof Error ? e.message : String(e)));
    }
  }, [jmap, toast]);

  const refresh = useCallback(() => {
    loadMailboxes();
    setKey((k) => ({ ...k, version: k.version + 1 }));
  }, [loadMailboxes]);

  useEffect(() => {
    loadMailboxes();
  }, [loadMailboxes]);

  // New mail by push (RFC 8620 §7.3): a StateChange refreshes the folders and the list (and the
  // folder refresh shows the new-mail notice). The 60 s poll runs only when the event source cannot
  // be had at all or the browser gave up on it (closed for good, e.g. refused).
  useEffect(() => {
    if (!jmap) return;
    let poll: ReturnType<typeof setInterval> | null = null;
    const startPolling = () => {
      if (!poll) poll = setInterval(refresh, 60000);
    };
    const es = jmap.eventSource((changed) => {
      const mine = changed[jmap.accountId];
      if (mine && (mine.Email || mine.Mailbox || mine.EmailDelivery)) refresh();
    }, startPolling);
    if (!es) startPolling();
    return () => {
      es?.close();
      if (poll) clearInterval(poll);
    };
  }, [jmap, refresh]);

  const currentMailbox = mailboxes.find((b) => b.id === key.mailboxId) ?? null;

  /** The emails of a row: its thread's emails in the mailbox shown (collapseThreads), or the email itself. */
  const rowEmails = useCallback(async (email: Email): Promise<Email[]> => {
    if (!jmap) return [];
    if (!key.mailboxId) return [email];
    const thread = await jmap.thread(email.threadId);
    const inHere = thread.filter((e) => e.mailboxIds[key.mailboxId!]);
    return inHere.length ? inHere : [email];
  }, [jmap, key.mailboxId]);

  const move = useCallback(async (email: Email, target: Mailbox) => {
    if (!jmap) return;
    try {
      const emails = await rowEmails(email);
      const patches: Record<string, Record<string, unknown>> = {};
      for (const e of emails) {
        patches[e.id] = key.mailboxId && key.mailboxId !== target.id
          ? { [`mailboxIds/${key.mailboxId}`]: null, [`mailboxIds/${target.id}`]: true }
          : { mailboxIds: { [target.id]: true } };
      }
      await jmap.update(patches);
      toast(t('notice.moved', mailboxName(target)));
      if (selected?.email.id === email.id) setSelected(null);
      refresh();
    } catch (e) {
      toast(t('notice.error', String(e)));
    }
  }, [jmap, rowEmails, key.mailboxId, selected, refresh, toast]);

  const remove = useCallback(async (email: Email) => {
    if (!jmap) return;
    const trash = byRole.get('trash');
    if (trash && key.mailboxId !== trash.id) return move(email, trash);
    try {
      await jmap.destroy((await rowEmails(email)).map((e) => e.id));
      toast(t('notice.deleted'));
      setSelected(null);
      refresh();
    } catch (e) {
      toast(t('notice.error', String(e)));
    }
  }, [jmap, byRole, key.mailboxId, move, rowEmails, refresh, toast]);

  const toggleFlag = useCallback(async (email: Email) => {
    if (!jmap) return;
    const on = !email.keywords?.$flagged;
    try {
      await jmap.update({ [email.id]: { 'keywords/$flagged': on ? true : null } });
      email.keywords = { ...email.keywords, $flagged: on };
      if (!on) delete email.keywords.$flagged;
      refresh();
    } catch (e) {
      toast(t('notice.error', String(e)));
    }
  }, [jmap, refresh, toast]);

  const junk = useCallback((email: Email) => {
    const inJunk = key.mailboxId && byRole.get('junk')?.id === key.mailboxId;
    const target = inJunk ? byRole.get('inbox') : byRole.get('junk');
    if (target) move(email, target);
  }, [byRole, key.mailboxId, move]);

  const openCompose = useCallback((d: ComposeDraft) => setComposing(d), []);

  // Keyboard shortcuts (listed in Settings): never while typing in a field.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (target.closest('input, textarea, select, [contenteditable="true"]') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (composing || settingsOpen) return;
      const sel = selected?.email;
      switch (e.key) {
        case 'j': listRef.current?.step(1, e.timeStamp); break;
        case 'k': listRef.current?.step(-1, e.timeStamp); break;
        case 'Enter': listRef.current?.step(0, e.timeStamp); break;
        case 'c': openCompose({}); break;
        case 'r': if (sel) openCompose(replyDraft('reply', sel, auth.account)); break;
        case 'a': if (sel) openCompose(replyDraft('replyAll', sel, auth.account)); break;
        case 'f': if (sel) openCompose(replyDraft('forward', sel, auth.account)); break;
        case 's': if (sel) toggleFlag(sel); break;
        case '#': case 'Delete': if (sel) remove(sel); break;
        case '!': if (sel) junk(sel); break;
        case '/': (document.querySelector('.search input') as HTMLInputElement | null)?.focus(); break;
        case 'u': case 'Escape': setSelected(null); break;
        default: return;
      }
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [selected, composing, settingsOpen, auth.account, openCompose, toggleFlag, remove, junk]);

  const filter = useMemo(() => {
    if (key.search) {
      const skip = ['trash', 'junk'].map((r) => byRole.get(r)?.id).filter((x): x is string => !!x);
      return { text: key.search, ...(skip.length ? { inMailboxOtherThan: skip } : {}) };
    }
    return key.mailboxId ? { inMailbox: key.mailboxId } : null;
  }, [key.search, key.mailboxId, byRole]);

  return (
    <div class="shell">
      <header class="topbar">
        <div class="brand"><span class="logo">✉</span> {t('appName')}</div>
        <form class="search" onSubmit={(e) => {
          e.preventDefault();
          setSelected(null);
          setKey((k) => ({ mailboxId: searchText.trim() ? null : k.mailboxId ?? byRole.get('inbox')?.id ?? null, search: searchText.trim(), version: k.version + 1 }));
        }}>
          <input type="search" placeholder={t('search')} aria-label={t('search')} value={searchText} data-testid="search"
            onInput={(e) => setSearchText((e.target as HTMLInputElement).value)} />
        </form>
        <div class="top-actions">
          <button class="icon" title={t('refresh')} onClick={refresh}>⟳</button>
          <LanguageSwitch />
          <button class="link" onClick={() => setSettingsOpen(true)} data-testid="open-settings">{t('settings')}</button>
          <span class="account" data-testid="account">{auth.account}</span>
          <button class="link" onClick={props.onLogout} data-testid="logout">{t('logout')}</button>
        </div>
      </header>
      {props.jmapError && <div class="banner error" role="alert">{t('login.noJmap', props.jmapError)}</div>}
      {error && <div class="banner error" role="alert">{error}</div>}
      <div class="body">
        <nav class="sidebar">
          <button class="primary compose-btn" onClick={() => openCompose({})} disabled={!jmap} data-testid="compose">{t('compose')}</button>
          <MailboxTree mailboxes={mailboxes} current={key.search ? null : key.mailboxId}
            onSelect={(id) => { setSelected(null); setSearchText(''); setKey((k) => ({ mailboxId: id, search: '', version: k.version + 1 })); }}
            onDropEmail={(emailId, target) => {
              const email = listRef.current?.find(emailId);
              if (email) move(email, target);
            }} />
        </nav>
        <section class="list-pane">
          <div class="list-head" data-testid="list-head">
            {key.search ? t('list.results', key.search) : currentMailbox ? mailboxName(currentMailbox) : ''}
          </div>
          {jmap && (key.mailboxId || key.search) ? (
            <VirtualList ref={listRef} jmap={jmap} filter={filter} listKey={key} selectedId={selected?.email.id ?? null}
              onSelect={(index, email) => setSelected({ index, email })} />
          ) : (
            <div class="empty">{jmap ? t('list.loading') : ''}</div>
          )}
        </section>
        <section class="read-pane">
          {jmap ? (
            // Mounted for the whole session, with or without a selection: its reading frame's document
            // is loaded once, before the first message is opened, and reused for every message.
            <Conversation jmap={jmap} email={selected?.email ?? null} account={auth.account} mailboxes={mailboxes}
              inJunk={!!key.mailboxId && byRole.get('junk')?.id === key.mailboxId}
              onCompose={openCompose} onFlag={toggleFlag} onDelete={remove} onJunk={junk} onMove={move}
              onSeen={(email) => {
                // Read here: the row and the folder counts change, the list itself need not be asked for again.
                email.keywords = { ...email.keywords, $seen: true };
                loadMailboxes();
              }} onClose={() => setSelected(null)} />
          ) : (
            <div class="empty">{t('read.none')}</div>
          )}
        </section>
      </div>
      {composing && jmap && (
        <Compose jmap={jmap} rest={rest} account={auth.account} initial={composing} mailboxes={mailboxes}
          onClose={(sent) => { setComposing(null); if (sent) toast(t('compose.sent')); refresh(); }} />
      )}
      {settingsOpen && <Settings rest={rest} jmap={jmap} account={auth.account} onClose={() => setSettingsOpen(false)} />}
      <div class="toasts" aria-live="polite">
        {toasts.map((x) => <div class="toast" key={x.id} data-testid="toast">{x.text}</div>)}
      </div>
    </div>
  );
}

export function mailboxName(b: Mailbox): string {
  const roleKey = b.role ? (`role.${b.role}` as const) : null;
  if (roleKey && ['inbox', 'drafts', 'sent', 'junk', 'trash', 'archive'].includes(b.role!)) return t(roleKey as Parameters<typeof t>[0]);
  return b.name;
}

const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];

function MailboxTree(props: { mailboxes: Mailbox[]; current: string | null; onSelect: (id: string) => void; onDropEmail: (emailId: string, target: Mailbox) => void }) {
  const [over, setOver] = useState<string | null>(null);
  const children = useMemo(() => {
    const m = new Map<string | null, Mailbox[]>();
    for (const b of props.mailboxes) {
      const list = m.get(b.parentId ?? null) ?? [];
      list.push(b);
      m.set(b.parentId ?? null, list);
    }
    const rank = (b: Mailbox) => (b.role && ROLE_ORDER.includes(b.role) ? ROLE_ORDER.indexOf(b.role) : 100);
    for (const list of m.values()) list.sort((a, b) => rank(a) - rank(b) || a.sortOrder - b.sortOrder || a.name.localeCompare(b.name));
    return m;
  }, [props.mailboxes]);

  const render = (parent: string | null, depth: number): preact.JSX.Element[] =>
    (children.get(parent) ?? []).flatMap((b) => [
      <li key={b.id}>
        <button class={`mailbox ${props.current === b.id ? 'active' : ''} ${over === b.id ? 'drop' : ''}`}
          style={{ paddingLeft: `${12 + depth * 16}px` }} data-role={b.role ?? ''} data-testid={`mailbox-${b.role ?? b.name}`}
          onClick={() => props.onSelect(b.id)}
          onDragOver={(e) => { e.preventDefault(); setOver(b.id); }}
          onDragLeave={() => setOver(null)}
          onDrop={(e) => {
            e.preventDefault();
            setOver(null);
            const id = e.dataTransfer?.getData('application/x-grainmail-email');
            if (id) props.onDropEmail(id, b);
          }}>
          <span class={`mb-icon role-${b.role ?? 'folder'}`} aria-hidden="true" />
          <span class="mb-name">{mailboxName(b)}</span>
          {b.unreadEmails > 0 && <span class="unread" data-testid="unread">{b.unreadEmails}</span>}
        </button>
      </li>,
      ...render(b.id, depth + 1),
    ]);
  return <ul class="mailboxes" data-testid="mailboxes">{render(null, 0)}</ul>;
}

export interface VirtualListHandle {
  /** Selects the row delta rows from the selected one; at is the key event's time (the open's start). */
  step: (delta: number, at?: number) => void;
  find: (emailId: string) => Email | undefined;
}

/**
 * The message list: only the rows in view exist in the DOM (fixed row height), and rows are
 * fetched in pages by position (Email/query position+limit with Email/get in one request), so a
 * 100,000-message mailbox costs what one screen costs.
 */
const VirtualList = forwardRef<VirtualListHandle, {
  jmap: Jmap; filter: Record<string, any> | null; listKey: ListKey; selectedId: string | null; onSelect: (index: number, e: Email) => void;
}>(function VirtualList(props, ref) {
  const { jmap, filter, listKey } = props;
  const pageSize = jmap.listPageSize;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [total, setTotal] = useState<number | null>(null);
  const [rows, setRows] = useState<Map<number, Email>>(new Map());
  const loading = useRef(new Set<number>());
  const generation = useRef(0);
  const [loadError, setLoadError] = useState<string | null>(null);
  const selectedIndex = useRef(-1);
  // A pointer resting on a row for a moment is the usual prelude to its click: its thread is fetched
  // then (one at a time; passing over rows fetches nothing).
  const hover = useMemo(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    return {
      start: (threadId: string) => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => jmap.prefetchThread(threadId), 80);
      },
      cancel: () => {
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
  }, [jmap]);

  // A new mailbox, search or refresh: keep what is shown until the first page answers (no flash).
  useEffect(() => {
    generation.current++;
    loading.current.clear();
    setLoadError(null);
    loadPage(0, true);
    // eslint-disable-next-line
  }, [listKey.mailboxId, listKey.search, listKey.version]);

  useEffect(() => {
    if (scroller.current) {
      scroller.current.scrollTop = 0;
      setScrollTop(0);
    }
  }, [listKey.mailboxId, listKey.search]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  const loadPage = async (page: number, reset = false) => {
    if (loading.current.has(page)) return;
    loading.current.add(page);
    const gen = generation.current;
    try {
      const res = await jmap.queryPage(filter, page * pageSize, pageSize, !listKey.search);
      if (gen !== generation.current) return;
      setTotal(res.total);
      setRows((old) => {
        const next = reset ? new Map<number, Email>() : new Map(old);
        res.emails.forEach((e, i) => next.set(res.position + i, e));
        return next;
      });
    } catch (e) {
      if (gen === generation.current) setLoadError(e instanceof MethodError ? e.message : String(e));
    } finally {
      if (gen === generation.current) loading.current.delete(page);
    }
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min((total ?? 0) - 1, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  useEffect(() => {
    if (total === null) return;
    for (let p = Math.floor(first / pageSize); p <= Math.floor(Math.max(first, last) / pageSize); p++) {
      let missing = false;
      for (let i = p * pageSize; i < Math.min(total, (p + 1) * pageSize); i++) {
        if (i >= first && i <= last && !rows.has(i)) {
          missing = true;
          break;
        }
      }
      if (missing) loadPage(p);
    }
  });

  const select = (index: number, at?: number, via: 'click' | 'key' = 'key') => {
    const e = rows.get(index);
    if (!e) return;
    if (at !== undefined && e.id !== props.selectedId) openStarted(at, via);
    selectedIndex.current = index;
    // The likely next message is the row below (j, or reading down the list): its thread is
    // fetched ahead once this one has had its turn, one row at a time.
    const next = rows.get(index + 1);
    if (next) setTimeout(() => selectedIndex.current === index && jmap.prefetchThread(next.threadId), 400);
    props.onSelect(index, e);
    const el = scroller.current;
    if (el) {
      const top = index * ROW_HEIGHT;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    }
  };

  if (ref && typeof ref === 'object') {
    ref.current = {
      step: (delta, at) => {
        const cur = props.selectedId ? [...rows.entries()].find(([, e]) => e.id === props.selectedId)?.[0] ?? -1 : -1;
        const next = delta === 0 ? Math.max(cur, 0) : Math.min(Math.max(cur + delta, 0), (total ?? 1) - 1);
        select(next, at, 'key');
      },
      find: (id) => [...rows.values()].find((e) => e.id === id),
    };
  }

  const items: preact.JSX.Element[] = [];
  for (let i = first; i <= last; i++) {
    const e = rows.get(i);
    items.push(
      <div key={i} class={`row ${e && !e.keywords?.$seen ? 'unseen' : ''} ${e && e.id === props.selectedId ? 'selected' : ''}`}
        style={{ top: `${i * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}
        draggable={!!e} data-testid={e ? 'row' : 'row-loading'} data-email-id={e?.id}
        onDragStart={(ev) => e && ev.dataTransfer?.setData('application/x-grainmail-email', e.id)}
        onPointerEnter={() => e && hover.start(e.threadId)} onPointerLeave={() => hover.cancel()}
        onPointerDown={() => e && jmap.prefetchThread(e.threadId)}
        onClick={(ev) => select(i, ev.timeStamp, 'click')}>
        {e ? (
          <>
            <div class="row-line">
              <span class="row-from">{e.from?.map(shortName).join(', ') || '—'}</span>
              <span class="row-date">{formatDate(e.receivedAt)}</span>
            </div>
            <div class="row-line">
              <span class="row-subject">{e.keywords?.$flagged && <span class="flag">★ </span>}{e.subject || t('list.noSubject')}</span>
              {e.hasAttachment && <Clip />}
            </div>
            <div class="row-preview">{e.preview}</div>
          </>
        ) : (
          <div class="row-skeleton" />
        )}
      </div>,
    );
  }
  return (
    <div class="list" ref={scroller} onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)} data-testid="message-list"
      data-total={total ?? ''} data-state={loadError ? 'error' : total === null ? 'loading' : total === 0 ? 'empty' : 'ready'}>
      {loadError && <div class="banner error">{loadError}</div>}
      {total === null && !loadError && <div class="empty">{t('list.loading')}</div>}
      {total === 0 && <div class="empty" data-testid="list-empty">{t('list.empty')}</div>}
      <div class="list-spacer" style={{ height: `${(total ?? 0) * ROW_HEIGHT}px` }}>{items}</div>
    </div>
  );
});

/** Resolves after the next paint (or after 200 ms where nothing paints, e.g. a hidden tab). */
function afterPaint(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 200);
    requestAnimationFrame(() => setTimeout(() => (clearTimeout(timer), resolve()), 0));
  });
}

/**
 * The reading pane. Mounted once per session (also with nothing selected), and its message views
 * are kept by position, so the first message's reading frame is loaded before the first opening
 * and then reused: opening a message puts new nodes into a loaded document instead of creating one.
 * The row's summary is shown at once (subject, sender, date), the body when its thread arrives.
 */
function Conversation(props: {
  jmap: Jmap; email: Email | null; account: string; mailboxes: Mailbox[]; inJunk: boolean;
  onCompose: (d: ComposeDraft) => void; onFlag: (e: Email) => void; onDelete: (e: Email) => void; onJunk: (e: Email) => void;
  onMove: (e: Email, target: Mailbox) => void; onSeen: (rowEmail: Email) => void; onClose: () => void;
}) {
  const { jmap, email } = props;
  const [loaded, setLoaded] = useState<{ threadId: string; emails: Email[] } | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<{ threadId: string; text: string } | null>(null);
  const threadId = email?.threadId ?? null;

  useEffect(() => {
    if (!email) return;
    let cancelled = false;
    (async () => {
      try {
        let list = await jmap.thread(email.threadId);
        if (!list.length) list = await jmap.getEmails([email.id]);
        const trashOrJunk = new Set(props.mailboxes.filter((b) => b.role === 'trash' || b.role === 'junk').map((b) => b.id));
        const here = Object.keys(email.mailboxIds);
        // Messages only in Trash or Junk stay out of a conversation read elsewhere.
        list = list.filter((e) => Object.keys(e.mailboxIds).some((m) => !trashOrJunk.has(m) || here.includes(m)));
        if (cancelled) return;
        const unseen = list.filter((e) => !e.keywords?.$seen);
        setOpen(new Set([...unseen.map((e) => e.id), list[list.length - 1]?.id ?? email.id]));
        setLoaded({ threadId: email.threadId, emails: list });
        if (unseen.length) {
          // Marked seen once it is painted: the change and the folder counts it reloads come after the message, not before.
          await afterPaint();
          if (cancelled) return;
          await jmap.update(Object.fromEntries(unseen.map((e) => [e.id, { 'keywords/$seen': true }])));
          props.onSeen(email);
        }
      } catch (e) {
        if (!cancelled) setError({ threadId: email.threadId, text: String(e) });
      }
    })();
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line
  }, [threadId]);

  const ready = !!email && loaded?.threadId === email.threadId;
  const slots: (Email | null)[] = !email ? [null] : ready ? loaded!.emails : [email];
  const failed = email && error?.threadId === email.threadId ? error.text : null;
  const subject = (ready ? loaded!.emails[loaded!.emails.length - 1]?.subject : email?.subject) || t('list.noSubject');
  return (
    <div class="conversation" data-testid={email ? 'conversation' : undefined} aria-busy={email && !ready && !failed ? 'true' : undefined}>
      {email ? (
        <div class="conv-head">
          <h2 data-testid="subject">{subject}</h2>
          {ready && slots.length > 1 && <div class="muted">{t('read.conversation', slots.length)}</div>}
          <button class="icon close" title={t('act.close')} onClick={props.onClose}>✕</button>
        </div>
      ) : (
        <div class="empty">{t('read.none')}</div>
      )}
      {failed ? <div class="banner error">{failed}</div> : null}
      {slots.map((e, i) => (
        <MessageView key={i} jmap={jmap} email={e} expanded={!e || !ready || open.has(e.id)} account={props.account} inJunk={props.inJunk}
          mailboxes={props.mailboxes}
          onToggle={() => e && setOpen((s) => { const n = new Set(s); n.has(e.id) ? n.delete(e.id) : n.add(e.id); return n; })}
          onCompose={props.onCompose} onFlag={props.onFlag} onDelete={props.onDelete} onJunk={props.onJunk} onMove={props.onMove} />
      ))}
    </div>
  );
}

/** The body as HTML to sanitise; null while only the list's summary of the message is here. */
function bodyHtml(email: Email): { html: string | null; cids: EmailBodyPart[] } {
  if (!email.bodyValues) return { html: null, cids: [] };
  const values = email.bodyValues;
  const html = email.htmlBody ?? [];
  const cids = (email.attachments ?? []).filter((a) => a.cid);
  if (html.some((p) => p.type === 'text/html')) {
    return {
      html: html.map((p) => {
        const v = p.partId ? values[p.partId]?.value ?? '' : '';
        if (p.type === 'text/html') return v;
        if (p.type.startsWith('text/')) return textToHtml(v);
        return '';
      }).join(''),
      cids,
    };
  }
  const text = (email.textBody ?? []).map((p) => (p.partId ? values[p.partId]?.value ?? '' : '')).join('\n');
  return { html: textToHtml(text), cids: [] };
}

const NO_CIDS = new Map<string, string>();
const NO_SOURCE = { html: null, cids: [] as EmailBodyPart[] };

/**
 * One message of the conversation, or (email null) the idle pane's hidden view that loads the
 * reading frame ahead. The view stays when the next message takes its place, so what belongs to
 * one message (remote images allowed, inline parts' URLs, the preview) is kept with its id.
 */
function MessageView(props: {
  jmap: Jmap; email: Email | null; expanded: boolean; account: string; inJunk: boolean; mailboxes: Mailbox[];
  onToggle: () => void; onCompose: (d: ComposeDraft) => void; onFlag: (e: Email) => void; onDelete: (e: Email) => void;
  onJunk: (e: Email) => void; onMove: (e: Email, target: Mailbox) => void;
}) {
  const { jmap, email } = props;
  const id = email?.id ?? '';
  const sender = email?.from?.[0]?.email;
  const [remote, setRemote] = useState<{ id: string; on: boolean } | null>(null);
  const senderAllowed = useMemo(() => imagesAllowedFrom(sender), [sender]);
  const allowRemote = remote?.id === id ? remote.on : senderAllowed;
  const [cids, setCids] = useState<{ id: string; urls: Map<string, string> } | null>(null);
  const cidUrls = cids?.id === id ? cids.urls : NO_CIDS;
  const [preview, setPreview] = useState<{ id: string; part: EmailBodyPart } | null>(null);
  const source = useMemo(() => (email ? bodyHtml(email) : NO_SOURCE), [email]);

  useEffect(() => {
    if (!props.expanded || !source.cids.length) return;
    let cancelled = false;
    const urls: string[] = [];
    Promise.all(source.cids.map(async (p) => {
      const url = await jmap.blobUrl(p.blobId!, p.name ?? 'inline', p.type);
      urls.push(url);
      return [p.cid!.replace(/^<|>$/g, ''), url] as const;
    })).then((pairs) => !cancelled && setCids({ id, urls: new Map(pairs) }), () => undefined);
    return () => {
      cancelled = true;
      urls.forEach((u) => URL.revokeObjectURL(u));
    };
    // eslint-disable-next-line
  }, [props.expanded, source, jmap]);

  const safe = useMemo(() => (source.html === null ? null : sanitizeMail(source.html, allowRemote, cidUrls)), [source, allowRemote, cidUrls]);
  const full = !!email?.bodyValues;
  const attachments = (email?.attachments ?? []).filter((a) => !(a.cid && a.disposition === 'inline'));

  if (email && !props.expanded) {
    return (
      <div class="message collapsed" onClick={props.onToggle} data-testid="message-collapsed">
        <span class="msg-from">{shortName(email.from?.[0])}</span>
        <span class="msg-preview">{email.preview}</span>
        <span class="msg-date">{formatDate(email.receivedAt)}</span>
      </div>
    );
  }
  // Same shape with or without a message (parts left out are null), so the frame keeps its place in the tree.
  return (
    <article class="message" data-testid={email ? 'message' : undefined} data-email-id={email?.id} hidden={!email}>
      {email ? (
        <header class="msg-head" onClick={props.onToggle}>
          <div class="avatar">{(shortName(email.from?.[0]) || '?').slice(0, 1).toUpperCase()}</div>
          <div class="msg-meta">
            <div><strong data-testid="from">{email.from?.map(showAddress).join(', ')}</strong></div>
            <div class="muted">{t('read.to')}: {email.to?.map(showAddress).join(', ')}</div>
            {email.cc?.length ? <div class="muted">{t('read.cc')}: {email.cc.map(showAddress).join(', ')}</div> : null}
          </div>
          <div class="msg-date muted" title={formatDate(email.receivedAt, true)}>{formatDate(email.receivedAt, true)}</div>
        </header>
      ) : null}
      {email ? (
        <div class="msg-actions">
          <button disabled={!full} onClick={() => props.onCompose(replyDraft('reply', email, props.account))} data-testid="reply">{t('act.reply')}</button>
          <button disabled={!full} onClick={() => props.onCompose(replyDraft('replyAll', email, props.account))} data-testid="reply-all">{t('act.replyAll')}</button>
          <button disabled={!full} onClick={() => props.onCompose(replyDraft('forward', email, props.account))} data-testid="forward">{t('act.forward')}</button>
          <button onClick={() => props.onFlag(email)} data-testid="flag">{email.keywords?.$flagged ? t('act.unflag') : t('act.flag')}</button>
          <button onClick={() => props.onJunk(email)} data-testid="junk">{props.inJunk ? t('act.notJunk') : t('act.junk')}</button>
          <button onClick={() => props.onDelete(email)} data-testid="delete">{t('act.delete')}</button>
          <select aria-label={t('act.moveTo')} value="" onChange={(e) => {
            const target = props.mailboxes.find((b) => b.id === (e.target as HTMLSelectElement).value);
            if (target) props.onMove(email, target);
          }}>
            <option value="">{t('act.moveTo')}</option>
            {props.mailboxes.filter((b) => !email.mailboxIds[b.id]).map((b) => <option value={b.id}>{mailboxName(b)}</option>)}
          </select>
        </div>
      ) : null}
      {email && safe?.blockedRemote && !allowRemote ? (
        <div class="images-bar" data-testid="images-blocked">
          {t('read.remoteBlocked')}
          <button onClick={() => setRemote({ id, on: true })} data-testid="show-images">{t('read.showImages')}</button>
          {sender && <button onClick={() => { allowImagesFrom(sender); setRemote({ id, on: true }); }}>{t('read.alwaysSender', sender)}</button>}
        </div>
      ) : null}
      <MailFrame mail={safe} allowRemote={allowRemote} emailId={email?.id ?? null} title={email?.subject ?? ''} />
      {attachments.length > 0 ? (
        <div class="attachments" data-testid="attachments">
          <div class="muted">{t('read.attachments')}</div>
          {attachments.map((a) => (
            <div class="attachment" key={a.partId ?? a.blobId}>
              <span class="att-name"><Clip /> {a.name ?? a.type}</span>
              <span class="muted">{formatSize(a.size)}</span>
              {canPreview(a.type, a.name) && <button onClick={() => setPreview({ id, part: a })} data-testid="preview">{t('read.preview')}</button>}
              <button onClick={async () => {
                const url = await jmap.blobUrl(a.blobId!, a.name ?? 'attachment', a.type);
                const link = document.createElement('a');
                link.href = url;
                link.download = a.name ?? 'attachment';
                link.click();
                setTimeout(() => URL.revokeObjectURL(url), 60000);
              }}>{t('read.download')}</button>
            </div>
          ))}
        </div>
      ) : null}
      {preview && preview.id === id ? <Preview jmap={jmap} part={preview.part} onClose={() => setPreview(null)} /> : null}
    </article>
  );
}

/**
 * The sandboxed frame a message's body is shown in (no allow-scripts; allow-same-origin only so
 * this page can put the sanitised nodes in and size the frame). Its document is the policy's shell
 * (sanitize.ts frameShell), loaded once and kept while the policy stays: a new message replaces the
 * body's nodes. Allowing remote images loads the other shell, and the body goes in when it has loaded.
 */
function MailFrame(props: { mail: SanitizedMail | null; allowRemote: boolean; emailId: string | null; title: string }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const latest = useRef(props);
  latest.current = props;
  const fit = () => {
    const el = frame.current;
    const body = el?.contentDocument?.body;
    if (el && body) el.style.height = `${Math.max(60, body.scrollHeight + 8)}px`;
  };
  const show = () => {
    const el = frame.current;
    const { mail, allowRemote, emailId } = latest.current;
    if (!el || !showInFrame(el, mail, allowRemote)) return; // not this policy's shell yet: its load event comes back here
    el.dataset.shownId = mail && emailId ? emailId : '';
    fit();
    if (mail && emailId) {
      bodyInFrame(emailId);
      setTimeout(fit, 300); // images and fonts that arrive later
    }
  };
  useLayoutEffect(show, [props.mail, props.allowRemote]);
  return (
    <iframe ref={frame} class="msg-body" title={props.title} data-testid="message-body"
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"
      srcdoc={frameShell(props.allowRemote)} onLoad={show} />
  );
}

export function canPreview(type: string, name: string | null): boolean {
  return /^image\/(png|jpeg|gif|webp|bmp)$/i.test(type) || type === 'application/pdf' || /\.pdf$/i.test(name ?? '') ||
    type.startsWith('text/') || /\.(txt|log|csv|md)$/i.test(name ?? '');
}

/** A paperclip drawn inline (no icon font, no emoji: the same on every machine). */
export function Clip() {
  return (
    <svg class="clip" width="14" height="14" viewBox="0 0 16 16" aria-label="attachment" role="img">
      <path d="M10.5 4.5v6a2.5 2.5 0 0 1-5 0V4a1.5 1.5 0 0 1 3 0v6a.5.5 0 0 1-1 0V5" fill="none" stroke="currentColor" stroke-width="1.3" stroke-linecap="round" />
    </svg>
  );
}

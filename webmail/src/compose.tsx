import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, Email, EmailAddress, Jmap, Mailbox, MethodError, parseAddresses, Rest, showAddress, SUBMISSION } from './api';
import { formatDate, formatSize, t } from './i18n';
import { loadSignature } from './settings';
import { textToHtml } from './sanitize';

export interface ComposeDraft {
  to?: string;
  cc?: string;
  subject?: string;
  html?: string;
  inReplyTo?: string[];
  references?: string[];
  /** Attachments carried over (forward). */
  attachments?: Attached[];
}

let uploadSeq = 0;

interface Attached {
  key: number;
  name: string;
  type: string;
  size: number;
  blobId: string | null;
  progress: number;
  error?: string;
  /** Sent as a link (large attachment), not as a part of the message. */
  large?: boolean;
  link?: string;
}

const quoteHeader = (e: Email) => t('compose.wrote', formatDate(e.sentAt ?? e.receivedAt, true), showAddress(e.from?.[0]));

function originalHtml(e: Email): string {
  const values = e.bodyValues ?? {};
  const text = (e.textBody ?? []).filter((p) => p.type === 'text/plain').map((p) => (p.partId ? values[p.partId]?.value ?? '' : '')).join('\n');
  if (text.trim()) return textToHtml(text);
  // HTML only: its text, with line breaks where blocks ended. The quote is plain text again (escaped), never mail markup.
  const html = (e.htmlBody ?? []).map((p) => (p.partId ? values[p.partId]?.value ?? '' : '')).join('');
  const broken = html.replace(/<(br|\/p|\/div|\/li|\/tr|\/h[1-6])\b[^>]*>/gi, '$&\n');
  return textToHtml(new DOMParser().parseFromString(broken, 'text/html').body.textContent ?? '');
}

function addrList(list: EmailAddress[] | null | undefined): string {
  return (list ?? []).map(showAddress).join(', ');
}

/** The draft for a reply, reply-all or forward of an email (RFC 5322 3.6.4 threading headers). */
export function replyDraft(kind: 'reply' | 'replyAll' | 'forward', e: Email, me: string): ComposeDraft {
  const subject = e.subject ?? '';
  if (kind === 'forward') {
    return {
      subject: /^(fwd?|转发)\s*:/i.test(subject) ? subject : `Fwd: ${subject}`,
      html: `<p><br></p><p>${t('compose.forwarded')}<br>${escapeHtml(`${t('read.from')}: ${addrList(e.from)}`)}<br>` +
        `${escapeHtml(`${t('read.date')}: ${formatDate(e.sentAt ?? e.receivedAt, true)}`)}<br>${escapeHtml(`${t('read.to')}: ${addrList(e.to)}`)}</p>` +
        originalHtml(e),
      attachments: (e.attachments ?? []).filter((a) => a.blobId).map((a) => ({
        key: ++uploadSeq, name: a.name ?? 'attachment', type: a.type, size: a.size, blobId: a.blobId, progress: 1,
      })),
    };
  }
  const replyTo = e.replyTo?.length ? e.replyTo : e.from ?? [];
  const mine = (a: EmailAddress) => a.email.toLowerCase() === me.toLowerCase();
  let to = replyTo.filter((a) => !mine(a));
  if (!to.length) to = e.to ?? [];
  const cc = kind === 'replyAll' ? [...(e.to ?? []), ...(e.cc ?? [])].filter((a) => !mine(a) && !to.some((x) => x.email === a.email)) : [];
  return {
    to: addrList(to),
    cc: addrList(cc),
    subject: /^(re|回复)\s*:/i.test(subject) ? subject : `Re: ${subject}`,
    html: `<p><br></p><p>${escapeHtml(quoteHeader(e))}</p><blockquote>${originalHtml(e)}</blockquote>`,
    inReplyTo: e.messageId ?? undefined,
    references: [...(e.references ?? []), ...(e.messageId ?? [])],
  };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function Compose(props: { jmap: Jmap; rest: Rest; account: string; initial: ComposeDraft; mailboxes: Mailbox[]; onClose: (sent: boolean) => void }) {
  const { jmap } = props;
  const [to, setTo] = useState(props.initial.to ?? '');
  const [cc, setCc] = useState(props.initial.cc ?? '');
  const [bcc, setBcc] = useState('');
  const [subject, setSubject] = useState(props.initial.subject ?? '');
  const [files, setFiles] = useState<Attached[]>(props.initial.attachments ?? []);
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const editor = useRef<HTMLDivElement>(null);
  const draftId = useRef<string | null>(null);
  const saveTimer = useRef<number | null>(null);
  const saving = useRef<Promise<void>>(Promise.resolve());
  const closed = useRef(false);
  const drafts = props.mailboxes.find((b) => b.role === 'drafts');
  const sent = props.mailboxes.find((b) => b.role === 'sent');

  useEffect(() => {
    if (!editor.current) return;
    const signature = loadSignature();
    const sig = signature ? `<p></p><div class="signature">-- <br>${textToHtml(signature)}</div>` : '';
    // The editor's starting content is the app's own markup (quotes are re-escaped text): no mail HTML goes in.
    editor.current.innerHTML = (props.initial.html ?? '<p><br></p>') + sig;
    // eslint-disable-next-line
  }, []);

  const emailObject = () => {
    const html = editor.current?.innerHTML ?? '';
    const text = editor.current?.innerText ?? '';
    const attached = files.filter((f) => f.blobId);
    const obj: Record<string, any> = {
      mailboxIds: drafts ? { [drafts.id]: true } : {},
      keywords: { $draft: true, $seen: true },
      from: [{ name: null, email: props.account }],
      to: parseAddresses(to),
      cc: parseAddresses(cc),
      bcc: parseAddresses(bcc),
      subject,
      textBody: [{ partId: 'text', type: 'text/plain' }],
      htmlBody: [{ partId: 'html', type: 'text/html' }],
      bodyValues: { text: { value: text }, html: { value: `<!doctype html><html><body>${html}</body></html>` } },
      attachments: attached.map((f) => ({ blobId: f.blobId, type: f.type, name: f.name, disposition: 'attachment' })),
    };
    if (props.initial.inReplyTo?.length) obj.inReplyTo = props.initial.inReplyTo;
    if (props.initial.references?.length) obj.references = props.initial.references;
    return obj;
  };

  /** Emails are immutable (RFC 8621 §4.6): a new draft is created and the previous one destroyed in the same call. */
  const saveDraft = (): Promise<void> => {
    saving.current = saving.current.then(async () => {
      if (closed.current) return;
      setStatus(t('compose.saving'));
      try {
        const res = await jmap.call('Email/set', { create: { draft: emailObject() }, ...(draftId.current ? { destroy: [draftId.current] } : {}) });
        const created = res.created?.draft;
        if (!created) throw new MethodError(res.notCreated?.draft?.type ?? 'serverFail', res.notCreated?.draft?.description);
        draftId.current = created.id;
        setStatus(t('compose.saved', formatDate(new Date().toISOString())));
      } catch (e) {
        setStatus('');
        setError(String(e));
      }
    });
    return saving.current;
  };

  const changed = () => {
    if (saveTimer.current) clearTimeout(saveTimer.current);
    saveTimer.current = window.setTimeout(() => saveDraft(), 1500);
  };

  useEffect(() => () => {
    if (saveTimer.current) clearTimeout(saveTimer.current);
  }, []);

  const upload = (list: FileList | File[]) => {
    for (const file of Array.from(list)) {
      const key = ++uploadSeq;
      const update = (patch: Partial<Attached>) => setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, ...patch } : f)));
      const large = file.size > jmap.largeFileThreshold;
      setFiles((fs) => [...fs, { key, name: file.name, type: file.type || 'application/octet-stream', size: file.size, blobId: null, progress: 0, large }]);
      if (large) {
        // Over the message limit: uploaded in resumable pieces, and the mail carries a link that expires.
        jmap.uploadLarge(file, (p) => update({ progress: p })).then(
          (r) => {
            update({ progress: 1, link: r.downloadUrl });
            const p = document.createElement('p');
            p.className = 'large-link';
            const a = document.createElement('a');
            a.href = r.downloadUrl;
            a.textContent = file.name;
            p.append(a, ` (${formatSize(file.size)}${r.expires ? ', ' + t('compose.linkExpires', formatDate(r.expires, true)) : ''})`);
            editor.current?.append(p);
            changed();
          },
          (e: ApiError) => update({ error: e.message }),
        );
        continue;
      }
      jmap.upload(file, (p) => update({ progress: p })).then(
        (r) => {
          update({ blobId: r.blobId, progress: 1 });
          changed();
        },
        (e: ApiError) => update({ error: e.message }),
      );
    }
  };

  const send = async () => {
    if (!parseAddresses(to).length && !parseAddresses(cc).length && !parseAddresses(bcc).length) {
      setError(t('compose.noRecipients'));
      return;
    }
    if (!jmap.has(SUBMISSION)) {
      setError(t('compose.failed', t('set.unavailable')));
      return;
    }
    setBusy(true);
    setError(null);
    if (saveTimer.current) clearTimeout(saveTimer.current);
    await saving.current;
    try {
      const identities = (await jmap.call('Identity/get', { ids: null }, [SUBMISSION])).list as { id: string; email: string }[];
      const identity = identities.find((i) => i.email.toLowerCase() === props.account.toLowerCase()) ?? identities[0];
      if (!identity) throw new MethodError('forbiddenFrom', 'no identity');
      const onSuccess: Record<string, unknown> = { 'keywords/$draft': null };
      if (drafts) onSuccess[`mailboxIds/${drafts.id}`] = null;
      if (sent) onSuccess[`mailboxIds/${sent.id}`] = true;
      const responses = await jmap.request([
        ['Email/set', { accountId: jmap.accountId, create: { draft: emailObject() }, ...(draftId.current ? { destroy: [draftId.current] } : {}) }, 'e'],
        ['EmailSubmission/set', {
          accountId: jmap.accountId,
          create: { send: { identityId: identity.id, emailId: '#draft' } },
          onSuccessUpdateEmail: { '#send': onSuccess },
        }, 's'],
      ], ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', SUBMISSION]);
      const [emailSet, submission] = responses;
      if (!emailSet.created?.draft) throw new MethodError(emailSet.notCreated?.draft?.type ?? 'serverFail', emailSet.notCreated?.draft?.description);
      if (!submission.created?.send) throw new MethodError(submission.notCreated?.send?.type ?? 'serverFail', submission.notCreated?.send?.description);
      closed.current = true;
      props.onClose(true);
    } catch (e) {
      setError(t('compose.failed', String(e)));
    } finally {
      setBusy(false);
    }
  };

  const discard = async () => {
    closed.current = true;
    if (saveTimer.current) clearTimeout(saveTimer.current);
    await saving.current;
    if (draftId.current) await jmap.destroy([draftId.current]).catch(() => undefined);
    props.onClose(false);
  };

  const exec = (command: string, value?: string) => {
    editor.current?.focus();
    document.execCommand(command, false, value);
    changed();
  };

  return (
    <div class="compose" role="dialog" aria-label={t('compose.title')} data-testid="compose-window"
      onDragOver={(e) => e.preventDefault()} onDrop={(e) => { e.preventDefault(); if (e.dataTransfer?.files.length) upload(e.dataTransfer.files); }}>
      <div class="compose-head">
        <strong>{subject || t('compose.title')}</strong>
        <button class="icon" title={t('act.close')} onClick={() => { closed.current = true; saveDraft(); props.onClose(false); }}>✕</button>
      </div>
      <AddressField label={t('compose.to')} value={to} onChange={(v) => { setTo(v); changed(); }} rest={props.rest} testid="to" />
      <AddressField label={t('compose.cc')} value={cc} onChange={(v) => { setCc(v); changed(); }} rest={props.rest} testid="cc" />
      <AddressField label={t('compose.bcc')} value={bcc} onChange={(v) => { setBcc(v); changed(); }} rest={props.rest} testid="bcc" />
      <label class="field">
        <span>{t('compose.subject')}</span>
        <input value={subject} data-testid="subject-input" onInput={(e) => { setSubject((e.target as HTMLInputElement).value); changed(); }} />
      </label>
      <div class="toolbar">
        <button title={t('compose.bold')} onClick={() => exec('bold')}><b>B</b></button>
        <button title={t('compose.italic')} onClick={() => exec('italic')}><i>I</i></button>
        <button title={t('compose.underline')} onClick={() => exec('underline')}><u>U</u></button>
        <button title={t('compose.list')} onClick={() => exec('insertUnorderedList')}>• ≡</button>
        <button title={t('compose.link')} onClick={() => {
          const url = prompt(t('compose.linkPrompt'));
          if (url && /^(https?:|mailto:)/i.test(url)) exec('createLink', url);
        }}>link</button>
        <label class="attach-btn">
          + {t('compose.attach')}
          <input type="file" multiple hidden data-testid="attach" onChange={(e) => {
            const input = e.target as HTMLInputElement;
            if (input.files) upload(input.files);
            input.value = '';
          }} />
        </label>
      </div>
      <div class="editor" contentEditable ref={editor} onInput={changed} data-testid="editor" />
      {files.length > 0 && (
        <div class="uploads">
          {files.map((f) => (
            <div class="upload" key={f.key} data-testid="upload">
              <span>{f.name} <span class="muted">{formatSize(f.size)}</span></span>
              {f.error ? <span class="error">{f.error}</span> : (
                <progress max={1} value={f.progress} data-testid="upload-progress" data-done={f.blobId || f.link ? 'yes' : 'no'} />
              )}
              <button class="icon" onClick={() => { setFiles((fs) => fs.filter((x) => x !== f)); changed(); }}>✕</button>
            </div>
          ))}
        </div>
      )}
      {error && <div class="error" role="alert">{error}</div>}
      <div class="compose-foot">
        <button class="primary" onClick={send} disabled={busy || files.some((f) => !f.blobId && !f.link && !f.error)} data-testid="send">{t('compose.send')}</button>
        <button onClick={discard}>{t('compose.discard')}</button>
        <span class="muted" data-testid="draft-status">{status}</span>
      </div>
    </div>
  );
}

interface BookEntry {
  kind: string;
  address: string;
  displayName: string | null;
  department: string[];
}

/** An address field with suggestions from the enterprise address book (GET /api/v1/me/address-book). */
function AddressField(props: { label: string; value: string; onChange: (v: string) => void; rest: Rest; testid: string }) {
  const [suggestions, setSuggestions] = useState<BookEntry[]>([]);
  const [active, setActive] = useState(0);
  const timer = useRef<number | null>(null);

  const lookUp = (value: string) => {
    const term = value.split(/[,;]/).pop()!.trim();
    if (timer.current) clearTimeout(timer.current);
    if (!term) {
      setSuggestions([]);
      return;
    }
    timer.current = window.setTimeout(async () => {
      try {
        const found = await props.rest.call<BookEntry[]>('GET', `/api/v1/me/address-book?q=${encodeURIComponent(term)}&limit=8`);
        setSuggestions(found);
        setActive(0);
      } catch {
        setSuggestions([]);
      }
    }, 200);
  };

  const pick = (e: BookEntry) => {
    const parts = props.value.split(/[,;]/);
    parts.pop();
    const chosen = e.displayName ? `${e.displayName.replace(/[<>",]/g, '')} <${e.address}>` : e.address;
    props.onChange([...parts.map((p) => p.trim()).filter(Boolean), chosen].join(', ') + ', ');
    setSuggestions([]);
  };

  return (
    <label class="field autocomplete">
      <span>{props.label}</span>
      <input value={props.value} data-testid={`${props.testid}-input`} autocomplete="off"
        onInput={(e) => { const v = (e.target as HTMLInputElement).value; props.onChange(v); lookUp(v); }}
        onBlur={() => setTimeout(() => setSuggestions([]), 200)}
        onKeyDown={(e) => {
          if (!suggestions.length) return;
          if (e.key === 'ArrowDown') { setActive((a) => Math.min(a + 1, suggestions.length - 1)); e.preventDefault(); }
          else if (e.key === 'ArrowUp') { setActive((a) => Math.max(a - 1, 0)); e.preventDefault(); }
          else if (e.key === 'Enter' || e.key === 'Tab') { pick(suggestions[active]); e.preventDefault(); }
          else if (e.key === 'Escape') setSuggestions([]);
        }} />
      {suggestions.length > 0 && (
        <ul class="suggestions" data-testid="suggestions">
          {suggestions.map((s, i) => (
            <li key={s.address} class={i === active ? 'active' : ''} onMouseDown={(e) => { e.preventDefault(); pick(s); }}>
              <strong>{s.displayName ?? s.address}</strong> <span class="muted">{s.address}</span>
              {s.department?.length ? <span class="muted"> · {s.department.join(' / ')}</span> : null}
            </li>
          ))}
        </ul>
      )}
    </label>
  );
}

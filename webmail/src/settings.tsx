import { useEffect, useRef, useState } from 'preact/hooks';
import { Jmap, Rest, SUBMISSION, VACATION } from './api';
import { formatDate, t } from './i18n';

const SIGNATURE_KEY = 'grainmail.signature';

/** The signature for compose: the JMAP Identity's textSignature, mirrored locally so compose opens without a round trip. */
export function loadSignature(): string {
  return localStorage.getItem(SIGNATURE_KEY) ?? '';
}

type Identity = { id: string; email: string; textSignature?: string };

/** The identity of the user's own address (RFC 8621 §6), or the first one. */
async function ownIdentity(jmap: Jmap, account: string): Promise<Identity | undefined> {
  const list = (await jmap.call('Identity/get', { ids: null }, [SUBMISSION])).list as Identity[];
  return list.find((i) => i.email.toLowerCase() === account.toLowerCase()) ?? list[0];
}

/** Takes the signature stored on the server (set in another browser, say) into the local mirror. */
export async function syncSignature(jmap: Jmap | null, account: string): Promise<string> {
  if (!jmap?.has(SUBMISSION)) return loadSignature();
  const mine = await ownIdentity(jmap, account);
  const text = mine?.textSignature ?? loadSignature();
  localStorage.setItem(SIGNATURE_KEY, text);
  return text;
}

type Tab = 'password' | 'apps' | 'twofactor' | 'vacation' | 'signature' | 'keys';

export function Settings(props: { rest: Rest; jmap: Jmap | null; account: string; onClose: () => void }) {
  const [tab, setTab] = useState<Tab>('password');
  const tabs: [Tab, string][] = [
    ['password', t('set.password')], ['apps', t('set.appPasswords')], ['twofactor', t('set.twoFactor')],
    ['vacation', t('set.vacation')], ['signature', t('set.signature')], ['keys', t('set.shortcuts')],
  ];
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="settings" role="dialog" aria-label={t('set.title')} data-testid="settings">
        <div class="settings-head">
          <h2>{t('set.title')}</h2>
          <button class="icon" title={t('act.close')} onClick={props.onClose}>✕</button>
        </div>
        <div class="settings-body">
          <ul class="tabs">
            {tabs.map(([id, label]) => (
              <li key={id}><button class={tab === id ? 'active' : ''} onClick={() => setTab(id)} data-testid={`tab-${id}`}>{label}</button></li>
            ))}
          </ul>
          <div class="tab-content">
            {tab === 'password' && <PasswordTab rest={props.rest} />}
            {tab === 'apps' && <AppPasswordsTab rest={props.rest} />}
            {tab === 'twofactor' && <TwoFactorTab rest={props.rest} />}
            {tab === 'vacation' && <VacationTab jmap={props.jmap} />}
            {tab === 'signature' && <SignatureTab jmap={props.jmap} account={props.account} />}
            {tab === 'keys' && <p class="keys">{t('keys.list')}</p>}
          </div>
        </div>
      </div>
    </div>
  );
}

function useMessage(): [string | null, boolean, (text: string | null, bad?: boolean) => void] {
  const [msg, setMsg] = useState<string | null>(null);
  const [bad, setBad] = useState(false);
  return [msg, bad, (text, isBad = false) => { setMsg(text); setBad(isBad); }];
}

function Message({ text, bad }: { text: string | null; bad: boolean }) {
  return text ? <div class={bad ? 'error' : 'ok'} role="status">{text}</div> : null;
}

function PasswordTab({ rest }: { rest: Rest }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [msg, bad, say] = useMessage();
  return (
    <form onSubmit={async (e) => {
      e.preventDefault();
      try {
        await rest.call('PUT', '/api/v1/me/password', { currentPassword: current, newPassword: next });
        setCurrent('');
        setNext('');
        say(t('set.changed'));
      } catch (err) {
        say(String(err), true);
      }
    }}>
      <label class="field"><span>{t('set.current')}</span><input type="password" autocomplete="current-password" value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} /></label>
      <label class="field"><span>{t('set.new')}</span><input type="password" autocomplete="new-password" value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} /></label>
      <button class="primary" type="submit">{t('set.change')}</button>
      <Message text={msg} bad={bad} />
    </form>
  );
}

function AppPasswordsTab({ rest }: { rest: Rest }) {
  const [list, setList] = useState<{ name: string; createdAt: string }[]>([]);
  const [name, setName] = useState('');
  const [msg, bad, say] = useMessage();
  const load = () => rest.call<{ name: string; createdAt: string }[]>('GET', '/api/v1/me/app-passwords').then(setList, (e) => say(String(e), true));
  useEffect(() => {
    load();
    // eslint-disable-next-line
  }, []);
  return (
    <div>
      <ul class="plain">
        {list.map((p) => (
          <li key={p.name}>{p.name} <span class="muted">{formatDate(p.createdAt)}</span>{' '}
            <button onClick={async () => { await rest.call('DELETE', `/api/v1/me/app-passwords/${encodeURIComponent(p.name)}`).catch((e) => say(String(e), true)); load(); }}>{t('set.revoke')}</button>
          </li>
        ))}
      </ul>
      <form onSubmit={async (e) => {
        e.preventDefault();
        try {
          const r = await rest.call<{ name: string; password: string }>('POST', `/api/v1/accounts/${encodeURIComponent(rest.account)}/app-passwords`, { name });
          say(t('set.appCreated', r.name, r.password));
          setName('');
          load();
        } catch (err) {
          say(String(err), true);
        }
      }}>
        <label class="field"><span>{t('set.appName')}</span><input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>
        <button class="primary" type="submit" disabled={!name.trim()}>{t('set.create')}</button>
      </form>
      <Message text={msg} bad={bad} />
    </div>
  );
}

function TwoFactorTab({ rest }: { rest: Rest }) {
  const [status, setStatus] = useState<{ enabled: boolean; pending: boolean; recoveryCodesLeft: number; requiredByPolicy: boolean } | null>(null);
  const [enrolment, setEnrolment] = useState<{ secret: string; otpAuthUri: string; recoveryCodes: string[] } | null>(null);
  const [code, setCode] = useState('');
  const [msg, bad, say] = useMessage();
  const load = () => rest.call<typeof status>('GET', '/api/v1/me/two-factor').then(setStatus, (e) => say(String(e), true));
  useEffect(() => {
    load();
    // eslint-disable-next-line
  }, []);
  if (!status) return <Message text={msg} bad={bad} />;
  return (
    <div>
      <p>{t('set.twoFactor')}: <strong data-testid="2fa-state">{status.enabled ? t('set.2faOn') : t('set.2faOff')}</strong></p>
      {!status.enabled && !enrolment && (
        <button class="primary" onClick={async () => {
          try {
            setEnrolment(await rest.call('POST', '/api/v1/me/two-factor'));
          } catch (e) {
            say(String(e), true);
          }
        }}>{t('set.enable')}</button>
      )}
      {enrolment && !status.enabled && (
        <div>
          <p>{t('set.2faScan')}</p>
          <p><code data-testid="2fa-secret">{enrolment.secret}</code></p>
          <p class="muted small">{enrolment.otpAuthUri}</p>
          <p>{t('set.recovery')}</p>
          <pre class="codes">{enrolment.recoveryCodes.join('\n')}</pre>
        </div>
      )}
      {(enrolment || status.enabled) && (
        <form onSubmit={async (e) => {
          e.preventDefault();
          try {
            await rest.call('POST', status.enabled ? '/api/v1/me/two-factor/disable' : '/api/v1/me/two-factor/confirm', { code });
            setCode('');
            setEnrolment(null);
            say(t('set.saved'));
            load();
          } catch (err) {
            say(String(err), true);
          }
        }}>
          <label class="field"><span>{t('set.code')}</span><input inputMode="numeric" value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} /></label>
          <button class="primary" type="submit">{status.enabled ? t('set.disable') : t('set.confirm')}</button>
        </form>
      )}
      <Message text={msg} bad={bad} />
    </div>
  );
}

interface Vacation {
  id: string;
  isEnabled: boolean;
  fromDate: string | null;
  toDate: string | null;
  subject: string | null;
  textBody: string | null;
}

/** VacationResponse (RFC 8621 §8): the singleton object. */
function VacationTab({ jmap }: { jmap: Jmap | null }) {
  const [v, setV] = useState<Vacation | null>(null);
  const [msg, bad, say] = useMessage();
  const available = !!jmap?.has(VACATION);
  useEffect(() => {
    if (!jmap || !available) return;
    jmap.call('VacationResponse/get', { ids: null }, [VACATION]).then((r) => setV(r.list[0] ?? null), (e) => say(String(e), true));
    // eslint-disable-next-line
  }, [jmap]);
  if (!available) return <p class="muted">{t('set.unavailable')}</p>;
  if (!v) return <Message text={msg} bad={bad} />;
  const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '');
  return (
    <form onSubmit={async (e) => {
      e.preventDefault();
      try {
        const r = await jmap!.call('VacationResponse/set', {
          update: { singleton: { isEnabled: v.isEnabled, fromDate: v.fromDate, toDate: v.toDate, subject: v.subject, textBody: v.textBody } },
        }, [VACATION]);
        if (r.notUpdated?.singleton) throw new Error(r.notUpdated.singleton.type);
        say(t('set.saved'));
      } catch (err) {
        say(String(err), true);
      }
    }}>
      <label class="check"><input type="checkbox" data-testid="vacation-on" checked={v.isEnabled} onChange={(e) => setV({ ...v, isEnabled: (e.target as HTMLInputElement).checked })} /> {t('set.vacationOn')}</label>
      <label class="field"><span>{t('set.from')}</span><input type="date" value={day(v.fromDate)} onInput={(e) => { const d = (e.target as HTMLInputElement).value; setV({ ...v, fromDate: d ? `${d}T00:00:00Z` : null }); }} /></label>
      <label class="field"><span>{t('set.until')}</span><input type="date" value={day(v.toDate)} onInput={(e) => { const d = (e.target as HTMLInputElement).value; setV({ ...v, toDate: d ? `${d}T23:59:59Z` : null }); }} /></label>
      <label class="field"><span>{t('set.vacationSubject')}</span><input value={v.subject ?? ''} data-testid="vacation-subject" onInput={(e) => setV({ ...v, subject: (e.target as HTMLInputElement).value })} /></label>
      <label class="field"><span>{t('set.vacationBody')}</span><textarea rows={5} value={v.textBody ?? ''} data-testid="vacation-body" onInput={(e) => setV({ ...v, textBody: (e.target as HTMLTextAreaElement).value })} /></label>
      <button class="primary" type="submit" data-testid="vacation-save">{t('set.save')}</button>
      <Message text={msg} bad={bad} />
    </form>
  );
}

function SignatureTab({ jmap, account }: { jmap: Jmap | null; account: string }) {
  const [text, setText] = useState(loadSignature());
  const [msg, bad, say] = useMessage();
  // The server's copy arrives after the tab opens: it must not overwrite what the user has typed meanwhile.
  const edited = useRef(false);
  useEffect(() => {
    syncSignature(jmap, account).then((s) => { if (!edited.current) setText(s); }).catch(() => undefined);
  }, [jmap, account]);
  return (
    <form onSubmit={async (e) => {
      e.preventDefault();
      try {
        if (jmap?.has(SUBMISSION)) {
          const mine = await ownIdentity(jmap, account);
          if (mine) {
            const res = await jmap.call('Identity/set', { update: { [mine.id]: { textSignature: text } } }, [SUBMISSION]);
            const failed = res.notUpdated?.[mine.id];
            if (failed) throw new Error(failed.description ?? failed.type);
          }
        }
        localStorage.setItem(SIGNATURE_KEY, text);
        say(t('set.saved'));
      } catch (err) {
        say(String(err), true);
      }
    }}>
      <label class="field"><span>{t('set.signature')}</span><textarea rows={5} value={text} data-testid="signature-text" onInput={(e) => { edited.current = true; setText((e.target as HTMLTextAreaElement).value); }} /></label>
      <button class="primary" type="submit" data-testid="signature-save">{t('set.save')}</button>
      <Message text={msg} bad={bad} />
    </form>
  );
}

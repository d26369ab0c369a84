import { useEffect, useState } from 'preact/hooks';
import { ApiError, connectJmap, forgetLogin, Jmap, login, redeemSso, Rest, savedLogin, takeSsoTicket } from './api';
import { lang, Lang, setLang, t } from './i18n';
import { MailApp } from './mail';
import { useSignal } from './state';

export interface Auth {
  token: string;
  account: string;
  restrictions: string[];
}

export function App() {
  useSignal(lang); // every text re-renders on a language switch
  // A sign-on link replaces whatever session this tab had: it names the user the enterprise vouches for.
  const [ssoTicket] = useState<string | null>(() => {
    const ticket = takeSsoTicket();
    if (ticket !== null) forgetLogin();
    return ticket;
  });
  const [ssoPending, setSsoPending] = useState(ssoTicket !== null);
  const [ssoError, setSsoError] = useState<string | null>(null);
  const [auth, setAuth] = useState<Auth | null>(() => {
    const s = savedLogin();
    return s ? { ...s, restrictions: [] } : null;
  });

  useEffect(() => {
    if (ssoTicket === null) return;
    const refused = (detail: string) => (setSsoError(detail), setSsoPending(false));
    if (!ssoTicket) return refused(t('login.ssoRefused'));
    redeemSso(ssoTicket).then(
      (r) => {
        if (r.ok) {
          connectJmap(r.token).catch(() => undefined);
          setAuth({ token: r.token, account: r.account, restrictions: r.restrictions });
          setSsoPending(false);
        } else refused(r.error.status === 404 ? t('login.ssoRefused') : r.error.status === 403 ? forbidden(r.error, 'login.ssoForbidden') : t('login.error', r.error.message));
      },
      (e) => refused(t('login.error', String(e))),
    );
  }, [ssoTicket]);
  const [jmap, setJmap] = useState<Jmap | null>(null);
  const [jmapError, setJmapError] = useState<string | null>(null);

  useEffect(() => {
    if (!auth) return;
    let cancelled = false;
    connectJmap(auth.token).then(
      (j) => !cancelled && (setJmap(j), setJmapError(null)),
      (e: ApiError) => {
        if (cancelled) return;
        if (e.status === 401) {
          forgetLogin();
          setAuth(null);
        } else setJmapError(e.message);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [auth]);

  if (ssoPending) return <div class="login-page" data-testid="sso-pending"><div class="login-card"><h2>{t('login.ssoPending')}</h2></div></div>;
  if (!auth) return <Login onDone={setAuth} notice={ssoError} />;
  const rest = new Rest(auth.token, auth.account);
  const logout = async () => {
    await rest.logout();
    forgetLogin();
    setJmap(null);
    setAuth(null);
  };
  return <MailApp auth={auth} rest={rest} jmap={jmap} jmapError={jmapError} onLogout={logout} />;
}

/**
 * A 403 from the login or the sign-on link, in the user's language: the server's problem titles
 * (SessionEndpoints) name the reason; its English detail is not shown.
 */
function forbidden(e: ApiError, otherwise: 'login.ssoForbidden' | null): string {
  if (e.title === 'Account disabled') return t('login.disabled');
  if (e.title === 'Login not allowed from this address') return t('login.addressNotAllowed');
  return otherwise ? t(otherwise) : t('login.error', e.message);
}

export function LanguageSwitch() {
  const l = useSignal(lang);
  return (
    <select class="lang" aria-label={t('language')} title={t('language')} value={l} data-testid="language"
      onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
      <option value="en">English</option>
      <option value="zh-CN">简体中文</option>
    </select>
  );
}

function Login({ onDone, notice }: { onDone: (a: Auth) => void; notice?: string | null }) {
  const [address, setAddress] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  const [error, setError] = useState<string | null>(notice ?? null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await login(address.trim(), password, needTotp ? totp.trim() : undefined);
      if (r.ok) {
        // The mailbox's first requests leave now, not after the next render (issue 18: first page after login).
        connectJmap(r.token).catch(() => undefined);
        onDone({ token: r.token, account: r.account, restrictions: r.restrictions });
        return;
      }
      if (r.needTotp) {
        if (needTotp) setError(t('login.wrongCode'));
        setNeedTotp(true);
        setTotp('');
      } else if (r.error.status === 429) setError(t('login.locked'));
      else if (r.error.status === 403) setError(forbidden(r.error, null));
      else if (r.error.status === 401) setError(t('login.failed'));
      else setError(t('login.error', r.error.message));
    } catch (err) {
      setError(t('login.error', String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login-page">
      <form class="login-card" onSubmit={submit} data-testid="login-form">
        <div class="login-head">
          <div class="logo">✉</div>
          <h1>{t('appName')}</h1>
          <LanguageSwitch />
        </div>
        <h2>{t('login.title')}</h2>
        {!needTotp ? (
          <>
            <label>
              {t('login.address')}
              <input name="address" type="email" autocomplete="username" required value={address} autoFocus
                onInput={(e) => setAddress((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              {t('login.password')}
              <input name="password" type="password" autocomplete="current-password" required value={password}
                onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            </label>
          </>
        ) : (
          <>
            <p class="hint">{t('login.totpHint')}</p>
            <label>
              {t('login.totp')}
              <input name="totp" inputMode="numeric" autocomplete="one-time-code" required value={totp} autoFocus
                onInput={(e) => setTotp((e.target as HTMLInputElement).value)} />
            </label>
          </>
        )}
        {error && <div class="error" role="alert">{error}</div>}
        <button type="submit" class="primary" disabled={busy}>{needTotp ? t('login.verify') : t('login.submit')}</button>
      </form>
    </div>
  );
}

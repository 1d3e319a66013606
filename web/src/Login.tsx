import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, ApiError } from './api/client';
import type { LoginResponse } from './api/types';
import { useAuth } from './auth';

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 24 24" width="48" height="48" aria-hidden="true">
      <path
        fill="currentColor"
        d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"
      />
    </svg>
  );
}

/** AUTH-02 login screen. */
export function LoginPage() {
  const { t } = useTranslation();
  const { me, setMe } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [loginId, setLoginId] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? '/';

  if (me) return <Navigate to={from} replace />;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const res = await api.post<LoginResponse>('/api/v1/auth/login', { login_id: loginId, password }, { silent401: true });
      setMe(res);
      navigate(from, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 423) setError(t('login.locked'));
      else if (err instanceof ApiError && err.status === 429) setError(t('login.throttled'));
      else if (err instanceof ApiError && (err.status === 401 || err.status === 422 || err.status === 400)) setError(t('login.failed'));
      else setError(t('login.error'));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login-page">
      <form className="login-box" onSubmit={onSubmit} data-testid="login-form">
        <div className="login-logo">
          <Logo />
          <h1>{t('app.name')}</h1>
        </div>
        <h2 className="sr-only">{t('login.title')}</h2>
        {error && (
          <div className="banner banner-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <label htmlFor="login_id">{t('login.login_id')}</label>
        <input
          id="login_id"
          name="login_id"
          type="text"
          autoComplete="username"
          autoFocus
          required
          value={loginId}
          onChange={(e) => setLoginId(e.target.value)}
        />
        <label htmlFor="password">{t('login.password')}</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" className="btn btn-login" disabled={busy}>
          {t('login.submit')}
        </button>
      </form>
    </main>
  );
}

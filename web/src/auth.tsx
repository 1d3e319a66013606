import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, onUnauthorized, setCsrfToken } from './api/client';
import type { Me } from './api/types';
import i18n from './i18n';

interface AuthState {
  me: Me | null;
  loading: boolean;
  setMe: (me: Me | null) => void;
  refresh: () => Promise<void>;
  logout: () => Promise<void>;
  can: (perm: string) => boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMeState] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);

  const setMe = useCallback((m: Me | null) => {
    setMeState(m);
    setCsrfToken(m?.csrf_token ?? null);
    if (m?.user?.language && m.user.language !== i18n.language) void i18n.changeLanguage(m.user.language);
  }, []);

  const refresh = useCallback(async () => {
    try {
      const m = await api.get<Me>('/api/v1/me', { silent401: true });
      setMe(m);
    } catch {
      setMe(null);
    } finally {
      setLoading(false);
    }
  }, [setMe]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    const off = onUnauthorized(() => setMe(null));
    return () => {
      off();
    };
  }, [setMe]);

  const logout = useCallback(async () => {
    try {
      await api.post('/api/v1/auth/logout', undefined, { silent401: true });
    } catch {
      /* session may already be gone */
    }
    setMe(null);
  }, [setMe]);

  const can = useCallback((perm: string) => !!me?.permissions.includes(perm), [me]);

  const value = useMemo(() => ({ me, loading, setMe, refresh, logout, can }), [me, loading, setMe, refresh, logout, can]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(AuthContext);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}

import { useState, type ReactNode } from 'react';
import { Link, Navigate, NavLink, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useAuth } from './auth';
import { HeaderStatus } from './components/HeaderStatus';
import { IncomingCallPopup } from './components/IncomingCallPopup';
import { LiveProvider } from './live';
import { Logo } from './Login';
import { findTab, TABS } from './menu';
import { SCREENS } from './screens/registry';

export function RequireAuth({ children }: { children: ReactNode }) {
  const { me, loading } = useAuth();
  const location = useLocation();
  const { t } = useTranslation();
  if (loading) return <p className="muted pad">{t('common.loading')}</p>;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

/** UI-01 main screen layout. */
export function Shell() {
  const { t } = useTranslation();
  const { me, can, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(true);
  const [panelOpen, setPanelOpen] = useState(true);
  const tabKey = location.pathname.split('/')[1];
  const tab = findTab(tabKey);
  const visibleTabs = TABS.filter((x) => can(x.perm));
  const items = tab && can(tab.perm) ? tab.items.filter((i) => can(i.perm)) : [];

  return (
    <LiveProvider>
      <div className="app">
        <header className="topbar">
          <div className="topbar-row">
            <HeaderStatus />
            <IncomingCallPopup />
            <div className="brand">
              <Logo />
              <span>{t('app.name')}</span>
            </div>
            <div className="user-area">
              <span className="user-name" data-testid="user-name">
                {me?.user.name}
              </span>
              <a
                href="/login"
                className="logout"
                data-testid="logout"
                onClick={(e) => {
                  e.preventDefault();
                  void logout().then(() => navigate('/login', { replace: true }));
                }}
              >
                {t('header.logout')}
              </a>
            </div>
          </div>
          <nav className="tabs" aria-label={t('header.tabs')} data-testid="tabs">
            {visibleTabs.map((x) => (
              <NavLink key={x.key} to={`/${x.key}`} className={({ isActive }) => `tab${isActive ? ' active' : ''}`} data-tab={x.key}>
                {t(`tabs.${x.key}`)}
              </NavLink>
            ))}
          </nav>
        </header>
        <div className="workspace">
          <aside className={`side${menuOpen ? '' : ' collapsed'}`}>
            <button
              type="button"
              className="arrow"
              aria-expanded={menuOpen}
              aria-controls="side-menu"
              aria-label={menuOpen ? t('header.collapse_menu') : t('header.expand_menu')}
              title={menuOpen ? t('header.collapse_menu') : t('header.expand_menu')}
              onClick={() => setMenuOpen(!menuOpen)}
            >
              {menuOpen ? '◀' : '▶'}
            </button>
            {menuOpen && (
              <nav id="side-menu" aria-label={t('header.side_menu')} data-testid="side-menu">
                <ul>
                  {items.map((i) => (
                    <li key={i.key}>
                      <NavLink to={`/${tab!.key}/${i.key}`} className={({ isActive }) => (isActive ? 'active' : '')}>
                        {t(`menu.${i.key}`)}
                      </NavLink>
                    </li>
                  ))}
                </ul>
              </nav>
            )}
          </aside>
          <main className="content" id="content">
            <Outlet />
          </main>
          <aside className={`panel${panelOpen ? '' : ' collapsed'}`} aria-label={t('header.panel')}>
            <button
              type="button"
              className="arrow"
              aria-expanded={panelOpen}
              aria-label={panelOpen ? t('header.collapse_panel') : t('header.expand_panel')}
              title={panelOpen ? t('header.collapse_panel') : t('header.expand_panel')}
              onClick={() => setPanelOpen(!panelOpen)}
            >
              {panelOpen ? '▶' : '◀'}
            </button>
            {panelOpen && (
              <div className="panel-body" data-testid="right-panel">
                <p className="muted">{t('header.panel_placeholder')}</p>
              </div>
            )}
          </aside>
        </div>
      </div>
    </LiveProvider>
  );
}

export function Home() {
  const { can } = useAuth();
  const first = TABS.find((x) => can(x.perm));
  const { t } = useTranslation();
  if (!first) return <p className="muted">{t('common.forbidden')}</p>;
  return <Navigate to={`/${first.key}`} replace />;
}

function useItem() {
  const { tab: tabKey, item: itemKey, id } = useParams();
  const { can } = useAuth();
  const tab = findTab(tabKey);
  const item = tab?.items.find((i) => i.key === itemKey);
  const allowed = !!tab && can(tab.perm) && (!itemKey || (!!item && can(item.perm)));
  return { tab, item, id, allowed, exists: !!tab && (!itemKey || !!item) };
}

function Message({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <div className="placeholder" data-testid={testId}>
      {children}
    </div>
  );
}

export function TabHome() {
  const { t } = useTranslation();
  const { allowed, exists } = useItem();
  if (!exists) return <Message>{t('common.not_found')}</Message>;
  if (!allowed) return <Message>{t('common.forbidden')}</Message>;
  return <Message testId="select-from-menu">{t('common.select_from_menu')}</Message>;
}

function ComingSoon({ title }: { title: string }) {
  const { t } = useTranslation();
  return (
    <div className="coming-soon" data-testid="coming-soon">
      <h2>{title}</h2>
      <p>{t('common.coming_soon')}</p>
    </div>
  );
}

export function ItemPage() {
  const { t } = useTranslation();
  const { tab, item, allowed, exists } = useItem();
  if (!exists) return <Message>{t('common.not_found')}</Message>;
  if (!allowed) return <Message>{t('common.forbidden')}</Message>;
  const entry = SCREENS[`${tab!.key}/${item!.key}`];
  if (!entry) return <ComingSoon title={t(`menu.${item!.key}`)} />;
  const List = entry.List;
  return <List key={`${tab!.key}/${item!.key}`} />;
}

export function ItemDetailPage() {
  const { t } = useTranslation();
  const { tab, item, id, allowed, exists } = useItem();
  if (!exists) return <Message>{t('common.not_found')}</Message>;
  if (!allowed) return <Message>{t('common.forbidden')}</Message>;
  const entry = SCREENS[`${tab!.key}/${item!.key}`];
  if (!entry?.Detail)
    return (
      <Message>
        {t('common.not_found')} <Link to=".." relative="path">{t('common.top')}</Link>
      </Message>
    );
  const Detail = entry.Detail;
  return <Detail key={id} id={id!} />;
}

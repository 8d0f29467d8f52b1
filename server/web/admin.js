// The admin console: apps (marketplace, installed apps, one app's settings and
// logs), users and workspace settings. Mounted by the chat shell on `#/admin/...` with
// `mountAdmin(container, {api, user, route, navigate})`; it speaks only the public
// admin APIs (/api/apps/*, /api/v1/users.*, /api/v1/integrations.*, /api/v1/settings, /api/v1/roles.*,
// /api/v1/permissions.*, /api/v1/stdout.queue).

import { h, replace } from './admin-ui.js';
import { marketplaceView, installedView } from './admin-apps.js';
import { appView } from './admin-app.js';
import { usersView } from './admin-users.js';
import { outboxView } from './admin-outbox.js';
import { logsView } from './admin-logs.js';
import { integrationsView } from './admin-integrations.js';
import { ldapView } from './admin-ldap.js';
import { settingsView } from './admin-settings.js';
import { rolesView } from './admin-roles.js';
import { matrixView } from './admin-matrix.js';

const TABS = [
  { id: 'marketplace', label: 'Marketplace', hash: '#/admin/apps/marketplace' },
  { id: 'installed', label: 'Installed apps', hash: '#/admin/apps/installed' },
  { id: 'users', label: 'Users', hash: '#/admin/users' },
  { id: 'integrations', label: 'Integrations', hash: '#/admin/integrations' },
  { id: 'outbox', label: 'Delivery queue', hash: '#/admin/outbox' },
  { id: 'logs', label: 'Server log', hash: '#/admin/logs' },
  { id: 'ldap', label: 'LDAP', hash: '#/admin/ldap' },
  { id: 'settings', label: 'Settings', hash: '#/admin/settings' },
  { id: 'roles', label: 'Roles & permissions', hash: '#/admin/roles' },
  { id: 'matrix', label: 'Matrix bridge', hash: '#/admin/matrix' },
];

function ensureStylesheet() {
  if (document.querySelector('link[data-admin-css]')) return;
  document.head.appendChild(h('link', { rel: 'stylesheet', href: '/assets/admin.css', 'data-admin-css': '' }));
}

/** Splits a route (`apps/installed/hello/logs`) into the tab and the view to show. */
function parseRoute(route) {
  const parts = String(route || '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'users') return { tab: 'users', view: 'users' };
  if (parts[0] === 'integrations') return { tab: 'integrations', view: 'integrations' };
  if (parts[0] === 'outbox') return { tab: 'outbox', view: 'outbox' };
  if (parts[0] === 'logs') return { tab: 'logs', view: 'logs' };
  if (parts[0] === 'ldap') return { tab: 'ldap', view: 'ldap' };
  if (parts[0] === 'roles') return { tab: 'roles', view: 'roles' };
  if (parts[0] === 'matrix') return { tab: 'matrix', view: 'matrix' };
  if (parts[0] === 'settings') return { tab: 'settings', view: 'settings', group: parts[1] || '' };
  if (parts[0] === 'apps' && parts[1] === 'installed' && parts[2]) {
    return { tab: 'installed', view: 'app', appId: parts[2], section: parts[3] || 'settings' };
  }
  if (parts[0] === 'apps' && parts[1] === 'installed') return { tab: 'installed', view: 'installed' };
  return { tab: 'marketplace', view: 'marketplace' };
}

/**
 * Mounts the console in `container`. Returns `{update(route), unmount()}`; the
 * shell calls `update` when the hash changes under `#/admin/`.
 */
export function mountAdmin(container, ctx) {
  ensureStylesheet();
  const notice = h('div', { class: 'admin-notice', role: 'status', 'aria-live': 'polite', testid: 'admin-notice' });
  const tabLinks = TABS.map((t) => h('a', { href: t.hash, class: 'admin-tab', testid: `admin-tab-${t.id}` }, t.label));
  const main = h('div', { class: 'admin-main', testid: 'admin-main' });
  const root = h('section', { class: 'admin', testid: 'admin', 'aria-label': 'Administration' },
    h('nav', { class: 'admin-tabs', 'aria-label': 'Administration sections' }, tabLinks),
    notice,
    main);
  replace(container, root);

  let noticeTimer = null;
  let noticeAt = 0;
  /** Shows a short message in the live region (read out by screen readers). */
  const notify = (text, kind = 'ok') => {
    noticeAt = Date.now();
    notice.textContent = text;
    notice.dataset.kind = kind;
    notice.hidden = !text;
    clearTimeout(noticeTimer);
    if (text && kind === 'ok') noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
  };
  notify('');

  const view = { key: null, instance: null };
  const isAdmin = (ctx.user?.roles || []).includes('admin');
  const env = { api: ctx.api, user: ctx.user, navigate: ctx.navigate, notify };

  function show(route) {
    const r = parseRoute(route);
    tabLinks.forEach((link, i) => {
      if (TABS[i].id === r.tab) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    });
    if (!isAdmin) {
      replace(main, h('p', { class: 'error-text', testid: 'admin-forbidden' },
        'Only administrators can use the administration.'));
      return;
    }
    const key = JSON.stringify(r);
    if (key === view.key && view.instance) {
      if (view.instance.refresh) view.instance.refresh();
      return;
    }
    if (view.instance && view.instance.dispose) view.instance.dispose();
    view.key = key;
    const el = h('div', { class: 'admin-view' });
    replace(main, el);
    // A notice from the action that led here (install → the app's page) stays.
    if (Date.now() - noticeAt > 1500) notify('');
    if (r.view === 'users') view.instance = usersView(el, env);
    else if (r.view === 'integrations') view.instance = integrationsView(el, env);
    else if (r.view === 'outbox') view.instance = outboxView(el, env);
    else if (r.view === 'logs') view.instance = logsView(el, env);
    else if (r.view === 'ldap') view.instance = ldapView(el, env);
    else if (r.view === 'settings') view.instance = settingsView(el, env, r.group);
    else if (r.view === 'roles') view.instance = rolesView(el, env);
    else if (r.view === 'matrix') view.instance = matrixView(el, env);
    else if (r.view === 'installed') view.instance = installedView(el, env);
    else if (r.view === 'app') view.instance = appView(el, env, r.appId, r.section);
    else view.instance = marketplaceView(el, env);
  }

  show(ctx.route);
  return {
    update(route) {
      show(route);
    },
    unmount() {
      if (view.instance && view.instance.dispose) view.instance.dispose();
      view.instance = null;
      clearTimeout(noticeTimer);
      // Dialogs live on <body>: take ours away too.
      document.querySelectorAll('dialog.admin-dialog').forEach((d) => d.remove());
      container.replaceChildren();
    },
  };
}

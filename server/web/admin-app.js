// One installed app: its status and actions, the settings form generated from the
// manifest's schema, its log, and its details (grants, commands, endpoints, README).

import { h, replace, explain, statusBadge, formatTime, loading, loadError, safeLink } from './admin-ui.js';
import { appHash, newerListing, openUpdateDialog, uninstallApp, setEnabled } from './admin-apps.js';

const enc = encodeURIComponent;
const LIVE_INTERVAL_MS = 3000;
const SECTIONS = [
  { id: 'settings', label: 'Settings' },
  { id: 'logs', label: 'Logs' },
  { id: 'details', label: 'Details' },
];

/** The page of app `id`, showing `section`. */
export function appView(el, env, id, section) {
  let alive = true;
  let sectionView = null;
  const header = h('div', { class: 'admin-app-header' });
  const body = h('div', { class: 'admin-app-body' });
  let app = null;
  let listings = [];

  function renderHeader() {
    const update = newerListing(listings, app.id, app.version);
    const toggle = h('button', {
      type: 'button', testid: 'app-toggle', class: app.enabled ? undefined : 'primary',
      on: {
        click: async () => {
          toggle.disabled = true;
          const res = await setEnabled(env, app, !app.enabled);
          if (res) await reloadApp();
          toggle.disabled = false;
        },
      },
    }, app.enabled ? 'Disable' : 'Enable');
    replace(header,
      h('p', {}, h('a', { href: '#/admin/apps/installed' }, '← Installed apps')),
      h('div', { class: 'admin-head' },
        h('h2', { testid: 'app-name' }, app.name, h('span', { class: 'admin-version' }, ` ${app.version}`)),
        h('div', { class: 'admin-actions' },
          toggle,
          update ? h('button', {
            type: 'button', testid: 'app-update',
            on: { click: () => openUpdateDialog(env, app, update, () => reloadApp()) },
          }, `Update to ${update.version}…`) : null,
          h('button', {
            type: 'button', class: 'danger', testid: 'app-uninstall',
            on: { click: async () => { if (await uninstallApp(env, app)) env.navigate('#/admin/apps/installed'); } },
          }, 'Uninstall'))),
      h('p', { class: 'admin-status-line' }, statusBadge(app.status, 'app-status'),
        app.statusReason ? h('span', { class: 'admin-reason', testid: 'app-status-reason' }, ` ${app.statusReason}`) : null),
      h('nav', { class: 'admin-subtabs', 'aria-label': `${app.name} sections` },
        SECTIONS.map((s) => h('a', {
          href: appHash(app.id, s.id), testid: `app-tab-${s.id}`, class: 'admin-tab',
          'aria-current': s.id === section ? 'page' : undefined,
        }, s.label))));
  }

  async function reloadApp() {
    const res = await env.api('GET', `/api/apps/${enc(id)}`);
    if (!alive) return;
    app = res.app;
    renderHeader();
  }

  async function load() {
    replace(el, loading());
    try {
      const [res, market] = await Promise.all([
        env.api('GET', `/api/apps/${enc(id)}`),
        env.api('GET', '/api/apps/marketplace').catch(() => ({ apps: [] })),
      ]);
      if (!alive) return;
      app = res.app;
      listings = market.apps || [];
      renderHeader();
      replace(el, header, body);
      if (sectionView && sectionView.dispose) sectionView.dispose();
      if (section === 'logs') sectionView = logsSection(body, env, app);
      else if (section === 'details') sectionView = detailsSection(body, app);
      else sectionView = settingsSection(body, env, app, (status, reason) => {
        app.status = status;
        app.statusReason = reason;
        app.enabled = status === 'manually_enabled' || status === 'auto_enabled';
        renderHeader();
      });
    } catch (e) {
      if (!alive) return;
      if (e.status === 404) {
        replace(el, h('p', { testid: 'app-missing' }, `No app "${id}" is installed. `,
          h('a', { href: '#/admin/apps/installed' }, 'Installed apps')));
      } else replace(el, loadError(e, load));
    }
  }

  load();
  return {
    refresh: load,
    dispose: () => {
      alive = false;
      if (sectionView && sectionView.dispose) sectionView.dispose();
    },
  };
}

// ------------------------------------------------------------------- settings

/** An input for one setting of the schema; `read()` gives the value to send. */
function settingControl(s) {
  const inputId = `setting-input-${s.id}`;
  const common = { id: inputId, name: s.id, testid: inputId, 'aria-describedby': `${inputId}-hint ${inputId}-error` };
  let input;
  let read;
  let clear = null;
  switch (s.type) {
    case 'bool':
      input = h('input', { ...common, type: 'checkbox', checked: s.value === true });
      read = () => input.checked;
      break;
    case 'int':
      input = h('input', { ...common, type: 'number', step: '1', inputmode: 'numeric', autocomplete: 'off', value: s.value ?? '' });
      read = () => (input.value.trim() === '' ? null : Number(input.value));
      break;
    case 'select':
      input = h('select', common,
        s.required ? null : h('option', { value: '' }, '(none)'),
        (s.options || []).map((o) => h('option', { value: o.value, selected: o.value === s.value }, o.label || o.value)));
      if (s.value === null || s.value === undefined) input.value = '';
      read = () => (input.value === '' ? null : input.value);
      break;
    case 'password':
      // Write-only: the server never sends the value back, only whether it is set.
      input = h('input', {
        ...common, type: 'password', autocomplete: 'new-password', value: '',
        placeholder: s.isSet ? 'Saved — type a new value to replace it' : 'Not set',
      });
      if (s.isSet && !s.required) {
        clear = h('input', { type: 'checkbox', id: `${inputId}-clear`, testid: `setting-clear-${s.id}` });
      }
      read = () => (clear && clear.checked ? null : input.value);
      break;
    case 'multiline':
      input = h('textarea', { ...common, rows: 4, value: s.value ?? '' });
      read = () => input.value;
      break;
    default:
      input = h('input', { ...common, type: 'text', autocomplete: 'off', value: s.value ?? '' });
      read = () => input.value;
  }
  const error = h('p', { class: 'error-text', id: `${inputId}-error`, testid: `setting-error-${s.id}`, hidden: true });
  const hint = h('p', { class: 'hint', id: `${inputId}-hint` }, s.description || '',
    s.type === 'password' ? ` ${s.isSet ? 'A value is saved.' : 'No value is saved.'}` : '');
  const label = s.type === 'bool'
    ? h('label', { class: 'check', htmlFor: inputId }, input, s.label, s.required ? ' *' : '')
    : h('label', { htmlFor: inputId }, s.label, s.required ? h('span', { 'aria-hidden': 'true' }, ' *') : null);
  const field = h('div', { class: 'field', testid: `setting-${s.id}`, dataset: { type: s.type } },
    label,
    s.type === 'bool' ? null : input,
    clear ? h('label', { class: 'check', htmlFor: clear.id }, clear, 'Clear the saved value') : null,
    hint,
    error);
  const showError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  // An error goes away as soon as the field is edited; Save checks again.
  input.addEventListener('input', () => showError(''));
  return { s, field, input, read, showError, clear };
}

/** The browser-side checks; the server checks again and its answer wins. */
function validate(control) {
  const { s, input } = control;
  const v = control.read();
  if (s.type === 'password') {
    if (s.required && !s.isSet && !v) return 'Required.';
    return null;
  }
  if (s.type === 'int') {
    if (input.validity && input.validity.badInput) return 'Enter a whole number.';
    if (v === null) return s.required ? 'Required.' : null;
    if (!Number.isInteger(v)) return 'Enter a whole number.';
    return null;
  }
  if (s.type === 'bool') return null;
  if (s.required && (v === null || String(v).trim() === '')) return 'Required.';
  if (s.type === 'string' && typeof v === 'string' && v.includes('\n')) return 'Must be a single line.';
  return null;
}

/** Whether the control's value differs from what was loaded. */
function changed(control) {
  const v = control.read();
  if (control.s.type === 'password') return v === null || v !== '';
  const before = control.s.value ?? (control.s.type === 'bool' ? false : null);
  const norm = (x) => (x === '' && control.s.type !== 'string' && control.s.type !== 'multiline' ? null : x);
  return norm(v) !== norm(before);
}

function settingsSection(el, env, app, onStatus) {
  let alive = true;
  async function load() {
    replace(el, loading());
    try {
      const res = await env.api('GET', `/api/apps/${enc(app.id)}/settings`);
      if (alive) render(res.settings || []);
    } catch (e) {
      if (alive) replace(el, loadError(e, load));
    }
  }

  function render(settings) {
    if (!settings.length) {
      replace(el, h('p', { testid: 'settings-none' }, `${app.name} has no settings.`));
      return;
    }
    const controls = settings.map(settingControl);
    const formError = h('p', { class: 'error-text', role: 'alert', testid: 'settings-error', hidden: true });
    const save = h('button', { type: 'submit', class: 'primary', testid: 'settings-save' }, 'Save settings');
    const form = h('form', { class: 'admin-settings', testid: 'settings-form', novalidate: true },
      h('h3', {}, 'Settings'),
      h('p', { class: 'admin-muted' }, 'Fields marked * are required.'),
      controls.map((c) => c.field),
      formError,
      h('div', { class: 'dialog-actions' }, save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      formError.hidden = true;
      let firstBad = null;
      for (const c of controls) {
        const message = validate(c);
        c.showError(message);
        if (message && !firstBad) firstBad = c;
      }
      if (firstBad) {
        firstBad.input.focus();
        return;
      }
      const values = {};
      for (const c of controls) if (changed(c)) values[c.s.id] = c.read();
      if (!Object.keys(values).length) {
        env.notify('Nothing to save: no setting was changed.');
        return;
      }
      save.disabled = true;
      try {
        const res = await env.api('POST', `/api/apps/${enc(app.id)}/settings`, { settings: values });
        if (!alive) return;
        render(res.settings || []);
        onStatus(res.status, res.statusReason);
        env.notify(`Settings of ${app.name} saved.`);
      } catch (err) {
        save.disabled = false;
        showServerErrors(err.message, controls, formError);
      }
    });
    replace(el, form);
  }

  load();
  return { dispose: () => { alive = false; } };
}

/** Puts the server's `id: message; id: message` errors next to their fields. */
function showServerErrors(message, controls, formError) {
  const rest = [];
  let first = null;
  for (const part of String(message || '').split('; ')) {
    const at = part.indexOf(': ');
    const control = at > 0 ? controls.find((c) => c.s.id === part.slice(0, at)) : null;
    if (control) {
      control.showError(part.slice(at + 2));
      if (!first) first = control;
    } else if (part) rest.push(part);
  }
  if (rest.length || !first) {
    formError.textContent = `Not saved: ${rest.join('; ') || message}`;
    formError.hidden = false;
  }
  if (first) first.input.focus();
}

// ----------------------------------------------------------------------- logs

const LEVELS = [
  { value: 'debug', label: 'All levels' },
  { value: 'info', label: 'Info and above' },
  { value: 'warn', label: 'Warnings and errors' },
  { value: 'error', label: 'Errors only' },
];

function logsSection(el, env, app) {
  let alive = true;
  let timer = null;
  let shown = 50;
  let inFlight = false;
  const level = h('select', { id: 'logs-level', testid: 'logs-level' },
    LEVELS.map((l) => h('option', { value: l.value }, l.label)));
  const live = h('input', { type: 'checkbox', id: 'logs-live', testid: 'logs-live' });
  const refresh = h('button', { type: 'button', testid: 'logs-refresh' }, 'Refresh');
  const summary = h('p', { class: 'admin-muted', testid: 'logs-summary', 'aria-live': 'polite' });
  const rows = h('tbody', { testid: 'logs-rows' });
  const more = h('button', { type: 'button', testid: 'logs-more', hidden: true }, 'Show older entries');
  const error = h('p', { class: 'error-text', role: 'alert', hidden: true, testid: 'logs-error' });

  async function load() {
    if (inFlight) return;
    inFlight = true;
    try {
      const res = await env.api('GET', `/api/apps/${enc(app.id)}/logs`, {
        level: level.value, count: Math.min(shown, 100), offset: 0,
      });
      if (!alive) return;
      error.hidden = true;
      let entries = res.logs || [];
      // Past 100 (one page), the older pages are fetched too.
      while (entries.length < shown && entries.length < res.total) {
        const page = await env.api('GET', `/api/apps/${enc(app.id)}/logs`, {
          level: level.value, count: Math.min(shown - entries.length, 100), offset: entries.length,
        });
        if (!alive) return;
        if (!(page.logs || []).length) break;
        entries = entries.concat(page.logs);
      }
      replace(rows, entries.map(logRow));
      if (!entries.length) {
        rows.append(h('tr', {}, h('td', { colspan: 4, class: 'admin-muted', testid: 'logs-empty' },
          'No log entries at this level.')));
      }
      summary.textContent = `Showing ${entries.length} of ${res.total} entries, newest first`
        + `${live.checked ? ' · refreshing live' : ''} · updated ${new Date().toLocaleTimeString()}`;
      more.hidden = entries.length >= res.total;
    } catch (e) {
      if (!alive) return;
      error.textContent = `Could not load the log: ${e.message}`;
      error.hidden = false;
    } finally {
      inFlight = false;
    }
  }

  function setLive(on) {
    clearInterval(timer);
    timer = on ? setInterval(() => { if (!document.hidden) load(); }, LIVE_INTERVAL_MS) : null;
    load();
  }

  level.addEventListener('change', () => { shown = 50; load(); });
  live.addEventListener('change', () => setLive(live.checked));
  refresh.addEventListener('click', load);
  more.addEventListener('click', () => { shown += 50; load(); });

  replace(el,
    h('h3', {}, 'Log'),
    h('div', { class: 'admin-toolbar' },
      h('div', {}, h('label', { htmlFor: 'logs-level' }, 'Level'), level),
      h('label', { class: 'check', htmlFor: 'logs-live' }, live, 'Live'),
      refresh),
    summary,
    error,
    h('div', { class: 'admin-table-wrap' }, h('table', { class: 'admin-logs', testid: 'logs-table' },
      h('thead', {}, h('tr', {}, ['Time', 'Level', 'Where', 'Message'].map((t) => h('th', { scope: 'col' }, t)))),
      rows)),
    more);
  load();
  return {
    dispose: () => {
      alive = false;
      clearInterval(timer);
    },
  };
}

function logRow(entry) {
  return h('tr', { testid: 'log-entry', class: `admin-log-${entry.level}`, dataset: { level: entry.level } },
    h('td', { class: 'admin-nowrap' }, h('time', { datetime: entry.ts }, formatTime(entry.ts))),
    h('td', {}, h('span', { class: `admin-level admin-level-${entry.level}` }, entry.level)),
    h('td', {}, entry.handler || '—'),
    h('td', { class: 'admin-log-message' }, entry.message,
      entry.fault ? h('div', { class: 'error-text' }, `Fault: ${typeof entry.fault === 'string' ? entry.fault : JSON.stringify(entry.fault)}`) : null));
}

// -------------------------------------------------------------------- details

function detailsSection(el, app) {
  const granted = app.permissionsGranted || [];
  const list = (items, render, cls) => (items && items.length
    ? h('ul', { class: cls }, items.map(render))
    : h('p', { class: 'admin-muted' }, 'None.'));
  replace(el,
    app.description ? h('p', {}, app.description) : null,
    app.author ? h('p', { class: 'admin-muted' }, `By ${app.author.name || 'unknown'}`,
      app.author.homepage ? [' · ', safeLink(app.author.homepage, 'homepage')] : null) : null,
    h('h3', {}, 'Permissions'),
    list(app.permissions, (p) => h('li', { class: 'admin-perm', testid: 'detail-permission', dataset: { permission: p.name } },
      h('code', {}, p.name), ' ',
      h('span', { class: `admin-tag ${granted.includes(p.name) ? 'admin-tag-granted' : 'admin-tag-optional'}` },
        granted.includes(p.name) ? 'granted' : 'not granted'),
      h('p', {}, explain(p)),
      p.hosts && p.hosts.length ? h('p', { class: 'admin-muted' }, `Hosts: ${p.hosts.join(', ')}`) : null), 'admin-perms'),
    h('h3', {}, 'Slash commands'),
    list(app.commands, (c) => h('li', {}, h('code', {}, `/${c.name}${c.params ? ` ${c.params}` : ''}`), c.description ? ` — ${c.description}` : '')),
    h('h3', {}, 'HTTP endpoints'),
    list(app.endpoints, (e) => {
      const url = `/api/apps/${e.public ? 'public' : 'private'}/${app.id}/${e.path}`;
      return h('li', {}, h('code', {}, `${(e.methods || []).join(', ')} ${url}`), e.public ? ' (no login)' : ' (logged-in users)');
    }),
    h('h3', {}, 'Events'),
    list(app.events, (ev) => h('li', {}, h('code', {}, ev))),
    h('dl', { class: 'admin-facts' },
      h('dt', {}, 'Bot user'), h('dd', {}, app.botUserId ? `${app.id}.bot` : '—'),
      h('dt', {}, 'API version'), h('dd', {}, app.apiVersion || '—'),
      h('dt', {}, 'Pre-send priority'), h('dd', {}, String(app.priority ?? 0)),
      h('dt', {}, 'Essential'), h('dd', {}, app.essential ? 'yes: messages are refused when its hook fails' : 'no'),
      h('dt', {}, 'Installed'), h('dd', {}, formatTime(app.installedAt)),
      h('dt', {}, 'Updated'), h('dd', {}, formatTime(app.updatedAt))),
    app.readme ? [h('h3', {}, 'README'), h('pre', { class: 'admin-readme', testid: 'app-readme' }, app.readme)] : null);
  return {};
}

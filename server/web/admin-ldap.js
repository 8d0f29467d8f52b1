// LDAP / Active Directory: test the connection and a search, run a sync (or a dry
// run that writes nothing) and read the last sync's report. The connection,
// mapping and schedule themselves are workspace settings (Settings → LDAP).
// Through /api/v1/ldap.*.

import { h, replace, loading, loadError } from './admin-ui.js';

function when(ts) {
  const d = new Date(typeof ts === 'number' ? ts : (ts && ts.$date) || ts);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

const COUNTS = [
  ['entries', 'Directory entries'], ['created', 'Created'], ['updated', 'Updated'],
  ['deactivated', 'Deactivated'], ['reactivated', 'Re-activated'], ['unchanged', 'Unchanged'],
  ['skipped', 'Skipped'], ['errors', 'Errors'],
];

function reportView(report) {
  if (!report) {
    return h('p', { class: 'admin-muted', testid: 'ldap-no-report' },
      'No sync has run since this server started.');
  }
  const head = h('p', { testid: 'ldap-report-summary' },
    `${report.dryRun ? 'Dry run' : 'Sync'} (${report.trigger}) started ${when(report.startedAt)}, `
    + `finished ${when(report.finishedAt)}: ${report.success ? 'succeeded' : `failed: ${report.error || ''}`}`);
  const counts = h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'ldap-report-counts' },
    h('tbody', {}, COUNTS.map(([k, label]) => h('tr', { dataset: { count: k } },
      h('th', { scope: 'row' }, label), h('td', { testid: `ldap-count-${k}` }, String(report[k] ?? 0)))))));
  const changes = (report.changes || []).length
    ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'ldap-report-changes' },
      h('thead', {}, h('tr', {}, ['User', 'Action', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, report.changes.map((c) => h('tr', { testid: 'ldap-change-row', dataset: { username: c.username } },
        h('td', {}, c.username), h('td', {}, c.action), h('td', { class: 'admin-break' }, c.detail))))))
    : h('p', { class: 'admin-muted' }, 'Nothing changed.');
  return h('div', { testid: 'ldap-report' }, head, counts, changes);
}

/** The LDAP tab. */
export function ldapView(el, env) {
  let alive = true;
  const report = h('div', { testid: 'ldap-report-box' });
  const username = h('input', { type: 'text', placeholder: 'username', testid: 'ldap-search-username', 'aria-label': 'Username to search' });

  async function call(path, body, done) {
    try {
      const res = await env.api('POST', path, body);
      env.notify(done(res));
      if (res.report) replace(report, reportView(res.report));
    } catch (e) {
      env.notify(e.message, 'error');
    }
  }

  async function load() {
    if (!report.firstChild) replace(report, loading());
    try {
      const r = await env.api('GET', '/api/v1/ldap.syncReport');
      const dry = r.lastDryRun;
      const newest = dry && (!r.report || new Date(when(dry.finishedAt)) > new Date(when(r.report.finishedAt))) ? dry : r.report;
      if (alive) replace(report, reportView(newest));
    } catch (e) {
      if (alive) replace(report, loadError(e, load));
    }
  }

  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'LDAP / Active Directory')),
    h('p', { class: 'admin-muted' },
      'The connection, attribute maps, group maps and schedule are settings (Settings → LDAP). '
      + 'A dry run reports what a sync would change without changing anything.'),
    h('div', { class: 'admin-actions' },
      h('button', { type: 'button', testid: 'ldap-test-connection',
        on: { click: () => call('/api/v1/ldap.testConnection', {}, () => 'Connection successful.') } }, 'Test connection'),
      username,
      h('button', { type: 'button', testid: 'ldap-test-search',
        on: { click: () => call('/api/v1/ldap.testSearch', { username: username.value }, () => 'User found.') } }, 'Test search'),
      h('button', { type: 'button', testid: 'ldap-dry-run',
        on: { click: () => call('/api/v1/ldap.syncNow', { dryRun: true }, () => 'Dry run finished.') } }, 'Dry run'),
      h('button', { type: 'button', testid: 'ldap-sync-now',
        on: { click: () => call('/api/v1/ldap.syncNow', {}, () => 'Sync finished.') } }, 'Sync now')),
    h('h3', {}, 'Last sync'),
    report);
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

// The server's log (Rocket.Chat's "View Logs"): the last lines this instance kept,
// newest at the bottom, filtered as one types, refreshed every few seconds while
// the tab is open. Through /api/v1/stdout.queue; how much is kept and logged is in
// the settings' Logs group (Log_Level, Log_View_Limit, Log_Trace_*).

import { h, replace, loading, loadError } from './admin-ui.js';

const REFRESH_MS = 5000;

/** The server log tab. */
export function logsView(el, env) {
  let alive = true;
  let lines = [];
  let timer = null;
  const list = h('pre', { class: 'admin-log', testid: 'logs-lines', tabindex: '0', 'aria-label': 'Server log' });
  const filter = h('input', {
    type: 'search', placeholder: 'Filter lines', testid: 'logs-filter', 'aria-label': 'Filter lines',
    on: { input: () => render() },
  });
  const follow = h('input', { type: 'checkbox', checked: true, testid: 'logs-follow', on: { change: () => schedule() } });
  const refresh = h('button', { type: 'button', testid: 'logs-refresh', on: { click: () => load() } }, 'Refresh');
  const count = h('span', { class: 'admin-muted', testid: 'logs-count' });

  function render() {
    const term = filter.value.trim().toLowerCase();
    const shown = term ? lines.filter((l) => l.string.toLowerCase().includes(term)) : lines;
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    replace(list, ...shown.map((l) => h('div', { class: 'admin-log-line', testid: 'logs-line', dataset: { id: l.id } }, l.string)));
    count.textContent = term ? `${shown.length} of ${lines.length} lines` : `${lines.length} lines`;
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function schedule() {
    clearTimeout(timer);
    if (alive && follow.checked) timer = setTimeout(load, REFRESH_MS);
  }

  async function load() {
    if (!lines.length && !list.firstChild) replace(list, loading());
    try {
      const res = await env.api('GET', '/api/v1/stdout.queue');
      if (!alive) return;
      lines = res.queue || [];
      render();
    } catch (e) {
      if (alive) replace(list, loadError(e, load));
    }
    schedule();
  }

  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'Server log'), refresh),
    h('p', { class: 'admin-muted' },
      'The last lines this server logged (errors, warnings and information by default). ',
      h('a', { href: '#/admin/settings/Logs' }, 'Log settings'),
      ' choose the level, how many lines are kept, and method tracing.'),
    h('div', { class: 'admin-actions' }, filter,
      h('label', {}, follow, ' Refresh every 5 s'), count),
    list);
  load();
  return { refresh: load, dispose: () => { alive = false; clearTimeout(timer); } };
}

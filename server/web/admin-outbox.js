// The delivery queue (outbox): per kind, what waits and how old the oldest item
// is; the dead letters (given up after their attempts, or refused by the target)
// with their last error, to retry or drop. Through /api/v1/palaver.outbox.*.

import { h, replace, confirmDialog, loading, loadError } from './admin-ui.js';

const PAGE = 50;

function age(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/** Where a dead item was going, for the table (webhooks carry a URL). */
function target(item) {
  const p = item.payload || {};
  return p.url || p.to || p.target || '';
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/** The delivery queue tab. */
export function outboxView(el, env) {
  let alive = true;
  let offset = 0;
  const stats = h('div', { testid: 'outbox-stats' });
  const dead = h('div', { testid: 'outbox-dead' });
  const refresh = h('button', { type: 'button', testid: 'outbox-refresh' }, 'Refresh');

  async function act(path, body, done) {
    try {
      const res = await env.api('POST', path, body);
      env.notify(done(res));
    } catch (e) {
      env.notify(e.message, 'error');
    }
    load();
  }

  function deadRow(item) {
    return h('tr', { testid: 'outbox-dead-row', dataset: { id: item._id } },
      h('td', {}, item.kind),
      h('td', { class: 'admin-break' }, target(item)),
      h('td', { testid: 'outbox-dead-attempts' }, String(item.attempts)),
      h('td', { class: 'admin-break', testid: 'outbox-dead-error' }, item.lastError || ''),
      h('td', {}, when(item.createdAt)),
      h('td', {}, h('div', { class: 'admin-actions' },
        h('button', {
          type: 'button', testid: 'outbox-retry',
          on: { click: () => act('/api/v1/palaver.outbox.retry', { id: item._id }, () => 'Queued again.') },
        }, 'Retry'),
        h('button', {
          type: 'button', class: 'danger', testid: 'outbox-drop',
          on: {
            click: async () => {
              const yes = await confirmDialog({
                title: 'Drop this item?',
                message: 'It will never be delivered.',
                confirmLabel: 'Drop',
                testid: 'outbox-drop-dialog',
              });
              if (yes) act('/api/v1/palaver.outbox.drop', { id: item._id }, () => 'Dropped.');
            },
          },
        }, 'Drop'))));
  }

  async function load() {
    if (!stats.firstChild) replace(stats, loading());
    try {
      const [s, d] = await Promise.all([
        env.api('GET', '/api/v1/palaver.outbox.stats'),
        env.api('GET', '/api/v1/palaver.outbox.dead', { count: PAGE, offset }),
      ]);
      if (!alive) return;
      replace(stats, h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'outbox-queues' },
        h('thead', {}, h('tr', {}, ['Kind', 'Waiting', 'Being delivered', 'Oldest waiting', 'Dead letters', 'Delivered since start']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, (s.queues || []).map((q) => h('tr', { testid: 'outbox-queue-row', dataset: { kind: q.kind } },
          h('td', {}, q.kind),
          h('td', { testid: 'outbox-pending' }, String(q.pending)),
          h('td', {}, String(q.leased)),
          h('td', {}, age(q.oldestPendingAgeSeconds)),
          h('td', { testid: 'outbox-dead-count' }, String(q.dead)),
          h('td', {}, String(q.deliveredSinceStart))))))));
      const items = d.items || [];
      const bulk = items.length ? h('div', { class: 'admin-actions' },
        h('button', {
          type: 'button', testid: 'outbox-retry-all',
          on: { click: () => act('/api/v1/palaver.outbox.retry', { all: true }, (r) => `${r.retried} queued again.`) },
        }, 'Retry all'),
        h('button', {
          type: 'button', class: 'danger', testid: 'outbox-drop-all',
          on: {
            click: async () => {
              const yes = await confirmDialog({
                title: `Drop all ${d.total} dead letters?`,
                message: 'They will never be delivered.',
                confirmLabel: 'Drop all',
                testid: 'outbox-drop-all-dialog',
              });
              if (yes) act('/api/v1/palaver.outbox.drop', { all: true }, (r) => `${r.dropped} dropped.`);
            },
          },
        }, 'Drop all')) : null;
      replace(dead,
        h('div', { class: 'admin-head' }, h('h3', {}, 'Dead letters'), bulk),
        items.length
          ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'outbox-dead-table' },
            h('thead', {}, h('tr', {}, ['Kind', 'Target', 'Attempts', 'Last error', 'Queued', 'Actions']
              .map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, items.map(deadRow))))
          : h('p', { class: 'admin-muted', testid: 'outbox-no-dead' }, 'No dead letters: everything was delivered or is still being tried.'),
        d.total > PAGE ? h('div', { class: 'admin-pager' },
          h('span', { class: 'admin-muted' }, `${offset + 1}–${offset + items.length} of ${d.total}`),
          h('button', { type: 'button', disabled: offset === 0, on: { click: () => { offset = Math.max(0, offset - PAGE); load(); } } }, 'Previous'),
          h('button', { type: 'button', disabled: offset + items.length >= d.total, on: { click: () => { offset += PAGE; load(); } } }, 'Next'))
          : null);
    } catch (e) {
      if (alive) replace(stats, loadError(e, load));
    }
  }

  refresh.addEventListener('click', load);
  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'Delivery queue'), refresh),
    h('p', { class: 'admin-muted' },
      'Outgoing webhook calls (and later e-mail, push, bridges) wait here until the target accepts them. ' +
      'Failures are retried with growing pauses; what is given up on stays as a dead letter.'),
    stats,
    dead);
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

// Integrations: incoming webhooks (a URL senders post to) and outgoing webhooks
// (events POSTed to URLs). List, create, edit, enable/disable, regenerate tokens,
// remove, and read each one's history (every incoming call; every outgoing delivery
// attempt with its request, response status, body excerpt and error). Through
// /api/v1/integrations.* and /api/v1/palaver.integrations.regenerateToken.

import { h, replace, openDialog, confirmDialog, loading, loadError, formatTime } from './admin-ui.js';

const EVENTS = [
  ['sendMessage', 'Message sent'], ['fileUploaded', 'File uploaded'], ['roomCreated', 'Room created'],
  ['roomArchived', 'Room archived'], ['roomJoined', 'User joined room'], ['roomLeft', 'User left room'],
  ['userCreated', 'User created'],
];
const RETRY_DELAYS = ['powers-of-ten', 'powers-of-two', 'increments-of-two'];
const OUTGOING = 'webhook-outgoing';

function hookUrl(i) {
  return `${window.location.origin}/hooks/${encodeURIComponent(i._id)}/${encodeURIComponent(i.token)}`;
}

let fieldSeq = 0;

/** A labelled form field; `kind`: text, textarea, number, check, select. */
function field(name, label, kind, value, options) {
  const id = `integration-${name}-${++fieldSeq}`;
  const common = { id, name, testid: `integration-field-${name}` };
  let input;
  if (kind === 'check') input = h('input', { ...common, type: 'checkbox', checked: !!value });
  else if (kind === 'textarea') input = h('textarea', { ...common, rows: 3, value: value ?? '' });
  else if (kind === 'number') input = h('input', { ...common, type: 'number', min: 0, max: 100, value: value ?? 0 });
  else if (kind === 'select') {
    input = h('select', common, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
  } else input = h('input', { ...common, type: 'text', autocomplete: 'off', value: value ?? '' });
  const wrap = kind === 'check'
    ? h('div', { class: 'field' }, h('label', { class: 'check', htmlFor: id }, input, label))
    : h('div', { class: 'field' }, h('label', { htmlFor: id }, label), input);
  const read = () => {
    if (kind === 'check') return input.checked;
    if (kind === 'number') return Number(input.value || 0);
    return input.value;
  };
  return { wrap, read, name };
}

/** The create/edit dialog for `kind`; `current` is the integration being edited. */
function editDialog(env, kind, current, done) {
  const c = current || {};
  const outgoing = kind === OUTGOING;
  const fields = [
    field('name', 'Name', 'text', c.name),
    field('enabled', 'Enabled', 'check', current ? c.enabled : true),
    field('channel', outgoing
      ? 'Channel (#room, @user, all_public_channels, all_private_groups, all_direct_messages; commas between several)'
      : 'Post to channel (#room or @user)', 'text', (c.channel || []).join(', ')),
    field('username', outgoing ? 'Reply as user' : 'Post as user', 'text', c.username),
    field('alias', 'Alias', 'text', c.alias),
    field('avatar', 'Avatar URL', 'text', c.avatar),
    field('emoji', 'Emoji', 'text', c.emoji),
  ];
  if (outgoing) {
    fields.push(
      field('event', 'Event', 'select', c.event || 'sendMessage', EVENTS),
      field('urls', 'URLs (one per line)', 'textarea', (c.urls || []).join('\n')),
      field('triggerWords', 'Trigger words (commas between several)', 'text', (c.triggerWords || []).join(', ')),
      field('triggerWordAnywhere', 'Trigger words anywhere in the text', 'check', c.triggerWordAnywhere),
      field('runOnEdits', 'Run on edits', 'check', c.runOnEdits),
      field('targetRoom', 'Post replies to (#room or @user; empty: the triggering room)', 'text', c.targetRoom),
      field('token', 'Token (sent to the target; empty: generated)', 'text', c.token),
      field('retryFailedCalls', 'Retry failed calls', 'check', current ? c.retryFailedCalls : true),
      field('retryCount', 'Retries', 'number', current ? c.retryCount : 6),
      field('retryDelay', 'Retry delay', 'select', c.retryDelay || 'powers-of-ten',
        RETRY_DELAYS.map((d) => [d, d])),
    );
  } else {
    fields.push(field('overrideDestinationChannelEnabled', 'Senders may choose another channel', 'check',
      current ? c.overrideDestinationChannelEnabled : true));
  }
  const body = h('form', { class: 'admin-form', testid: 'integration-form', on: { submit: (e) => e.preventDefault() } },
    fields.map((f) => f.wrap));
  openDialog({
    title: current ? `Edit ${current.name}` : (outgoing ? 'New outgoing webhook' : 'New incoming webhook'),
    testid: 'integration-dialog',
    body,
    actions: [{
      label: current ? 'Save' : 'Create',
      kind: 'primary',
      testid: 'integration-save',
      onClick: async ({ close }) => {
        const payload = { type: kind, scriptEnabled: false };
        for (const f of fields) payload[f.name] = f.read();
        if (outgoing) {
          payload.urls = String(payload.urls).split('\n').map((u) => u.trim()).filter(Boolean);
          payload.triggerWords = String(payload.triggerWords).split(',').map((w) => w.trim()).filter(Boolean);
          if (!payload.token) delete payload.token;
        }
        if (current) {
          payload.integrationId = current._id;
          await env.api('PUT', '/api/v1/integrations.update', payload);
        } else {
          await env.api('POST', '/api/v1/integrations.create', payload);
        }
        close();
        done(current ? 'Saved.' : 'Created.');
      },
    }],
  });
}

function historyRow(e) {
  return h('tr', { testid: 'integration-history-row', dataset: { id: e._id } },
    h('td', {}, formatTime(e._createdAt)),
    h('td', { testid: 'integration-history-step' }, e.step),
    h('td', { class: 'admin-break' }, e.url || ''),
    h('td', { testid: 'integration-history-status' }, e.statusCode == null ? '—' : String(e.statusCode)),
    h('td', {}, e.attempt == null ? '' : String(e.attempt)),
    h('td', { class: 'admin-break', testid: 'integration-history-error' }, e.httpError || ''),
    h('td', {}, h('details', {},
      h('summary', {}, 'Request and response'),
      h('pre', { class: 'admin-break', testid: 'integration-history-request' },
        typeof e.httpCallData === 'string' ? e.httpCallData : JSON.stringify(e.httpCallData, null, 2)),
      h('pre', { class: 'admin-break', testid: 'integration-history-response' }, e.httpResult || ''))));
}

/** The integrations tab. */
export function integrationsView(el, env) {
  let alive = true;
  let selected = null;
  const list = h('div', { testid: 'integrations-list' });
  const history = h('div', { testid: 'integration-history' });

  async function act(fn, message) {
    try {
      await fn();
      env.notify(message);
    } catch (e) {
      env.notify(e.message, 'error');
    }
    load();
  }

  async function loadHistory() {
    if (!selected) {
      replace(history);
      return;
    }
    try {
      const r = await env.api('GET', '/api/v1/integrations.history', { id: selected._id, count: 50 });
      if (!alive) return;
      const rows = r.history || [];
      replace(history,
        h('div', { class: 'admin-head' },
          h('h3', {}, `History of ${selected.name}`),
          h('button', { type: 'button', testid: 'integration-history-refresh', on: { click: loadHistory } }, 'Refresh')),
        rows.length
          ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'integration-history-table' },
            h('thead', {}, h('tr', {}, ['When', 'Step', 'URL', 'Status', 'Attempt', 'Error', 'Details']
              .map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, rows.map(historyRow))))
          : h('p', { class: 'admin-muted', testid: 'integration-history-empty' }, 'Nothing recorded yet.'),
        r.total > rows.length ? h('p', { class: 'admin-muted' }, `The newest ${rows.length} of ${r.total}.`) : null);
    } catch (e) {
      if (alive) replace(history, loadError(e, loadHistory));
    }
  }

  function row(i) {
    const outgoing = i.type === OUTGOING;
    return h('tr', { testid: 'integration-row', dataset: { id: i._id, name: i.name, type: i.type } },
      h('td', { testid: 'integration-name' }, i.name),
      h('td', {}, outgoing ? `Outgoing (${i.event})` : 'Incoming'),
      h('td', { testid: 'integration-enabled' }, i.enabled ? 'Enabled' : 'Disabled'),
      h('td', { class: 'admin-break' }, (i.channel || []).join(', ')),
      h('td', { class: 'admin-break', testid: 'integration-target' },
        outgoing ? (i.urls || []).join(' ') : hookUrl(i)),
      h('td', {}, h('div', { class: 'admin-actions' },
        h('button', { type: 'button', testid: 'integration-edit',
          on: { click: () => editDialog(env, i.type, i, (m) => { env.notify(m); load(); }) } }, 'Edit'),
        h('button', { type: 'button', testid: 'integration-toggle',
          on: { click: () => act(() => env.api('PUT', '/api/v1/integrations.update',
            { type: i.type, integrationId: i._id, enabled: !i.enabled }), i.enabled ? 'Disabled.' : 'Enabled.') } },
        i.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', testid: 'integration-regenerate',
          on: { click: async () => {
            const yes = await confirmDialog({
              title: 'Regenerate the token?',
              message: outgoing
                ? 'Calls will carry (and be signed with) a new token; the receiver must be told.'
                : 'The current webhook URL stops working; senders need the new one.',
              confirmLabel: 'Regenerate',
              testid: 'integration-regenerate-dialog',
            });
            if (yes) act(() => env.api('POST', '/api/v1/palaver.integrations.regenerateToken', { integrationId: i._id }), 'New token generated.');
          } } }, 'Regenerate token'),
        h('button', { type: 'button', testid: 'integration-history-open',
          on: { click: () => { selected = i; loadHistory(); } } }, 'History'),
        h('button', { type: 'button', class: 'danger', testid: 'integration-remove',
          on: { click: async () => {
            const yes = await confirmDialog({
              title: `Remove ${i.name}?`,
              message: 'The integration and its history are deleted.',
              confirmLabel: 'Remove',
              testid: 'integration-remove-dialog',
            });
            if (yes) {
              if (selected && selected._id === i._id) selected = null;
              act(() => env.api('POST', '/api/v1/integrations.remove', { type: i.type, integrationId: i._id }), 'Removed.');
            }
          } } }, 'Remove'))));
  }

  async function load() {
    if (!list.firstChild) replace(list, loading());
    try {
      const r = await env.api('GET', '/api/v1/integrations.list', { count: 200 });
      if (!alive) return;
      const items = r.integrations || [];
      if (selected) selected = items.find((i) => i._id === selected._id) || null;
      replace(list, items.length
        ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'integrations-table' },
          h('thead', {}, h('tr', {}, ['Name', 'Kind', 'State', 'Channel', 'URL', 'Actions']
            .map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, items.map(row))))
        : h('p', { class: 'admin-muted', testid: 'integrations-empty' }, 'No integrations yet.'));
      loadHistory();
    } catch (e) {
      if (alive) replace(list, loadError(e, load));
    }
  }

  const created = (m) => { env.notify(m); load(); };
  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'Integrations'),
      h('div', { class: 'admin-actions' },
        h('button', { type: 'button', class: 'primary', testid: 'integration-new-incoming',
          on: { click: () => editDialog(env, 'webhook-incoming', null, created) } }, 'New incoming webhook'),
        h('button', { type: 'button', class: 'primary', testid: 'integration-new-outgoing',
          on: { click: () => editDialog(env, OUTGOING, null, created) } }, 'New outgoing webhook'))),
    h('p', { class: 'admin-muted' },
      'Incoming webhooks post what other systems send to their URL; outgoing webhooks call URLs when something '
      + 'happens here. Outgoing calls go through the delivery queue and may not reach private addresses unless '
      + 'the operator allowed them.'),
    list,
    history);
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

// The Matrix bridge: which Palaver rooms are bridged to which Matrix rooms,
// bridging a channel or private group to a Matrix room (by id `!…` or alias
// `#…:server`), and unbridging. Channels Matrix users opened through the alias
// namespace (`#palaver_<name>:<server>`) are listed too. Through
// /api/v1/palaver.matrix.*.

import { h, replace, confirmDialog, loading, loadError } from './admin-ui.js';

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/** The Matrix bridge tab. */
export function matrixView(el, env) {
  let alive = true;
  const list = h('div', { testid: 'matrix-rooms' });
  const room = h('input', {
    type: 'text', placeholder: 'Palaver room name', testid: 'matrix-bridge-room',
    'aria-label': 'Palaver room (channel or private group) name', required: true,
  });
  const target = h('input', {
    type: 'text', placeholder: '!roomid:server or #alias:server', testid: 'matrix-bridge-target',
    'aria-label': 'Matrix room id or alias', required: true,
  });
  const submit = h('button', { type: 'submit', testid: 'matrix-bridge-submit' }, 'Bridge');
  const form = h('form', { class: 'admin-actions', testid: 'matrix-bridge-form' }, room, target, submit);

  async function load() {
    if (!list.firstChild) replace(list, loading());
    try {
      const r = await env.api('GET', '/api/v1/palaver.matrix.rooms');
      if (!alive) return;
      const rooms = r.rooms || [];
      replace(list, rooms.length
        ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'matrix-rooms-table' },
          h('thead', {}, h('tr', {}, ['Palaver room', 'Matrix room', 'Alias', 'How', 'Since', 'Actions']
            .map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, rooms.map((link) => h('tr', { testid: 'matrix-room-row', dataset: { rid: link.roomId } },
            h('td', { testid: 'matrix-room-name' }, `${link.roomType === 'p' ? '🔒 ' : '#'}${link.roomName || link.roomId}`),
            h('td', { class: 'admin-break', testid: 'matrix-room-id' }, link.matrixRoomId),
            h('td', { class: 'admin-break' }, link.alias || ''),
            h('td', {}, link.explicit ? 'Bridged by an admin' : 'Opened through its alias'),
            h('td', {}, when(link.createdAt)),
            h('td', {}, h('button', {
              type: 'button', class: 'danger', testid: 'matrix-unbridge',
              on: {
                click: async () => {
                  const yes = await confirmDialog({
                    title: `Unbridge ${link.roomName || link.roomId}?`,
                    message: 'Messages stop crossing between the two rooms; both keep their history.',
                    confirmLabel: 'Unbridge',
                    testid: 'matrix-unbridge-dialog',
                  });
                  if (!yes) return;
                  try {
                    await env.api('POST', '/api/v1/palaver.matrix.unbridgeRoom', { roomId: link.roomId });
                    env.notify('Unbridged.');
                  } catch (e) {
                    env.notify(e.message, 'error');
                  }
                  load();
                },
              },
            }, 'Unbridge')))))))
        : h('p', { class: 'admin-muted', testid: 'matrix-no-rooms' }, 'No room is bridged.'));
    } catch (e) {
      if (alive) replace(list, loadError(e, load));
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const r = await env.api('POST', '/api/v1/palaver.matrix.bridgeRoom', {
        roomName: room.value.trim(), matrixRoom: target.value.trim(),
      });
      env.notify(`Bridged to ${r.room.matrixRoomId}.`);
      room.value = '';
      target.value = '';
    } catch (e) {
      env.notify(e.message, 'error');
    } finally {
      submit.disabled = false;
    }
    load();
  });

  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'Matrix bridge'),
      h('button', { type: 'button', testid: 'matrix-refresh', on: { click: load } }, 'Refresh')),
    h('p', { class: 'admin-muted' },
      'Bridge a channel or private group to a Matrix room: Matrix users in that room talk with Palaver users here. '
      + 'Public channels are also reachable from Matrix as #palaver_<name>:<server>; private groups only when bridged here.'),
    form,
    list);
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

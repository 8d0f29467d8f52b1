// Dialogs: create a channel or group, browse the channel directory, start a DM.

import { h, clear } from './dom.js';

/** Opens a modal `<dialog>`; returns `{dialog, close}`. Removed from the DOM when closed. */
export function modal(title, testid, ...content) {
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const dialog = h('dialog', { testid, attrs: { 'aria-labelledby': titleId } },
    h('h2', { id: titleId, text: title }), ...content);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close: () => dialog.close() };
}

function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** Create a public channel (`t = 'c'`) or a private group (`'p'`). */
export function openCreateRoom(ctx, t) {
  const kind = t === 'c' ? 'channel' : 'group';
  const error = h('div', { class: 'form-error', hidden: true, attrs: { role: 'alert' }, testid: 'create-room-error' });
  const name = h('input', { id: 'new-room-name', required: true, testid: 'create-room-name', attrs: { autocomplete: 'off' } });
  const members = h('input', { id: 'new-room-members', testid: 'create-room-members', attrs: { autocomplete: 'off' } });
  const readOnly = h('input', { id: 'new-room-ro', type: 'checkbox', testid: 'create-room-readonly' });
  const submit = h('button', { type: 'submit', class: 'primary', text: `Create ${kind}`, testid: 'create-room-submit' });
  const form = h('form', {},
    error,
    h('div', { class: 'field' }, h('label', { htmlFor: 'new-room-name', text: 'Name' }), name,
      h('span', { class: 'hint', text: 'Letters, digits, dots, dashes and underscores.' })),
    h('div', { class: 'field' }, h('label', { htmlFor: 'new-room-members' }, 'Members ', h('span', { class: 'hint', text: '(optional, usernames separated by spaces or commas)' })), members),
    h('div', { class: 'field' }, h('label', { class: 'check' }, readOnly, 'Read-only (only owners and moderators post)')),
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', text: 'Cancel', on: { click: () => m.close() } }), submit));
  const m = modal(t === 'c' ? 'Create a channel' : 'Create a private group', 'create-room-dialog', form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const roomName = name.value.trim().replace(/^#/, '');
    if (!roomName) {
      error.textContent = 'Give the room a name.';
      error.hidden = false;
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      const body = {
        name: roomName,
        members: members.value.split(/[\s,]+/).map((s) => s.replace(/^@/, '')).filter(Boolean),
        readOnly: readOnly.checked,
      };
      const res = await ctx.api('POST', `/api/v1/${t === 'c' ? 'channels' : 'groups'}.create`, body);
      const room = res.channel || res.group;
      m.close();
      ctx.navigate(`#/${kind}/${encodeURIComponent(room.name)}`);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  name.focus();
}

/** The public channel directory, with search and Join. */
export function openDirectory(ctx) {
  const search = h('input', { id: 'dir-search', type: 'search', testid: 'directory-search', attrs: { autocomplete: 'off' } });
  const list = h('ul', { class: 'pick-list', testid: 'directory-list', attrs: { 'aria-live': 'polite' } });
  const m = modal('Browse channels', 'directory-dialog',
    h('div', { class: 'field' }, h('label', { htmlFor: 'dir-search', text: 'Search channels' }), search),
    list,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  const load = async () => {
    const filter = search.value.trim();
    const query = filter ? { query: JSON.stringify({ name: { $regex: filter } }), count: 50 } : { count: 50 };
    try {
      const res = await ctx.api('GET', '/api/v1/channels.list', query);
      clear(list);
      if (res.channels.length === 0) list.append(h('li', { text: 'No channels found.' }));
      for (const ch of res.channels) {
        const joined = [...ctx.subs.values()].some((s) => s.rid === ch._id);
        const action = joined
          ? h('button', { type: 'button', text: 'Open', on: { click: () => { m.close(); ctx.navigate(`#/channel/${encodeURIComponent(ch.name)}`); } } })
          : h('button', {
            type: 'button', class: 'primary', text: 'Join', testid: `join-${ch.name}`,
            on: {
              click: async (ev) => {
                ev.target.disabled = true;
                try {
                  await ctx.api('POST', '/api/v1/channels.join', { roomId: ch._id });
                  m.close();
                  ctx.navigate(`#/channel/${encodeURIComponent(ch.name)}`);
                } catch (err) {
                  ev.target.disabled = false;
                  ctx.announce(err.message, 'error');
                }
              },
            },
          });
        list.append(h('li', { testid: `directory-${ch.name}` },
          h('div', { class: 'pick-main' },
            h('div', { text: `#${ch.name}` }),
            h('div', { class: 'pick-sub', text: [ch.topic, `${ch.usersCount} member${ch.usersCount === 1 ? '' : 's'}`].filter(Boolean).join(' · ') })),
          action));
      }
    } catch (err) {
      clear(list).append(h('li', { class: 'error-text', text: err.message }));
    }
  };
  search.addEventListener('input', debounce(load, 200));
  load();
  search.focus();
}

/** Find a user and open (or create) the DM with them. */
export function openStartDirect(ctx) {
  const search = h('input', { id: 'dm-search', type: 'search', testid: 'dm-search', attrs: { autocomplete: 'off' } });
  const list = h('ul', { class: 'pick-list', testid: 'dm-list', attrs: { 'aria-live': 'polite' } });
  const m = modal('Start a direct message', 'dm-dialog',
    h('div', { class: 'field' }, h('label', { htmlFor: 'dm-search', text: 'Find people' }), search),
    list,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  const start = async (username, button) => {
    button.disabled = true;
    try {
      await ctx.api('POST', '/api/v1/im.create', { username });
      m.close();
      ctx.navigate(`#/direct/${encodeURIComponent(username)}`);
    } catch (err) {
      button.disabled = false;
      ctx.announce(err.message, 'error');
    }
  };
  const load = async () => {
    const filter = search.value.trim().replace(/^@/, '');
    const query = filter ? { query: JSON.stringify({ username: { $regex: filter } }), count: 30 } : { count: 30 };
    try {
      const res = await ctx.api('GET', '/api/v1/users.list', query);
      clear(list);
      const people = res.users.filter((u) => u._id !== ctx.user._id && u.active !== false);
      if (people.length === 0) list.append(h('li', { text: 'Nobody found.' }));
      for (const u of people) {
        const button = h('button', { type: 'button', class: 'primary', text: 'Message', testid: `dm-start-${u.username}` });
        button.addEventListener('click', () => start(u.username, button));
        list.append(h('li', {},
          h('div', { class: 'pick-main' }, h('div', { text: u.name || u.username }), h('div', { class: 'pick-sub', text: `@${u.username}` })),
          button));
      }
    } catch (err) {
      clear(list).append(h('li', { class: 'error-text', text: err.message }));
    }
  };
  search.addEventListener('input', debounce(load, 200));
  load();
  search.focus();
}

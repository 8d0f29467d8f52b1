// A room's pinned and starred messages, and message search (chat.getPinnedMessages,
// chat.getStarredMessages, chat.search), newest first, in a dialog.

import { h, clear, toDate, shortTime } from './dom.js';
import { modal } from './dialogs.js';

function item(m) {
  const when = toDate(m.ts);
  return h('li', { testid: 'list-message', attrs: { 'data-id': m._id } },
    h('div', { class: 'pick-main' },
      h('div', { text: m.msg || (m.attachments?.[0]?.text ?? ''), testid: 'list-message-text' }),
      h('div', { class: 'hint', text: [m.u?.username ? `@${m.u.username}` : '', when ? shortTime(when) : ''].filter(Boolean).join(' · ') })));
}

function fill(list, messages, empty) {
  clear(list);
  for (const m of messages) list.append(item(m));
  if (!messages.length) list.append(h('li', { text: empty, testid: 'list-empty' }));
}

/** `kind`: `pinned` or `starred`. */
export async function openMarked(ctx, room, kind) {
  const list = h('ul', { class: 'pick-list', testid: `${kind}-list`, attrs: { 'aria-live': 'polite' } }, h('li', { text: 'Loading…' }));
  const title = kind === 'pinned' ? `Pinned in ${room.label}` : `Starred in ${room.label}`;
  const m = modal(title, `${kind}-dialog`, list,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  const path = kind === 'pinned' ? 'chat.getPinnedMessages' : 'chat.getStarredMessages';
  try {
    const res = await ctx.api('GET', `/api/v1/${path}`, { roomId: room.rid, count: 100 });
    fill(list, res.messages || [], kind === 'pinned' ? 'Nothing pinned yet.' : 'You starred nothing here yet.');
  } catch (err) {
    clear(list).append(h('li', { class: 'error-text', text: err.message }));
  }
}

export function openSearch(ctx, room) {
  const input = h('input', { type: 'search', testid: 'search-input', attrs: { 'aria-label': 'Search messages', placeholder: 'Words to find' } });
  const list = h('ul', { class: 'pick-list', testid: 'search-results', attrs: { 'aria-live': 'polite' } });
  const form = h('form', { class: 'search-form' }, input, h('button', { type: 'submit', text: 'Search', testid: 'search-submit' }));
  const m = modal(`Search ${room.label}`, 'search-dialog', form, list,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    clear(list).append(h('li', { text: 'Searching…' }));
    try {
      const res = await ctx.api('GET', '/api/v1/chat.search', { roomId: room.rid, searchText: text, count: 50 });
      fill(list, res.messages || [], 'No message has these words.');
    } catch (err) {
      clear(list).append(h('li', { class: 'error-text', text: err.message }));
    }
  });
  input.focus();
}

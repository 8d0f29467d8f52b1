// The room's files (channels.files, groups.files, im.files), newest first: name,
// size, who posted it and when, a download link; images open in the viewer.

import { h, clear, toDate, shortTime } from './dom.js';
import { modal } from './dialogs.js';
import { formatSize } from './attach.js';
import { openViewer } from './viewer.js';
import { safeUrl } from './file-card.js';

const FILES = { c: 'channels.files', p: 'groups.files', d: 'im.files' };
const PAGE = 50;

export async function openFilesList(ctx, room) {
  const list = h('ul', { class: 'pick-list files-list', testid: 'files-list', attrs: { 'aria-live': 'polite' } });
  const more = h('button', { type: 'button', text: 'More', hidden: true, testid: 'files-more' });
  const m = modal(`Files in ${room.label}`, 'files-dialog', list,
    h('div', { class: 'dialog-actions' }, more, h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })));
  let offset = 0;
  const load = async () => {
    more.disabled = true;
    try {
      const res = await ctx.api('GET', `/api/v1/${FILES[room.t]}`, { roomId: room.rid, count: PAGE, offset });
      if (!offset) clear(list);
      for (const f of res.files || []) {
        const url = safeUrl(f.url || f.path || '');
        if (!url) continue;
        const image = String(f.type || '').startsWith('image/');
        const when = toDate(f.uploadedAt);
        list.append(h('li', { testid: 'files-item', attrs: { 'data-name': f.name } },
          h('div', { class: 'pick-main' },
            image
              ? h('button', { type: 'button', class: 'link', text: f.name, testid: 'files-item-open', on: { click: () => openViewer(url, f.name) } })
              : h('div', { text: f.name, testid: 'files-item-name' }),
            h('div', { class: 'hint', text: [formatSize(f.size), f.user?.username ? `@${f.user.username}` : '', when ? shortTime(when) : ''].filter(Boolean).join(' · ') }),
            f.description ? h('div', { class: 'hint', text: f.description }) : null),
          h('a', { href: url, download: f.name, text: 'Download', testid: 'files-item-download' })));
      }
      offset += (res.files || []).length;
      if (!offset) list.append(h('li', { text: 'No files yet.', testid: 'files-empty' }));
      more.hidden = offset >= (res.total || 0);
    } catch (err) {
      clear(list).append(h('li', { class: 'error-text', text: err.message }));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  list.append(h('li', { text: 'Loading…' }));
  await load();
}

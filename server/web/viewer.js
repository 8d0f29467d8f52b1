// The image viewer: a picture at full size over the page, closed with Escape, a
// click outside it or the close button; a download link beside it.

import { h } from './dom.js';

export function openViewer(url, title) {
  const close = h('button', { type: 'button', class: 'viewer-close', text: '✕', testid: 'viewer-close', attrs: { 'aria-label': 'Close' } });
  const img = h('img', { class: 'viewer-image', testid: 'viewer-image', src: url, alt: title || 'Image' });
  const dialog = h('dialog', { class: 'viewer', testid: 'image-viewer', attrs: { 'aria-label': title || 'Image' } },
    h('div', { class: 'viewer-bar' },
      h('span', { class: 'viewer-title', text: title || '' }),
      h('a', { href: url, download: title || '', text: 'Download', testid: 'viewer-download' }),
      close),
    img);
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('click', (ev) => {
    if (ev.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// A file posted in a message (an attachment of `type: "file"`, as Rocket.Chat builds
// it): images as an inline preview (the thumbnail when the server made one) that
// opens the full picture in the viewer; audio and video with the browser's player;
// anything else as a card with name, size and a download link.

import { h } from './dom.js';
import { formatSize } from './attach.js';
import { openViewer } from './viewer.js';

/** A file's URL (relative ones, as the server gives them, against this page), or null. */
export function safeUrl(raw) {
  if (typeof raw !== 'string' || !raw) return null;
  try {
    const url = new URL(raw, window.location.href);
    return ['http:', 'https:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

/** Whether `att` is a posted file. */
export function isFileAttachment(att) {
  return att && att.type === 'file' && typeof att.title_link === 'string';
}

export function fileAttachmentNode(att) {
  const link = safeUrl(att.title_link);
  if (!link) return null;
  const title = String(att.title || 'file');
  const box = h('div', { class: 'attachment file-attachment', testid: 'file-attachment' });
  if (att.description) box.append(h('div', { class: 'file-description', testid: 'file-description', text: String(att.description) }));
  const image = att.image_url && safeUrl(att.image_url);
  if (image) {
    const preview = (att.image_preview_url && safeUrl(att.image_preview_url)) || (att.thumb_url && safeUrl(att.thumb_url)) || image;
    const img = h('img', { class: 'file-image', testid: 'file-image', src: preview, alt: title, loading: 'lazy' });
    const dim = att.image_dimensions;
    if (dim && dim.width > 0 && dim.height > 0) {
      img.width = Math.min(360, dim.width);
      img.height = Math.round(img.width * (dim.height / dim.width));
    }
    box.append(h('button', {
      type: 'button', class: 'file-image-button', testid: 'file-image-open',
      attrs: { 'aria-label': `Open ${title}` }, on: { click: () => openViewer(image, title) },
    }, img));
    box.append(h('div', { class: 'file-caption', text: title }));
    return box;
  }
  const audio = att.audio_url && safeUrl(att.audio_url);
  const video = att.video_url && safeUrl(att.video_url);
  if (audio) box.append(h('audio', { controls: true, preload: 'none', src: audio, testid: 'file-audio' }));
  if (video) box.append(h('video', { controls: true, preload: 'metadata', src: video, testid: 'file-video', class: 'file-video' }));
  const size = att.size ?? att.image_size ?? att.audio_size ?? att.video_size;
  box.append(h('div', { class: 'file-card', testid: 'file-card' },
    h('span', { class: 'file-icon', attrs: { 'aria-hidden': 'true' }, text: '📄' }),
    h('div', { class: 'file-meta' },
      h('div', { class: 'file-name', testid: 'file-name', text: title }),
      h('div', { class: 'file-size', testid: 'file-size', text: [att.format ? String(att.format).toUpperCase() : '', size != null ? formatSize(size) : ''].filter(Boolean).join(' · ') })),
    h('a', { class: 'file-download', href: link, download: title, text: 'Download', testid: 'file-download', attrs: { 'aria-label': `Download ${title}` } })));
  return box;
}

// Avatars as the server serves them: /avatar/<username> (the uploaded picture or
// the initials), scaled server-side with ?size= and revalidated by ETag. After a
// change the version below changes the URL, so every copy on the page reloads.

import { h } from './dom.js';

const versions = new Map();

/** The avatar URL of a user at `size` CSS pixels (twice that for sharp screens). */
export function avatarUrl(username, size = 36) {
  const v = versions.get(username);
  const q = new URLSearchParams({ size: String(size * 2) });
  if (v) q.set('etag', v);
  return `/avatar/${encodeURIComponent(username)}?${q}`;
}

/** An <img> of a user's avatar; decorative (the name is always beside it). */
export function avatarImg(username, size = 36, cls = 'avatar') {
  const img = h('img', {
    class: `${cls} avatar-img`,
    attrs: { src: avatarUrl(username, size), alt: '', width: String(size), height: String(size), loading: 'lazy', 'data-avatar-user': username, 'data-avatar-size': String(size) },
  });
  return img;
}

/** Marks a user's avatar as changed: every image of it on the page reloads. */
export function avatarChanged(username, etag) {
  versions.set(username, etag || String(Date.now()));
  for (const img of document.querySelectorAll('img[data-avatar-user]')) {
    if (img.dataset.avatarUser === username) img.src = avatarUrl(username, Number(img.dataset.avatarSize) || 36);
  }
}

/** The avatar beside a message: the sender's, unless a name or picture was chosen for it. */
export function messageAvatar(msg, fallback) {
  if (msg.u?.username && !msg.alias && !msg.avatar && !msg.t) return avatarImg(msg.u.username, 36);
  return fallback;
}

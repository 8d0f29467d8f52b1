// The profile dialog: one's own avatar, uploaded (users.setAvatar, multipart
// `image`) or reset to the initials (users.resetAvatar).

import { h } from './dom.js';
import { modal } from './dialogs.js';
import { avatarImg, avatarChanged } from './avatars.js';

export function openProfile(ctx) {
  const username = ctx.user.username;
  const preview = h('div', { class: 'profile-avatar', testid: 'profile-avatar' }, avatarImg(username, 96, 'avatar-large'));
  const status = h('p', { class: 'profile-status', testid: 'profile-status', attrs: { 'aria-live': 'polite' } });
  const input = h('input', { type: 'file', testid: 'avatar-file', attrs: { accept: 'image/png,image/jpeg,image/gif,image/webp', 'aria-label': 'Choose a picture' } });
  const refresh = (etag) => {
    avatarChanged(username, etag);
    preview.replaceChildren(avatarImg(username, 96, 'avatar-large'));
  };
  const run = async (what, call) => {
    status.textContent = `${what}…`;
    try {
      await call();
      const me = await ctx.api('GET', '/api/v1/me');
      refresh(me.avatarETag);
      status.textContent = `${what}: done.`;
    } catch (err) {
      status.textContent = `${what} failed: ${err.message}`;
    }
  };
  const upload = h('button', {
    type: 'button', text: 'Upload picture', testid: 'avatar-upload',
    on: {
      click: () => {
        const file = input.files?.[0];
        if (!file) { status.textContent = 'Choose a picture first.'; return; }
        const form = new FormData();
        form.append('image', file, file.name);
        run('Uploading', () => ctx.api('POST', '/api/v1/users.setAvatar', form));
      },
    },
  });
  const reset = h('button', {
    type: 'button', text: 'Use initials', testid: 'avatar-reset',
    on: { click: () => run('Resetting', () => ctx.api('POST', '/api/v1/users.resetAvatar', {})) },
  });
  const m = modal('Your profile', 'profile-dialog',
    h('p', { text: `@${username}` }),
    preview,
    h('label', { class: 'field' }, 'Picture ', input),
    h('div', { class: 'dialog-actions' }, upload, reset,
      h('button', { type: 'button', text: 'Close', on: { click: () => m.close() } })),
    status);
  return m;
}

// Presence: who is online, away, busy or offline, from `users.presence` and the
// live `stream-notify-logged` `user-status` events; and the control to set one's
// own status and status text.

import { h, clear } from './dom.js';

/** Rocket.Chat's status numbers on the stream. */
const BY_NUMBER = ['offline', 'online', 'away', 'busy'];
const LABELS = { online: 'Online', away: 'Away', busy: 'Busy', offline: 'Offline' };

export class Presence extends EventTarget {
  constructor(api, ddp) {
    super();
    this.api = api;
    this.byName = new Map();
    ddp.subscribe('stream-notify-logged', 'user-status', ([u]) => {
      if (Array.isArray(u)) this.set(u[1], BY_NUMBER[u[2]] || 'offline', u[3] || '');
    });
  }

  /** Everyone present now (again after a reconnect: changes may have been missed). */
  async load() {
    // Events that arrive while the list is on its way are newer than it.
    const fresh = new Set();
    this.fresh = fresh;
    const res = await this.api('GET', '/api/v1/users.presence');
    const listed = new Map();
    for (const u of res.users || []) listed.set(u.username, { status: u.status, text: u.statusText || '' });
    for (const name of fresh) listed.set(name, this.of(name));
    if (this.self) listed.set(this.self.username, this.selfStatus());
    this.byName = listed;
    if (this.fresh === fresh) this.fresh = null;
    this.dispatchEvent(new Event('change'));
  }

  set(username, status, text) {
    this.fresh?.add(username);
    this.byName.set(username, { status, text });
    if (this.self && username === this.self.username) {
      this.self.statusText = text;
      if (status !== 'offline') this.self.shown = status;
    }
    this.dispatchEvent(new Event('change'));
  }

  /**
   * The signed-in user (`/me`): while connected, their status is their chosen
   * one (online unless they chose away, busy or invisible), whatever the order
   * in which the server's own events and the list arrive.
   */
  setSelf(me) {
    this.self = { username: me.username, statusDefault: me.statusDefault || 'online', statusText: me.statusText || '' };
    this.set(me.username, this.selfStatus().status, this.self.statusText);
  }

  selfStatus() {
    const chosen = this.self.statusDefault;
    return { status: chosen === 'online' ? this.self.shown || 'online' : chosen, text: this.self.statusText };
  }

  /** The user chose a status (and text). */
  chose(status, text) {
    this.self.statusDefault = status;
    this.self.shown = null;
    this.set(this.self.username, this.selfStatus().status, text);
  }

  of(username) {
    return this.byName.get(username) || { status: 'offline', text: '' };
  }

  /** A status dot for `username`, with its status (and text) as accessible name. */
  dot(username) {
    const { status, text } = this.of(username);
    const label = text ? `${LABELS[status] || status}: ${text}` : LABELS[status] || status;
    return h('span', {
      class: `presence-dot ${status}`,
      testid: `presence-${username}`,
      title: label,
      attrs: { role: 'img', 'aria-label': label, 'data-status': status },
    });
  }
}

/**
 * The control to choose one's status (online, away, busy, invisible) and status
 * text; `me` is `/me` (its `statusDefault` and `statusText`).
 */
export function statusControl(ctx, me) {
  const select = h('select', { testid: 'status-select', attrs: { 'aria-label': 'Status' } },
    ['online', 'away', 'busy', 'offline'].map((s) => h('option', { value: s, text: s === 'offline' ? 'Invisible' : LABELS[s] })));
  select.value = me.statusDefault || 'online';
  const text = h('input', {
    type: 'text', maxLength: 120, placeholder: 'Status message', testid: 'status-text',
    value: me.statusText || '', attrs: { 'aria-label': 'Status message' },
  });
  const error = h('p', { class: 'error-text', attrs: { role: 'alert' } });
  const form = h('form', { class: 'status-form', testid: 'status-form', hidden: true },
    select, text, h('button', { type: 'submit', text: 'Set status', testid: 'status-save' }), error);
  const toggle = h('button', {
    type: 'button', class: 'status-toggle', testid: 'status-toggle',
    attrs: { 'aria-expanded': 'false', 'aria-label': 'Set your status' },
  });
  const draw = () => {
    clear(toggle).append(ctx.presence.dot(ctx.user.username));
    const own = ctx.presence.of(ctx.user.username);
    toggle.title = own.text ? `${LABELS[own.status]}: ${own.text}` : LABELS[own.status];
  };
  ctx.presence.addEventListener('change', draw);
  draw();
  toggle.addEventListener('click', () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) select.focus();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await ctx.api('POST', '/api/v1/users.setStatus', { status: select.value, message: text.value });
      ctx.presence.chose(select.value, text.value.trim());
      form.hidden = true;
      toggle.setAttribute('aria-expanded', 'false');
      ctx.announce('Status updated');
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return h('div', { class: 'status-control' }, toggle, form);
}

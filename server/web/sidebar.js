// The sidebar: the user's channels, private groups and direct messages with unread
// counts and mention highlights, kept live from the realtime user streams.

import { avatarImg } from './avatars.js';
import { openProfile } from './profile.js';
import { h, clear } from './dom.js';
import { openCreateRoom, openDirectory, openStartDirect } from './dialogs.js';
import { statusControl } from './presence.js';
import { webPushControl } from './webpush.js';

const SECTIONS = [
  { t: 'c', title: 'Channels', icon: '#', route: 'channel', empty: 'No channels yet.' },
  { t: 'p', title: 'Private groups', icon: '🔒', route: 'group', empty: 'No private groups.' },
  { t: 'd', title: 'Direct messages', icon: '@', route: 'direct', empty: 'No conversations.' },
];

/** The hash route of a subscription (or room-like `{t, name}`). */
export function roomHash(sub) {
  const section = SECTIONS.find((s) => s.t === sub.t);
  return `#/${section ? section.route : 'channel'}/${encodeURIComponent(sub.name)}`;
}

/** A label for a subscription: DMs show the other person's name. */
export function roomLabel(sub) {
  if (sub.t === 'd') return sub.fname || sub.name;
  return sub.fname || sub.name;
}

export class Sidebar {
  constructor(ctx) {
    this.ctx = ctx;
    this.activeRid = null;
    this.lists = new Map();
    this.status = h('span', { class: 'conn-status', testid: 'connection-status', attrs: { role: 'status' } }, 'Connecting…');
    const sections = SECTIONS.map((s) => {
      const list = h('ul', { attrs: { 'aria-labelledby': `sb-${s.t}` } });
      this.lists.set(s.t, { list, section: s });
      return h('section', { class: 'sidebar-section', testid: `sidebar-section-${s.t}` },
        h('h2', { id: `sb-${s.t}`, text: s.title }), list);
    });
    const adminLink = ctx.user.roles.includes('admin')
      ? h('a', { href: '#/admin/apps', text: 'Administration', testid: 'admin-link' })
      : null;
    this.adminLink = adminLink;
    this.el = h('nav', { class: 'sidebar', id: 'sidebar', testid: 'sidebar', attrs: { 'aria-label': 'Rooms' } },
      h('div', { class: 'sidebar-head' },
        h('button', { type: 'button', class: 'me-avatar', testid: 'open-profile', title: 'Your profile', attrs: { 'aria-label': 'Your profile' }, on: { click: () => openProfile(ctx) } }, avatarImg(ctx.user.username, 24, 'avatar-small')),
        h('span', { class: 'me', testid: 'me', text: ctx.user.name || ctx.user.username, title: `@${ctx.user.username}` }),
        h('button', { type: 'button', text: 'Log out', testid: 'logout', on: { click: () => ctx.logout() } })),
      statusControl(ctx, ctx.me),
      h('div', { class: 'sidebar-actions' },
        h('button', { type: 'button', text: '+ Channel', testid: 'new-channel', on: { click: () => openCreateRoom(ctx, 'c') } }),
        h('button', { type: 'button', text: '+ Group', testid: 'new-group', on: { click: () => openCreateRoom(ctx, 'p') } }),
        h('button', { type: 'button', text: 'Browse', testid: 'browse-channels', on: { click: () => openDirectory(ctx) } }),
        h('button', { type: 'button', text: '+ DM', testid: 'new-dm', on: { click: () => openStartDirect(ctx) } })),
      h('div', { class: 'sidebar-rooms' }, sections),
      h('div', { class: 'sidebar-foot' }, webPushControl(ctx.api, ctx.announce), adminLink, this.status));
  }

  setConnected(connected) {
    this.status.textContent = connected ? 'Connected' : 'Reconnecting…';
    this.status.classList.toggle('offline', !connected);
  }

  /** Marks the open room (or, with `admin`, the Administration link) as current. */
  setActive(rid, admin = false) {
    this.activeRid = rid;
    if (this.adminLink) {
      if (admin) this.adminLink.setAttribute('aria-current', 'page');
      else this.adminLink.removeAttribute('aria-current');
    }
    this.render();
  }

  /** Redraws from `ctx.subs` (a Map rid → subscription). */
  render() {
    const subs = [...this.ctx.subs.values()].filter((s) => s.open !== false || s.rid === this.activeRid);
    for (const { list, section } of this.lists.values()) {
      const mine = subs
        .filter((s) => s.t === section.t)
        .sort((a, b) => roomLabel(a).localeCompare(roomLabel(b), undefined, { sensitivity: 'base' }));
      clear(list);
      if (mine.length === 0) list.append(h('li', { class: 'empty', text: section.empty }));
      for (const sub of mine) list.append(h('li', {}, this.entry(sub, section)));
    }
  }

  entry(sub, section) {
    const active = sub.rid === this.activeRid;
    const unread = active ? 0 : sub.unread || 0;
    const mentions = active ? 0 : sub.userMentions || 0;
    const hasNews = !active && (unread > 0 || sub.alert);
    const label = roomLabel(sub);
    let srText = label;
    if (mentions > 0) srText += `, ${mentions} mention${mentions > 1 ? 's' : ''}`;
    if (unread > 0) srText += `, ${unread} unread`;
    const badge = unread > 0 || mentions > 0
      ? h('span', {
        class: mentions > 0 || sub.t === 'd' ? 'badge mention' : 'badge',
        testid: 'unread-badge',
        text: mentions > 0 ? `@${mentions}` : String(unread),
        attrs: { 'aria-hidden': 'true' },
      })
      : null;
    return h('a', {
      class: `room-link${hasNews ? ' unread' : ''}${mentions > 0 ? ' mentioned' : ''}`,
      href: roomHash(sub),
      testid: `room-${sub.t}-${sub.name}`,
      attrs: { 'aria-current': active ? 'page' : null, 'aria-label': srText, 'data-rid': sub.rid },
      on: { click: () => this.ctx.closeNav() },
    },
    sub.t === 'd' && !sub.name.includes(',')
      ? [this.ctx.presence.dot(sub.name), avatarImg(sub.name, 20, 'avatar-small')]
      : h('span', { class: 'room-icon', text: section.icon, attrs: { 'aria-hidden': 'true' } }),
    h('span', { class: 'room-name', text: label }),
    badge);
  }
}

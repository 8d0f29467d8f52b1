// Palaver web client: start-up, session, hash routing, live user streams.
// Speaks only the public APIs: REST /api/v1 (and /api/apps for the admin console)
// and the realtime DDP API at /websocket.

import { h, clear, announce } from './dom.js';
import { createApi, forgetStoredToken } from './api.js';
import { Ddp } from './ddp.js';
import { renderLogin, renderResetPassword, SAML_SESSION_KEY } from './login.js';
import { Sidebar, roomLabel, roomHash } from './sidebar.js';
import { RoomView } from './room.js';
import { Presence } from './presence.js';
import { avatarChanged } from './avatars.js';
import { setDesktopState } from './desktop.js';
import { notifyIfHidden, onWorkerOpenRoom } from './webpush.js';

const root = document.getElementById('app');
// `{userId}` while logged in; the credential itself is an HttpOnly cookie.
let session = null;
forgetStoredToken();
let siteName = 'Palaver';
let app = null; // the running shell, when logged in

const api = createApi(() => session, () => {
  // The token expired or the account was deactivated: back to the login form.
  if (app) app.stop();
  app = null;
  session = null;
  showLogin('Your session has ended. Log in again.');
});

const ROOM_ROUTES = { channel: 'c', group: 'p', direct: 'd' };

function parseHash() {
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [head, ...rest] = path.split('/');
  if (head === 'admin') return { kind: 'admin', route: path.slice('admin/'.length) || 'apps' };
  if (ROOM_ROUTES[head] && rest.length) return { kind: 'room', t: ROOM_ROUTES[head], name: rest.join('/') };
  // A room by id (links in push notifications).
  if (head === 'rid' && rest.length) return { kind: 'rid', rid: rest[0] };
  // An invite link (/invite/<token> redirects here).
  if (head === 'invite' && rest.length) return { kind: 'invite', token: rest[0] };
  return { kind: 'home' };
}

function showLogin(message) {
  document.title = siteName;
  root.removeAttribute('aria-busy');
  renderLogin(root, api, siteName, (data) => {
    session = { userId: data.userId };
    start(data.me);
  });
  if (message) {
    const err = root.querySelector('[data-testid="login-error"]');
    if (err) {
      err.textContent = message;
      err.hidden = false;
    }
  }
}

/** The logged-in application: shell, sidebar, realtime and the current view. */
class App {
  constructor(user) {
    this.user = { _id: user._id, username: user.username, name: user.name || user.username, roles: user.roles || [] };
    this.me = user;
    this.subs = new Map();
    this.view = null; // RoomView or {admin}
    this.admin = null;
    this.refreshing = new Map();
    this.ddp = new Ddp();
    this.ctx = {
      api,
      ddp: this.ddp,
      user: this.user,
      subs: this.subs,
      siteName,
      navigate: (hash) => { if (location.hash === hash) this.route(); else location.hash = hash; },
      announce,
      logout: () => this.logout(),
      closeNav: () => this.shell.classList.remove('nav-open'),
      markRead: (rid) => this.markRead(rid),
      commands: null,
      me: user,
    };
    this.ctx.presence = new Presence(api, this.ddp);
    this.ctx.presence.setSelf(user);
    setDesktopState({ user, call: (name, params) => this.ddp.call(name, params) });
    this.sidebar = new Sidebar(this.ctx);
    this.ctx.presence.addEventListener('change', () => this.sidebar.render());
    this.navToggle = h('button', {
      type: 'button', class: 'icon', text: '☰ Rooms', testid: 'nav-toggle',
      attrs: { 'aria-controls': 'sidebar', 'aria-expanded': 'false' },
      on: { click: () => this.toggleNav() },
    });
    this.topTitle = h('span', { class: 'top-title' });
    this.content = h('div', { class: 'main-content room', id: 'main-content' });
    this.main = h('main', { class: 'main', attrs: { 'aria-label': 'Conversation' } },
      h('div', { class: 'topbar' }, this.navToggle, this.topTitle), this.content);
    this.shell = h('div', { class: 'shell', testid: 'app-shell' }, this.sidebar.el, this.main);
    this.onHash = () => this.route();
    this.onKey = (ev) => {
      if (ev.key === 'Escape' && this.shell.classList.contains('nav-open')) this.toggleNav(false);
    };
  }

  toggleNav(force) {
    const open = force ?? !this.shell.classList.contains('nav-open');
    this.shell.classList.toggle('nav-open', open);
    this.navToggle.setAttribute('aria-expanded', String(open));
    if (open) this.sidebar.el.querySelector('a, button')?.focus();
  }

  async start() {
    root.removeAttribute('aria-busy');
    clear(root).append(this.shell, h('div', { id: 'notices', attrs: { 'aria-live': 'polite' } }));
    window.addEventListener('hashchange', this.onHash);
    document.addEventListener('keydown', this.onKey);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.view?.rid) this.markRead(this.view.rid);
    });
    let everConnected = false;
    this.ddp.addEventListener('status', (ev) => {
      this.sidebar.setConnected(ev.detail.connected);
      if (ev.detail.connected) this.ctx.presence.load().catch(() => {});
      if (ev.detail.connected && everConnected) {
        // Events may have been missed while offline: catch up.
        this.loadSubscriptions();
        this.view?.resync?.();
      }
      everConnected = everConnected || ev.detail.connected;
    });
    this.ddp.addEventListener('login-failed', () => {
      this.stop();
      app = null;
      session = null;
      showLogin('Your session has ended. Log in again.');
    });
    const uid = this.user._id;
    // The server ends a user's streams when their session ends (logged out elsewhere,
    // deactivated): if /me says 401, the API wrapper takes us back to the login form.
    const ended = () => api('GET', '/api/v1/me').catch(() => {});
    this.ddp.subscribe('stream-notify-user', `${uid}/subscriptions-changed`, ([verb, sub]) => this.onSubscription(verb, sub), ended);
    this.ddp.subscribe('stream-notify-user', `${uid}/rooms-changed`, ([verb, room]) => this.onRoomChanged(verb, room));
    this.ddp.subscribe('stream-notify-user', `${uid}/message`, ([msg]) => this.onEphemeral(msg));
    this.ddp.subscribe('stream-notify-user', `${uid}/notification`, ([n]) => {
      // Mentions and DMs elsewhere: a notice, since the sidebar badge is easy to miss.
      if (n && n.payload && n.payload.rid !== this.view?.rid) announce(`${n.title}: ${n.text}`);
      notifyIfHidden(n, (rid) => this.openRid(rid));
    });
    // Someone's avatar changed (set, reset, from a URL): every picture of them reloads.
    this.ddp.subscribe('stream-notify-logged', 'updateAvatar', ([change]) => {
      if (change?.username) avatarChanged(change.username, change.etag);
    });
    onWorkerOpenRoom((rid) => this.openRid(rid));
    this.ddp.start();
    await this.loadSubscriptions();
    this.route();
  }

  stop() {
    window.removeEventListener('hashchange', this.onHash);
    document.removeEventListener('keydown', this.onKey);
    this.unmountView();
    this.ddp.stop();
    setDesktopState({ user: null, unread: '' });
  }

  async logout() {
    // A session that came from SAML also ends at the identity provider (unless the
    // admin chose local logout): ask for its logout address before ours ends.
    let idpLogout = null;
    if (localStorage.getItem(SAML_SESSION_KEY)) {
      localStorage.removeItem(SAML_SESSION_KEY);
      idpLogout = await this.samlLogoutUrl();
    }
    try {
      await api('POST', '/api/v1/logout');
    } catch {
      // Logging out locally is what matters; the token may already be gone.
    }
    this.stop();
    app = null;
    session = null;
    history.replaceState(null, '', '#/');
    showLogin();
    if (idpLogout) location.assign(idpLogout);
  }

  /** Rocket.Chat's `samlLogout`: the IdP's logout address for this session, or null. */
  async samlLogoutUrl() {
    try {
      const services = (await api('GET', '/api/v1/settings.oauth')).services || [];
      const saml = services.find((s) => s.service === 'saml' && s.clientConfig);
      if (!saml) return null;
      const url = await this.ddp.call('samlLogout', [saml.clientConfig.provider]);
      return typeof url === 'string' && /^https?:\/\//.test(url) ? url : null;
    } catch {
      return null;
    }
  }

  async loadSubscriptions() {
    try {
      const res = await api('GET', '/api/v1/subscriptions.get');
      this.subs.clear();
      for (const sub of res.update) this.subs.set(sub.rid, sub);
      this.sidebar.render();
      this.updateTitle();
    } catch (err) {
      announce(`Could not load your rooms: ${err.message}`, 'error');
    }
  }

  onSubscription(verb, sub) {
    if (!sub || !sub.rid) return;
    if (verb === 'removed') {
      this.subs.delete(sub.rid);
      if (this.view?.rid === sub.rid) {
        announce(`You are no longer in ${this.view.label}.`, 'error');
        this.ctx.navigate('#/');
      }
    } else {
      const old = this.subs.get(sub.rid);
      this.subs.set(sub.rid, { ...old, ...sub });
      if (this.view?.rid === sub.rid) this.view.setSubscription?.(this.subs.get(sub.rid));
    }
    this.sidebar.render();
    this.updateTitle();
  }

  onRoomChanged(verb, room) {
    if (verb !== 'updated' || !room || !room.lastMessage) return;
    const last = room.lastMessage;
    if (last.u && last.u._id === this.user._id) return;
    if (this.view?.rid === room._id && document.visibilityState === 'visible') {
      this.markRead(room._id);
      return;
    }
    this.refreshSubscription(room._id);
  }

  /** Re-reads one subscription's counters, coalescing bursts of messages. */
  refreshSubscription(rid) {
    if (this.refreshing.has(rid)) return;
    this.refreshing.set(rid, setTimeout(async () => {
      this.refreshing.delete(rid);
      try {
        const res = await api('GET', '/api/v1/subscriptions.getOne', { roomId: rid });
        this.subs.set(rid, res.subscription);
        this.sidebar.render();
        this.updateTitle();
      } catch {
        // Left the room meanwhile: subscriptions-changed tells us.
      }
    }, 250));
  }

  async markRead(rid) {
    const sub = this.subs.get(rid);
    if (sub && (sub.unread || sub.alert || sub.userMentions)) {
      sub.unread = 0;
      sub.alert = false;
      sub.userMentions = 0;
      this.sidebar.render();
      this.updateTitle();
    }
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      if (this.subs.has(rid)) api('POST', '/api/v1/subscriptions.read', { rid }).catch(() => {});
    }, 300);
  }

  onEphemeral(msg) {
    if (!msg) return;
    if (this.view?.rid === msg.rid && this.view.addEphemeral) this.view.addEphemeral(msg);
    else announce(`${msg.u?.name || msg.u?.username || 'Notice'}: ${msg.msg}`);
  }

  updateTitle() {
    let unread = 0;
    for (const s of this.subs.values()) if (s.rid !== this.view?.rid) unread += s.unread || 0;
    const where = this.view?.label ? `${this.view.label} · ` : '';
    document.title = `${unread ? `(${unread}) ` : ''}${where}${siteName}`;
    if (unread !== this.lastUnread) {
      this.lastUnread = unread;
      setDesktopState({ unread: unread || '' });
    }
  }

  unmountView() {
    if (this.view) this.view.destroy();
    this.view = null;
    if (this.admin) this.admin.unmount();
    this.admin = null;
  }

  async route() {
    const r = parseHash();
    this.toggleNav(false);
    if (r.kind === 'admin') return this.routeAdmin(r.route);
    if (r.kind === 'room') return this.routeRoom(r.t, r.name);
    if (r.kind === 'rid') return this.openRid(r.rid, true);
    if (r.kind === 'invite') return this.useInvite(r.token);
    this.unmountView();
    this.sidebar.setActive(null);
    this.topTitle.textContent = '';
    clear(this.content).append(h('div', { class: 'welcome', testid: 'welcome' },
      h('h1', { text: `Welcome, ${this.user.name}` }),
      h('p', { text: 'Pick a room on the left, browse the channel directory, or start a direct message.' })));
    this.updateTitle();
  }

  /**
   * An invite link: joins its room, then opens it (a person not logged in logs in
   * first; the link waits in the address). A link that cannot be used says why.
   */
  async useInvite(token) {
    let room;
    try {
      room = (await api('POST', '/api/v1/useInviteToken', { token })).room;
      // Known before the room opens, so it opens with its composer.
      const res = await api('GET', '/api/v1/subscriptions.getOne', { roomId: room.rid });
      if (res.subscription) this.onSubscription('inserted', res.subscription);
    } catch (err) {
      history.replaceState(null, '', '#/');
      this.route();
      announce(`This invite link cannot be used: ${err.message}`, 'error');
      return;
    }
    const sub = this.subs.get(room.rid) || { t: room.t, name: room.name };
    history.replaceState(null, '', roomHash(sub));
    this.route();
  }

  /** Opens the room with this id (from a notification); `replace` for a #/rid link. */
  openRid(rid, replace = false) {
    const sub = this.subs.get(rid);
    const hash = sub ? roomHash(sub) : '#/';
    if (replace) history.replaceState(null, '', hash);
    if (replace || location.hash === hash) this.route(); else location.hash = hash;
  }

  async routeAdmin(route) {
    if (!this.user.roles.includes('admin')) {
      announce('Only administrators can open the administration.', 'error');
      this.ctx.navigate('#/');
      return;
    }
    if (this.admin) {
      this.admin.update(route);
      return;
    }
    this.unmountView();
    this.sidebar.setActive(null, true);
    this.topTitle.textContent = 'Administration';
    document.title = `Administration · ${siteName}`;
    const host = h('div', { class: 'admin-host', testid: 'admin-host' });
    clear(this.content).append(host);
    try {
      const m = await import('/assets/admin.js');
      if (parseHash().kind !== 'admin') return; // navigated away while loading
      this.admin = m.mountAdmin(host, { api, user: this.user, route, navigate: this.ctx.navigate });
    } catch (err) {
      host.append(h('p', { class: 'error-text', text: `The administration could not be loaded: ${err.message}` }));
    }
  }

  /** Finds the room for a route: a subscription, a public channel to preview, or a DM to open. */
  async resolveRoom(t, name) {
    const sub = [...this.subs.values()].find((s) => s.t === t && s.name === name);
    if (sub) return { rid: sub.rid, t, name: sub.name, label: roomLabel(sub), sub };
    if (t === 'c') {
      const res = await api('GET', '/api/v1/channels.info', { roomName: name });
      return { rid: res.channel._id, t, name, label: name, room: res.channel, sub: null };
    }
    if (t === 'd') {
      const res = await api('POST', '/api/v1/im.create', { username: name });
      return { rid: res.room._id, t, name, label: name, sub: null };
    }
    const res = await api('GET', '/api/v1/groups.info', { roomName: name });
    return { rid: res.group._id, t, name, label: name, room: res.group, sub: null };
  }

  async routeRoom(t, name) {
    if (this.view && this.view.t === t && this.view.name === name) return;
    let info;
    try {
      info = await this.resolveRoom(t, name);
    } catch (err) {
      this.unmountView();
      clear(this.content).append(h('div', { class: 'welcome', testid: 'room-not-found' },
        h('h1', { text: 'Room not found' }),
        h('p', { text: err.message })));
      return;
    }
    const now = parseHash();
    if (now.kind !== 'room' || now.t !== t || now.name !== name) return;
    // Our subscription may have arrived (subscriptions-changed) while the room was
    // being looked up, e.g. right after creating it: without it the room would open
    // as a preview with no composer.
    if (!info.sub && this.subs.has(info.rid)) info.sub = this.subs.get(info.rid);
    this.unmountView();
    this.view = new RoomView(this.ctx, info);
    this.topTitle.textContent = info.label;
    clear(this.content).append(this.view.el);
    this.sidebar.setActive(info.rid);
    this.view.start();
    if (info.sub) this.markRead(info.rid);
    this.updateTitle();
  }
}

function start(me) {
  app = new App(me);
  app.start();
}

async function boot() {
  try {
    const res = await api('GET', '/api/v1/settings.public', { query: JSON.stringify({ _id: { $in: ['Site_Name'] } }) });
    const s = (res.settings || []).find((x) => x._id === 'Site_Name');
    if (s && s.value) siteName = String(s.value);
  } catch {
    // The default name will do.
  }
  setDesktopState({ siteName });
  fetch('/api/info').then((r) => r.json()).then((info) => {
    if (info && info.version) setDesktopState({ version: String(info.version) });
  }).catch(() => {});
  const reset = location.hash.match(/^#\/reset-password\/([A-Za-z0-9.]+)$/);
  if (reset) {
    root.removeAttribute('aria-busy');
    renderResetPassword(root, api, siteName, reset[1], () => {
      history.replaceState(null, '', '#/');
      showLogin('Your password was changed. Log in with it.');
    });
    return;
  }
  try {
    // The session cookie, if any, says whether we are logged in.
    const me = await api('GET', '/api/v1/me');
    session = { userId: me._id };
    start(me);
  } catch (err) {
    if (err.status === 401) {
      session = null;
      showLogin();
    } else {
      clear(root).append(h('p', { class: 'boot error-text', attrs: { role: 'alert' }, text: `Cannot reach the server: ${err.message}` }));
    }
  }
}

boot();

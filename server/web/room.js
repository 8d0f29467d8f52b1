// The room view: header, the timeline (history loads as you scroll up, new
// messages arrive live), typing indicator, composer, thread panel, and the
// message actions (react, reply in thread, edit, delete).

import { h, clear, toDate, randomId } from './dom.js';
import { MessageList, ThreadPanel } from './thread.js';
import { Composer } from './composer.js';
import { modal } from './dialogs.js';
import { openMembers } from './members.js';
import { Attacher } from './attach.js';
import { openFilesList } from './files-list.js';
import { openMarked, openSearch } from './message-lists.js';
import { EMOJI, QUICK_REACTIONS } from './messages.js';

const PAGE = 50;
const HISTORY = { c: 'channels.history', p: 'groups.history', d: 'im.history' };
const ICON = { c: '#', p: '🔒', d: '@' };
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 5000;
const TYPING_SHOWN_MS = 7000;

export class RoomView {
  /** `info`: `{rid, t, name, label, sub, room}`; `sub` is null when not a member. */
  constructor(ctx, info) {
    this.ctx = ctx;
    this.rid = info.rid;
    this.t = info.t;
    this.name = info.name;
    this.label = info.label;
    this.sub = info.sub;
    this.member = Boolean(info.sub);
    this.unsubs = [];
    this.hasMore = true;
    this.loadingOlder = false;
    this.typers = new Map();
    this.recentNotices = [];
    this.thread = null;

    this.list = new MessageList({
      viewer: ctx.user,
      onAction: (kind, msg, extra) => this.onAction(kind, msg, extra, null),
      label: `Messages in ${info.label}`,
    });
    this.historyState = h('div', { class: 'history-state', testid: 'history-state', attrs: { 'aria-live': 'polite' } });
    this.scroll = h('div', { class: 'message-scroll', testid: 'message-scroll', tabIndex: 0, attrs: { 'aria-label': 'Message history' } },
      this.historyState, this.list.el);
    this.live = h('div', { class: 'visually-hidden', attrs: { 'aria-live': 'polite' }, testid: 'live-region' });
    this.typingEl = h('div', { class: 'typing', testid: 'typing-indicator', attrs: { 'aria-live': 'polite' } });
    this.composer = new Composer(ctx, {
      rid: this.rid,
      label: `Message ${info.label}`,
      placeholder: `Message ${this.t === 'd' ? '@' : ICON[this.t]}${info.label}`,
      onSend: (text) => this.send(text, null),
      onNotice: (text) => this.notice(text),
      onTyping: (active) => this.typing(active),
      onEditLast: () => this.editLast(this.list),
    });
    this.attacher = new Attacher(ctx, { rid: this.rid, onError: (text) => ctx.announce(text, 'error') });
    this.composer.el.querySelector('.composer-row').prepend(this.attacher.button);
    this.attacher.pasteTarget(this.composer.input);
    this.bottom = h('div', { class: 'room-bottom' });
    this.col = h('div', { class: 'room-col' }, this.scroll, this.typingEl, this.bottom);
    this.body = h('div', { class: 'room-body' }, this.col);
    this.topic = h('span', { class: 'topic', testid: 'room-topic', text: info.room?.topic || '' });
    this.headActions = h('div', { class: 'room-head-actions' });
    this.el = h('section', { class: 'room', testid: 'room', attrs: { 'aria-labelledby': 'room-title', 'data-rid': this.rid } },
      h('header', { class: 'room-head' },
        h('h1', { id: 'room-title', testid: 'room-title' }, h('span', { attrs: { 'aria-hidden': 'true' }, text: `${ICON[this.t]} ` }), info.label),
        this.topic, this.headActions),
      this.body, this.live);
    this.scroll.addEventListener('scroll', () => this.onScroll());
    this.attacher.dropTarget(this.body);
    this.renderMembership();
  }

  renderMembership() {
    clear(this.bottom);
    clear(this.headActions);
    this.headActions.append(h('button', {
      type: 'button', text: 'Members', testid: 'room-members',
      on: { click: () => openMembers(this.ctx, { rid: this.rid, t: this.t, label: this.label }) },
    }), h('button', {
      type: 'button', text: 'Files', testid: 'room-files',
      on: { click: () => openFilesList(this.ctx, { rid: this.rid, t: this.t, label: this.label }) },
    }), h('button', {
      type: 'button', text: 'Pinned', testid: 'room-pinned',
      on: { click: () => openMarked(this.ctx, { rid: this.rid, label: this.label }, 'pinned') },
    }), h('button', {
      type: 'button', text: 'Starred', testid: 'room-starred',
      on: { click: () => openMarked(this.ctx, { rid: this.rid, label: this.label }, 'starred') },
    }), h('button', {
      type: 'button', text: 'Search', testid: 'room-search',
      on: { click: () => openSearch(this.ctx, { rid: this.rid, label: this.label }) },
    }));
    if (this.member) {
      this.bottom.append(this.attacher.el, this.composer.el);
      if (this.t !== 'd') {
        this.headActions.append(h('button', { type: 'button', text: 'Leave', testid: 'leave-room', on: { click: () => this.leave() } }));
      }
    } else {
      const join = h('button', { type: 'button', class: 'primary', text: `Join #${this.name}`, testid: 'join-room' });
      join.addEventListener('click', async () => {
        join.disabled = true;
        try {
          await this.ctx.api('POST', '/api/v1/channels.join', { roomId: this.rid });
        } catch (err) {
          join.disabled = false;
          this.ctx.announce(err.message, 'error');
        }
      });
      this.bottom.append(h('div', { class: 'composer' }, h('p', { class: 'composer-hint', text: 'You are previewing this channel.' }), join));
    }
  }

  /** The subscription changed (e.g. we just joined): show the composer. */
  setSubscription(sub) {
    const wasMember = this.member;
    this.sub = sub;
    this.member = true;
    if (!wasMember) {
      this.renderMembership();
      this.composer.focus();
    }
  }

  start() {
    const { ddp } = this.ctx;
    this.unsubs.push(ddp.subscribe('stream-room-messages', this.rid, ([msg]) => msg && this.onLive(msg)));
    this.unsubs.push(ddp.subscribe('stream-notify-room', `${this.rid}/deleteMessage`, ([m]) => m && this.onDeleted(m._id)));
    this.unsubs.push(ddp.subscribe('stream-notify-room', `${this.rid}/user-activity`, ([username, activities]) => this.onActivity(username, activities)));
    this.loadInitial();
    if (this.member) this.composer.focus();
  }

  destroy() {
    for (const u of this.unsubs) u();
    this.unsubs = [];
    if (this.typingSent) this.typing(false);
    for (const t of this.typers.values()) clearTimeout(t);
    clearTimeout(this.typingTimer);
    this.closeThread();
  }

  atBottom() {
    return this.scroll.scrollHeight - this.scroll.scrollTop - this.scroll.clientHeight < 80;
  }

  toBottom() {
    this.scroll.scrollTop = this.scroll.scrollHeight;
  }

  /** A page of history, newest first. Inclusive of `latest`: messages stored in
   * the same millisecond as the oldest one shown must not fall between pages. */
  async fetchPage(latest) {
    const query = { roomId: this.rid, count: PAGE, showThreadMessages: false };
    if (latest) {
      query.latest = latest;
      query.inclusive = true;
    }
    const res = await this.ctx.api('GET', `/api/v1/${HISTORY[this.t]}`, query);
    return res.messages || [];
  }

  async loadInitial() {
    this.historyState.textContent = 'Loading messages…';
    try {
      const page = await this.fetchPage(null);
      for (const m of [...page].reverse()) this.list.upsert(m);
      this.hasMore = page.length === PAGE;
      this.historyState.textContent = this.hasMore ? '' : this.beginningText();
      this.toBottom();
      await this.fillViewport();
    } catch (err) {
      this.historyState.textContent = `Messages could not be loaded: ${err.message}`;
    }
    this.scroll.dataset.loaded = 'true';
  }

  beginningText() {
    return `This is the beginning of ${this.t === 'd' ? 'your conversation with' : ''} ${this.label}.`.replace(/\s+/g, ' ');
  }

  /** Loads older pages until the list overflows (so scrolling up can load more). */
  async fillViewport() {
    while (this.hasMore && this.scroll.scrollHeight <= this.scroll.clientHeight + 20) {
      if (!(await this.loadOlder())) break;
    }
  }

  onScroll() {
    if (this.scroll.scrollTop < 200) this.loadOlder();
  }

  /** Prepends the page before the oldest message shown, keeping what is on screen in place. */
  async loadOlder() {
    if (this.loadingOlder || !this.hasMore) return false;
    const oldest = this.list.oldest();
    if (!oldest) return false;
    this.loadingOlder = true;
    this.historyState.textContent = 'Loading older messages…';
    try {
      const page = await this.fetchPage(toDate(oldest.ts).toISOString());
      // Anchor on the message that was first: wherever it was on screen, it stays.
      const anchor = this.list.nodes.get(oldest._id);
      const before = anchor ? anchor.getBoundingClientRect().top : 0;
      let added = 0;
      for (const m of page) if (this.list.upsert(m, true)) added++;
      this.hasMore = page.length === PAGE && added > 0;
      this.historyState.textContent = this.hasMore ? '' : this.beginningText();
      if (anchor && anchor.isConnected) this.scroll.scrollTop += anchor.getBoundingClientRect().top - before;
      return added > 0;
    } catch (err) {
      this.historyState.textContent = `Older messages could not be loaded: ${err.message}`;
      return false;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** After a reconnect: merge in what was posted meanwhile. */
  async resync() {
    try {
      const page = await this.fetchPage(null);
      const stick = this.atBottom();
      for (const m of [...page].reverse()) this.list.upsert(m);
      if (stick) this.toBottom();
    } catch {
      // The next reconnect tries again.
    }
  }

  onLive(msg) {
    if (msg.rid !== this.rid) return;
    const fromOther = msg.u?._id !== this.ctx.user._id;
    if (msg.tmid) {
      // The server streams the parent again with its new reply count.
      if (this.thread && this.thread.tmid === msg.tmid) this.thread.upsert(msg);
      if (fromOther) this.stopTyping(msg.u.username);
      return;
    }
    const stick = this.atBottom() || !fromOther;
    const isNew = this.list.upsert(msg);
    if (this.thread && this.thread.tmid === msg._id) this.thread.list.upsert({ ...msg });
    if (isNew && fromOther) {
      this.stopTyping(msg.u.username);
      this.live.textContent = `${msg.u.name || msg.u.username}: ${msg.msg}`;
    }
    if (stick) this.toBottom();
  }

  onDeleted(id) {
    this.list.remove(id);
    if (this.thread) {
      if (this.thread.tmid === id) this.closeThread();
      else this.thread.list.remove(id);
    }
  }

  /** Sends a message: shown at once as pending, replaced by the stored copy. */
  async send(text, tmid) {
    const u = this.ctx.user;
    const pending = {
      _id: randomId(), rid: this.rid, msg: text, ts: new Date().toISOString(),
      u: { _id: u._id, username: u.username, name: u.name }, pending: true,
    };
    if (tmid) pending.tmid = tmid;
    const target = tmid ? this.thread?.list : this.list;
    target?.upsert(pending);
    if (!tmid) this.toBottom();
    else if (this.thread) this.thread.scroll.scrollTop = this.thread.scroll.scrollHeight;
    try {
      const message = { _id: pending._id, rid: this.rid, msg: text };
      if (tmid) message.tmid = tmid;
      const res = await this.ctx.api('POST', '/api/v1/chat.sendMessage', { message });
      if (tmid) this.onLive(res.message);
      else if (target.get(pending._id)?.pending) target.upsert(res.message);
    } catch (err) {
      target?.remove(pending._id);
      throw err;
    }
  }

  /** Shows a private notice (a command's reply), once even if it also comes over realtime. */
  notice(text, from) {
    const now = Date.now();
    this.recentNotices = this.recentNotices.filter((n) => now - n.at < 10_000);
    if (this.recentNotices.some((n) => n.text === text)) return;
    this.recentNotices.push({ text, at: now });
    const u = from || { _id: 'notice', username: 'notice', name: this.ctx.siteName };
    const msg = { _id: `eph-${randomId()}`, rid: this.rid, msg: text, ts: new Date().toISOString(), u, ephemeral: true };
    this.list.upsert(msg);
    this.live.textContent = `Only you can see this: ${text}`;
    this.toBottom();
  }

  /** An ephemeral message from the realtime API (`<uid>/message`). */
  addEphemeral(msg) {
    this.notice(msg.msg, msg.u && { ...msg.u, name: msg.alias || msg.u.name });
  }

  // ------------------------------------------------------------------ typing

  typing(active) {
    if (!this.member) return;
    const send = (activities) => this.ctx.ddp
      .call('stream-notify-room', [`${this.rid}/user-activity`, this.ctx.user.username, activities, {}])
      .catch(() => {});
    clearTimeout(this.typingTimer);
    if (active) {
      const now = Date.now();
      if (!this.typingSent || now - this.typingSent > TYPING_SEND_EVERY_MS) {
        this.typingSent = now;
        send(['user-typing']);
      }
      this.typingTimer = setTimeout(() => this.typing(false), TYPING_IDLE_MS);
    } else if (this.typingSent) {
      this.typingSent = 0;
      send([]);
    }
  }

  onActivity(username, activities) {
    if (!username || username === this.ctx.user.username) return;
    if (Array.isArray(activities) && activities.includes('user-typing')) {
      clearTimeout(this.typers.get(username));
      this.typers.set(username, setTimeout(() => this.stopTyping(username), TYPING_SHOWN_MS));
    } else {
      this.stopTyping(username);
      return;
    }
    this.renderTyping();
  }

  stopTyping(username) {
    if (!this.typers.has(username)) return;
    clearTimeout(this.typers.get(username));
    this.typers.delete(username);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.typingEl.textContent = text;
  }

  // ------------------------------------------------------------------ actions

  onAction(kind, msg, extra, panel) {
    const api = this.ctx.api;
    const fail = (err) => this.ctx.announce(err.message, 'error');
    switch (kind) {
      case 'react':
        api('POST', '/api/v1/chat.react', { messageId: msg._id, emoji: extra.emoji, shouldReact: extra.shouldReact }).catch(fail);
        break;
      case 'react-pick':
        this.pickReaction(msg, extra?.anchor);
        break;
      case 'thread':
        this.openThread(msg);
        break;
      case 'edit':
        (panel ? panel.list : this.list).startEdit(msg, async (text) => {
          const res = await api('POST', '/api/v1/chat.update', { roomId: this.rid, msgId: msg._id, text });
          return res.message;
        });
        break;
      case 'delete':
        this.confirmDelete(msg);
        break;
      case 'star':
        api('POST', `/api/v1/chat.${extra.starred ? 'starMessage' : 'unStarMessage'}`, { messageId: msg._id }).catch(fail);
        break;
      case 'pin':
        api('POST', `/api/v1/chat.${extra.pinned ? 'pinMessage' : 'unPinMessage'}`, { messageId: msg._id }).catch(fail);
        break;
      default:
        break;
    }
  }

  /** Opens the edit box on the viewer's newest message in `list`. */
  editLast(list) {
    const mine = [...list.items].reverse().find((m) => m.u?._id === this.ctx.user._id && !m.t && !m.pending && !m.ephemeral);
    if (!mine) return;
    list.nodes.get(mine._id)?.scrollIntoView({ block: 'nearest' });
    this.onAction('edit', mine, null, list === this.list ? null : this.thread);
  }

  pickReaction(msg, anchor) {
    const buttons = QUICK_REACTIONS.map((code) => h('button', {
      type: 'button', class: 'reaction', testid: `pick-${code.replace(/:/g, '')}`, text: `${EMOJI[code]}`,
      attrs: { 'aria-label': code },
      on: {
        click: () => {
          m.close();
          const mine = msg.reactions?.[code]?.usernames?.includes(this.ctx.user.username);
          this.ctx.api('POST', '/api/v1/chat.react', { messageId: msg._id, emoji: code, shouldReact: !mine })
            .catch((err) => this.ctx.announce(err.message, 'error'));
        },
      },
    }));
    const m = modal('Add a reaction', 'reaction-dialog',
      h('div', { class: 'reactions' }, buttons),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Cancel', on: { click: () => m.close() } })));
    m.dialog.addEventListener('close', () => anchor?.focus());
    buttons[0].focus();
  }

  confirmDelete(msg) {
    const del = h('button', { type: 'button', class: 'danger', text: 'Delete', testid: 'confirm-delete' });
    const m = modal('Delete this message?', 'delete-dialog',
      h('p', { text: 'It is removed for everyone. This cannot be undone.' }),
      h('blockquote', { text: msg.msg.length > 200 ? `${msg.msg.slice(0, 200)}…` : msg.msg }),
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', text: 'Cancel', on: { click: () => m.close() } }), del));
    del.addEventListener('click', async () => {
      del.disabled = true;
      try {
        await this.ctx.api('POST', '/api/v1/chat.delete', { roomId: this.rid, msgId: msg._id });
        this.onDeleted(msg._id);
        m.close();
      } catch (err) {
        del.disabled = false;
        this.ctx.announce(err.message, 'error');
      }
    });
    del.focus();
  }

  openThread(parent) {
    this.closeThread();
    this.thread = new ThreadPanel(this, parent);
    this.body.append(this.thread.el);
    this.thread.load();
  }

  closeThread() {
    if (!this.thread) return;
    const tmid = this.thread.tmid;
    this.thread.destroy();
    this.thread = null;
    this.list.nodes.get(tmid)?.querySelector('[data-testid="thread-replies"], [data-testid="action-thread"]')?.focus();
  }

  async leave() {
    try {
      await this.ctx.api('POST', `/api/v1/${this.t === 'c' ? 'channels' : 'groups'}.leave`, { roomId: this.rid });
      this.ctx.navigate('#/');
    } catch (err) {
      this.ctx.announce(err.message, 'error');
    }
  }
}

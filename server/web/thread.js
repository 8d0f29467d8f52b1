// A sorted, incrementally updated list of messages (the room's timeline and a
// thread's replies share it) and the thread side panel.

import { h, clear, toDate } from './dom.js';
import { renderMessage, continues } from './messages.js';
import { Composer } from './composer.js';

function tsOf(msg) {
  const d = toDate(msg.ts);
  return d ? d.getTime() : 0;
}

/** Messages ordered by time, each drawn once and redrawn only when it changes. */
export class MessageList {
  /** `opts`: `viewer`, `inThread`, `onAction`, `testid`. */
  constructor(opts) {
    this.opts = opts;
    this.items = []; // sorted by ts
    this.nodes = new Map(); // id → li
    this.editing = null; // id whose edit box is open: not redrawn meanwhile
    this.deferred = new Map();
    this.el = h('ul', { class: 'message-list', testid: opts.testid || 'message-list', attrs: { 'aria-label': opts.label || 'Messages' } });
  }

  get(id) {
    return this.items.find((m) => m._id === id);
  }

  oldest() {
    return this.items.find((m) => !m.ephemeral && !m.pending) || null;
  }

  /**
   * Inserts or replaces a message; returns true when it was new. `older`: it comes
   * from a page of older history (newest first), so among messages of the same
   * millisecond it goes first, and a copy already shown is kept as is.
   */
  upsert(msg, older = false) {
    if (this.editing === msg._id) {
      this.deferred.set(msg._id, msg);
      return false;
    }
    const at = this.items.findIndex((m) => m._id === msg._id);
    const isNew = at < 0;
    if (older && !isNew) return false;
    let showActions = false;
    if (!isNew) {
      // Re-placed: the stored copy's time may differ from its pending copy's.
      this.items.splice(at, 1);
      const old = this.nodes.get(msg._id);
      showActions = Boolean(old && old.classList.contains('show-actions'));
      old?.remove();
      this.nodes.delete(msg._id);
    }
    const ts = tsOf(msg);
    let i = this.items.length;
    while (i > 0 && (older ? tsOf(this.items[i - 1]) >= ts : tsOf(this.items[i - 1]) > ts)) i--;
    this.items.splice(i, 0, msg);
    const li = this.draw(msg, i);
    if (showActions) li.classList.add('show-actions');
    const next = this.items[i + 1];
    this.el.insertBefore(li, next ? this.nodes.get(next._id) : null);
    this.regroup(i + 1);
    return isNew;
  }

  draw(msg, i) {
    const li = renderMessage(msg, {
      viewer: this.opts.viewer,
      grouped: continues(this.items[i - 1], msg),
      inThread: this.opts.inThread,
      onAction: this.opts.onAction,
    });
    this.nodes.set(msg._id, li);
    return li;
  }

  regroup(i) {
    const msg = this.items[i];
    if (!msg) return;
    const li = this.nodes.get(msg._id);
    if (li && !msg.t) li.classList.toggle('grouped', continues(this.items[i - 1], msg));
  }

  remove(id) {
    const at = this.items.findIndex((m) => m._id === id);
    if (at < 0) return;
    this.items.splice(at, 1);
    this.nodes.get(id)?.remove();
    this.nodes.delete(id);
    this.regroup(at);
  }

  /** Redraws one message in place (after a local change such as tcount). */
  redraw(id) {
    const msg = this.get(id);
    if (msg) this.upsert(msg);
  }

  /** Swaps a message's text for an edit box; `onSave(text)` → Promise. */
  startEdit(msg, onSave) {
    const li = this.nodes.get(msg._id);
    if (!li || this.editing) return;
    this.editing = msg._id;
    const text = li.querySelector('.message-text');
    const box = h('textarea', { value: msg.msg, testid: 'edit-input', attrs: { 'aria-label': 'Edit message' } });
    const error = h('div', { class: 'composer-error', hidden: true, attrs: { role: 'alert' } });
    const finish = () => {
      this.editing = null;
      const latest = this.deferred.get(msg._id) || this.get(msg._id);
      this.deferred.delete(msg._id);
      if (latest) this.upsert(latest);
      this.nodes.get(msg._id)?.querySelector('[data-testid="action-edit"]')?.focus();
    };
    const save = async () => {
      if (box.value.trim() === msg.msg.trim()) return finish();
      saveBtn.disabled = true;
      try {
        const updated = await onSave(box.value);
        this.deferred.set(msg._id, updated);
        finish();
      } catch (err) {
        saveBtn.disabled = false;
        error.textContent = err.message;
        error.hidden = false;
      }
    };
    const saveBtn = h('button', { type: 'button', class: 'primary', text: 'Save', testid: 'edit-save', on: { click: save } });
    box.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey) {
        ev.preventDefault();
        save();
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        finish();
      }
    });
    const editor = h('div', { class: 'edit-box' }, box, error,
      h('div', { class: 'row' }, saveBtn, h('button', { type: 'button', text: 'Cancel', on: { click: finish } })));
    text.replaceWith(editor);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }
}

/** The side panel of one thread: its first message, the replies, a composer. */
export class ThreadPanel {
  /** `room` is the RoomView (for sending and actions). */
  constructor(room, parent) {
    this.room = room;
    this.tmid = parent._id;
    this.list = new MessageList({
      viewer: room.ctx.user,
      inThread: true,
      onAction: (kind, msg, extra) => room.onAction(kind, msg, extra, this),
      testid: 'thread-messages',
      label: 'Thread replies',
    });
    this.list.upsert({ ...parent });
    this.composer = new Composer(room.ctx, {
      rid: room.rid,
      tmid: this.tmid,
      label: 'Reply in thread',
      placeholder: 'Reply in thread',
      onSend: (text) => room.send(text, this.tmid),
      onNotice: (text) => room.notice(text),
      onTyping: (active) => room.typing(active),
      onEditLast: () => room.editLast(this.list),
    });
    this.scroll = h('div', { class: 'message-scroll' }, this.list.el);
    this.el = h('aside', { class: 'thread-panel', testid: 'thread-panel', attrs: { 'aria-label': 'Thread' } },
      h('header', {},
        h('h2', { text: 'Thread' }),
        h('button', { type: 'button', class: 'icon', text: '✕', testid: 'thread-close', attrs: { 'aria-label': 'Close thread' }, on: { click: () => room.closeThread() } })),
      this.scroll,
      room.member ? this.composer.el : null);
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.list.editing === null) room.closeThread();
    });
  }

  async load() {
    try {
      const res = await this.room.ctx.api('GET', '/api/v1/chat.getThreadMessages', { tmid: this.tmid, count: 100 });
      for (const m of res.messages || []) this.list.upsert(m);
      this.scroll.scrollTop = this.scroll.scrollHeight;
    } catch (err) {
      this.list.el.append(h('li', { class: 'history-state error-text', text: `Replies could not be loaded: ${err.message}` }));
    }
    this.composer.focus();
  }

  upsert(msg) {
    const atBottom = this.scroll.scrollHeight - this.scroll.scrollTop - this.scroll.clientHeight < 80;
    this.list.upsert(msg);
    if (atBottom || msg.u?._id === this.room.ctx.user._id) this.scroll.scrollTop = this.scroll.scrollHeight;
  }

  destroy() {
    clear(this.el);
    this.el.remove();
  }
}

// The composer: Enter sends, Shift+Enter adds a line; `/` opens slash-command
// autocomplete (core and app commands from commands.list) and runs the command
// with commands.run; for a command with previews, the app's items for the text
// typed so far are offered above it (command-previews.js) and the one picked runs
// instead; errors (an app's `prevent` reason, a refused command) are shown inline
// and the text is given back for editing.

import { h, clear } from './dom.js';
import { CommandPreviews } from './command-previews.js';

const COMMANDS_TTL_MS = 30_000;

/** The commands list, cached briefly (apps may be installed while we chat). */
async function commands(ctx) {
  const cached = ctx.commands;
  if (cached && Date.now() - cached.at < COMMANDS_TTL_MS) return cached.list;
  const res = await ctx.api('GET', '/api/v1/commands.list', { count: 100 });
  ctx.commands = { at: Date.now(), list: res.commands || [] };
  return ctx.commands.list;
}

let composerSeq = 0;

export class Composer {
  /**
   * `opts`: `rid`, `tmid` (thread), `label`, `onSend(text)` → Promise (rejects with
   * the server's error), `onNotice(text)` for a command's private reply,
   * `onTyping(active)`, `onEditLast()` (Up in an empty composer).
   */
  constructor(ctx, opts) {
    this.ctx = ctx;
    this.opts = opts;
    this.matches = [];
    this.selected = -1;
    const id = `composer-${++composerSeq}`;
    const prefix = opts.tmid ? 'thread-' : '';
    this.input = h('textarea', {
      id, rows: 1, testid: `${prefix}composer-input`,
      placeholder: opts.placeholder || 'Message',
      attrs: {
        'aria-autocomplete': 'list', 'aria-controls': `${id}-ac ${id}-pv`, 'aria-expanded': 'false',
        'aria-describedby': `${id}-hint ${id}-error`, autocomplete: 'off',
      },
    });
    this.previews = new CommandPreviews(ctx, {
      id: `${id}-pv`, prefix, rid: opts.rid, tmid: opts.tmid,
      onPick: (item, line) => this.runPreview(item, line),
    });
    this.list = h('ul', { id: `${id}-ac`, class: 'autocomplete', hidden: true, testid: `${prefix}command-autocomplete`, attrs: { role: 'listbox', 'aria-label': 'Slash commands' } });
    this.error = h('div', { id: `${id}-error`, class: 'composer-error', testid: `${prefix}composer-error`, hidden: true, attrs: { role: 'alert' } });
    this.status = h('div', { class: 'composer-status', testid: `${prefix}composer-status`, attrs: { 'aria-live': 'polite' } });
    this.sendButton = h('button', { type: 'submit', class: 'primary', text: 'Send', testid: `${prefix}composer-send` });
    this.form = h('form', { class: 'composer', testid: `${prefix}composer`, on: { submit: (ev) => { ev.preventDefault(); this.submit(); } } },
      this.list,
      this.previews.el,
      h('label', { htmlFor: id, class: 'visually-hidden', text: opts.label || 'Message' }),
      h('div', { class: 'composer-row' }, this.input, this.sendButton),
      this.error,
      this.status,
      h('div', { id: `${id}-hint`, class: 'composer-hint', text: 'Enter to send · Shift+Enter for a new line · / for commands · ↑ edits your last message' }));
    this.el = this.form;
    this.input.addEventListener('keydown', (ev) => this.onKey(ev));
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('blur', () => setTimeout(() => {
      this.closeList();
      this.previews.close();
    }, 150));
  }

  focus() {
    this.input.focus();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 200)}px`;
  }

  onInput() {
    this.autosize();
    if (this.error.textContent && this.input.value) this.showError('');
    const value = this.input.value;
    this.opts.onTyping?.(value.length > 0 && !value.startsWith('/'));
    this.updateList();
  }

  /** Asks for previews when the text is `/<command> …` of a command that has them. */
  async updatePreviews(value) {
    const m = /^\/(\S+)\s([\s\S]*)$/.exec(value);
    if (!m) return this.previews.close();
    let all;
    try {
      all = await commands(this.ctx);
    } catch {
      return this.previews.close();
    }
    if (this.input.value !== value) return; // typed on meanwhile; a newer call handles it
    const name = m[1].toLowerCase();
    const c = all.find((x) => x.command.toLowerCase() === name);
    if (!c || !c.providesPreview) return this.previews.close();
    this.previews.request(c.command, m[2]);
  }

  async updateList() {
    const value = this.input.value;
    this.updatePreviews(value);
    const m = /^\/(\S*)$/.exec(value.slice(0, this.input.selectionStart));
    if (!m || value.includes('\n')) return this.closeList();
    let all;
    try {
      all = await commands(this.ctx);
    } catch (err) {
      this.showError(`Commands could not be loaded: ${err.message}`);
      return this.closeList();
    }
    if (this.input.value !== value) return; // typed on meanwhile; a newer call handles it
    const prefix = m[1].toLowerCase();
    this.matches = all.filter((c) => c.command.toLowerCase().startsWith(prefix)).slice(0, 30);
    if (!this.matches.length) return this.closeList();
    this.selected = Math.min(Math.max(this.selected, 0), this.matches.length - 1);
    this.renderList();
  }

  renderList() {
    clear(this.list);
    this.matches.forEach((c, i) => {
      const optionId = `${this.list.id}-${i}`;
      const li = h('li', {
        id: optionId, testid: `command-option-${c.command}`,
        attrs: { role: 'option', 'aria-selected': String(i === this.selected) },
        on: { mousedown: (ev) => { ev.preventDefault(); this.choose(i); } },
      },
      h('span', { class: 'cmd', text: `/${c.command}` }),
      c.params ? h('span', { class: 'params', text: c.params }) : null,
      c.appId ? h('span', { class: 'app', text: c.appId }) : null,
      h('span', { class: 'desc', text: c.description || '' }));
      this.list.append(li);
    });
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.input.setAttribute('aria-activedescendant', `${this.list.id}-${this.selected}`);
    this.list.children[this.selected]?.scrollIntoView({ block: 'nearest' });
  }

  closeList() {
    this.list.hidden = true;
    this.matches = [];
    this.selected = -1;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  choose(i) {
    const c = this.matches[i];
    if (!c) return;
    this.input.value = `/${c.command} `;
    this.closeList();
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    this.status.textContent = c.params ? `/${c.command} ${c.params} — ${c.description || ''}` : c.description || '';
  }

  onKey(ev) {
    if (this.previews.open && this.previewKey(ev)) return;
    const open = !this.list.hidden && this.matches.length > 0;
    if (open) {
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        const n = this.matches.length;
        this.selected = (this.selected + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this.renderList();
        return;
      }
      if (ev.key === 'Tab' || (ev.key === 'Enter' && !ev.shiftKey)) {
        ev.preventDefault();
        this.choose(this.selected);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.closeList();
        return;
      }
    }
    if (ev.key === 'ArrowUp' && !this.input.value && this.opts.onEditLast) {
      // As in Rocket.Chat: Up in an empty composer edits your last message.
      ev.preventDefault();
      this.opts.onEditLast();
      return;
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      this.submit();
    }
  }

  /** Arrows move through the previews, Enter runs the highlighted one, Escape hides them. */
  previewKey(ev) {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      this.previews.move(ev.key === 'ArrowDown' ? 1 : -1);
      const active = this.previews.activeId;
      if (active) this.input.setAttribute('aria-activedescendant', active);
      else this.input.removeAttribute('aria-activedescendant');
      return true;
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && this.previews.activeId) {
      ev.preventDefault();
      this.previews.pick();
      return true;
    }
    if (ev.key === 'Escape') {
      ev.preventDefault();
      this.previews.close();
      return true;
    }
    return false;
  }

  async submit() {
    const text = this.input.value;
    if (!text.trim() || this.busy) return;
    this.closeList();
    const cmd = /^\/(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim());
    await this.perform(text, cmd && cmd[1], () => (cmd ? this.runCommand(cmd[1], cmd[2] || '') : this.opts.onSend(text)));
  }

  /** Runs the preview item picked for `line` ({command, params}) with commands.preview. */
  async runPreview(item, line) {
    if (this.busy) return;
    const body = {
      command: line.command, params: line.params, roomId: this.opts.rid,
      previewItem: { id: item.id, type: item.type, value: item.value },
    };
    if (this.opts.tmid) body.tmid = this.opts.tmid;
    await this.perform(this.input.value, line.command, () => this.ctx.api('POST', '/api/v1/commands.preview', body));
  }

  /**
   * Runs `action` (sending `text`, or running `command`) with the composer cleared;
   * on failure shows why and gives the text back for editing.
   */
  async perform(text, command, action) {
    this.showError('');
    this.previews.close();
    this.busy = true;
    this.sendButton.disabled = true;
    this.input.value = '';
    this.autosize();
    this.opts.onTyping?.(false);
    this.status.textContent = command ? `Running /${command}…` : '';
    try {
      await action();
      this.status.textContent = '';
    } catch (err) {
      this.status.textContent = '';
      const reason = err.errorType === 'error-app-prevented'
        ? `Not sent: ${err.message}`
        : `${command ? `/${command} failed` : 'Not sent'}: ${err.message}`;
      this.showError(reason);
      if (!this.input.value) {
        this.input.value = text;
        this.autosize();
      }
    } finally {
      this.busy = false;
      this.sendButton.disabled = false;
      this.input.focus();
    }
  }

  async runCommand(command, params) {
    const body = { command, roomId: this.opts.rid, params };
    if (this.opts.tmid) body.tmid = this.opts.tmid;
    const res = await this.ctx.api('POST', '/api/v1/commands.run', body);
    const result = res.result || {};
    if (result.ephemeral) this.opts.onNotice?.(result.ephemeral);
    if (result.roomId && command === 'join') {
      this.ctx.navigate(`#/channel/${encodeURIComponent(params.trim().replace(/^#/, ''))}`);
    }
  }
}

// Slash-command previews: for a command whose app offers them (`providesPreview` in
// commands.list), the items for what has been typed so far (GET commands.preview,
// after a pause in typing; only the latest request's answer is shown) in a list
// above the composer. The composer runs the item picked (click, or arrows + Enter).
// Items come from apps: they go in as text nodes and attribute values, an image only
// as an <img> of an http(s) URL.

import { h, clear } from './dom.js';

const DEBOUNCE_MS = 250;
const TYPES = ['text', 'image', 'video', 'audio', 'other'];

/** The URL if it is an absolute http(s) one, else null. */
export function httpUrl(raw) {
  try {
    const url = new URL(String(raw));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function isItem(item) {
  return item && typeof item === 'object' && typeof item.id === 'string' && item.id
    && TYPES.includes(item.type) && typeof item.value === 'string';
}

/** An item's face: its image, or its value as text (also when the image fails). */
function face(item) {
  const text = () => h('span', { class: 'preview-text', text: item.value });
  const url = item.type === 'image' ? httpUrl(item.value) : null;
  if (!url) return text();
  const img = h('img', { src: url, alt: `Image ${item.id}`, loading: 'lazy', referrerPolicy: 'no-referrer' });
  img.addEventListener('error', () => img.replaceWith(text()));
  return img;
}

export class CommandPreviews {
  /**
   * `opts`: `id` (of the list), `prefix` (of test ids), `rid`, `tmid`, and
   * `onPick(item, line)` where `line` is `{command, params}` the items were for.
   */
  constructor(ctx, opts) {
    this.ctx = ctx;
    this.opts = opts;
    this.seq = 0;
    this.timer = null;
    this.items = [];
    this.selected = -1;
    this.line = null;
    this.el = h('ul', {
      id: opts.id, class: 'command-previews', hidden: true, testid: `${opts.prefix}command-previews`,
      attrs: { role: 'listbox', 'aria-label': 'Command previews' },
    });
  }

  get open() {
    return !this.el.hidden && this.items.length > 0;
  }

  /** Asks, after a pause in typing, for the items of `/command params`. */
  request(command, params) {
    const seq = ++this.seq;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(seq, command, params), DEBOUNCE_MS);
  }

  async fetch(seq, command, params) {
    const query = { command, params, roomId: this.opts.rid };
    if (this.opts.tmid) query.tmid = this.opts.tmid;
    let res;
    try {
      res = await this.ctx.api('GET', '/api/v1/commands.preview', query);
    } catch {
      // The app has nothing for this text (or refuses it): no list, no fuss.
      if (seq === this.seq) this.hide();
      return;
    }
    if (seq !== this.seq) return; // typed on meanwhile: a newer request answers
    const preview = res && res.preview;
    const items = Array.isArray(preview?.items) ? preview.items.filter(isItem) : [];
    this.line = { command, params };
    this.render(items, typeof preview?.i18nTitle === 'string' ? preview.i18nTitle : '');
  }

  render(items, title) {
    clear(this.el);
    this.items = items;
    this.selected = -1;
    if (!items.length) return this.hide();
    this.el.setAttribute('aria-label', title || 'Command previews');
    if (title) this.el.append(h('li', { class: 'preview-title', text: title, attrs: { role: 'presentation' } }));
    items.forEach((item, i) => {
      this.el.append(h('li', {
        id: `${this.opts.id}-${i}`, class: `preview-item preview-${item.type}`, testid: 'command-preview-item',
        attrs: { role: 'option', 'aria-selected': 'false', 'data-item-id': item.id },
        on: {
          mousedown: (ev) => ev.preventDefault(), // keep the composer's focus
          click: () => this.pick(i),
        },
      }, face(item)));
    });
    this.el.hidden = false;
  }

  /** Moves the highlight by `step` (arrow keys), wrapping around. */
  move(step) {
    const n = this.items.length;
    if (!n) return;
    this.selected = this.selected < 0 ? (step > 0 ? 0 : n - 1) : (this.selected + step + n) % n;
    this.el.querySelectorAll('[role="option"]').forEach((li, i) => {
      li.setAttribute('aria-selected', String(i === this.selected));
      if (i === this.selected) li.scrollIntoView({ block: 'nearest' });
    });
  }

  /** The highlighted item's option id, for `aria-activedescendant`. */
  get activeId() {
    return this.selected >= 0 ? `${this.opts.id}-${this.selected}` : null;
  }

  /** Runs item `i` (default: the highlighted one); false when there is none. */
  pick(i = this.selected) {
    const item = this.items[i];
    if (!item || !this.line) return false;
    const line = this.line;
    this.close();
    this.opts.onPick(item, line);
    return true;
  }

  hide() {
    clear(this.el);
    this.el.hidden = true;
    this.items = [];
    this.selected = -1;
  }

  /** Hides the list and drops any request still pending. */
  close() {
    this.seq += 1;
    clearTimeout(this.timer);
    this.hide();
  }
}

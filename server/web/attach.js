// Sending files: the attach button (several files at once), files dropped onto the
// room, screenshots pasted into the composer. Each file waits in a tray above the
// composer with an optional description; sending uploads them one after the other
// (`rooms.media`, a progress bar and a cancel button each) and posts each with
// `rooms.mediaConfirm`.

import { h, clear } from './dom.js';

/** "1.5 MB" for a byte count. */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Uploads `file` to `rooms.media/:rid`; `onProgress(fraction)`. Resolves with `{_id, url}`. */
function uploadFile(rid, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/rooms.media/${encodeURIComponent(rid)}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body?.file?._id) resolve(body.file);
      else reject(new Error(body?.error || `Upload failed (${xhr.status})`));
    });
    xhr.addEventListener('error', () => reject(new Error('Cannot reach the server. Check your connection.')));
    xhr.addEventListener('abort', () => reject(Object.assign(new Error('Upload cancelled'), { cancelled: true })));
    signal.addEventListener('abort', () => xhr.abort());
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

let pastedSeq = 0;

export class Attacher {
  /** `opts`: `rid`, `onError(text)`. */
  constructor(ctx, opts) {
    this.ctx = ctx;
    this.opts = opts;
    this.items = [];
    this.sending = false;
    this.input = h('input', {
      type: 'file', multiple: true, hidden: true, testid: 'attach-input',
      on: { change: () => { this.add([...this.input.files]); this.input.value = ''; } },
    });
    this.button = h('button', {
      type: 'button', class: 'attach-button', text: '📎', title: 'Attach files', testid: 'attach-button',
      attrs: { 'aria-label': 'Attach files' }, on: { click: () => this.input.click() },
    });
    this.list = h('ul', { class: 'upload-list', testid: 'upload-list' });
    this.sendButton = h('button', { type: 'button', class: 'primary', text: 'Upload', testid: 'upload-send', on: { click: () => this.sendAll() } });
    this.clearButton = h('button', { type: 'button', text: 'Discard', testid: 'upload-discard', on: { click: () => this.discard() } });
    this.tray = h('div', { class: 'upload-tray', testid: 'upload-tray', hidden: true, attrs: { role: 'region', 'aria-label': 'Files to send' } },
      this.list, h('div', { class: 'upload-actions' }, this.clearButton, this.sendButton));
    this.el = h('div', { class: 'attach' }, this.input, this.tray);
  }

  /** Makes `target` accept dropped files (with a visible drop zone while dragging). */
  dropTarget(target) {
    let depth = 0;
    const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes('Files');
    target.addEventListener('dragenter', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      depth += 1;
      target.classList.add('drop-active');
    });
    target.addEventListener('dragover', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
    });
    target.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) target.classList.remove('drop-active');
    });
    target.addEventListener('drop', (ev) => {
      if (!hasFiles(ev) && !ev.dataTransfer?.files?.length) return;
      ev.preventDefault();
      depth = 0;
      target.classList.remove('drop-active');
      this.add([...ev.dataTransfer.files]);
    });
  }

  /** Makes pasting into `input` stage pasted files (screenshots). */
  pasteTarget(input) {
    input.addEventListener('paste', (ev) => {
      const files = [...(ev.clipboardData?.items || [])]
        .filter((item) => item.kind === 'file')
        .map((item) => item.getAsFile())
        .filter(Boolean);
      if (!files.length) return;
      ev.preventDefault();
      this.add(files.map((f) => {
        // Screenshots come as "image.png"; give each its own name.
        if (f.name && f.name !== 'image.png') return f;
        pastedSeq += 1;
        const ext = (f.type.split('/')[1] || 'png').replace(/[^a-z0-9]/gi, '');
        return new File([f], `screenshot-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}-${pastedSeq}.${ext}`, { type: f.type });
      }));
    });
  }

  add(files) {
    for (const file of files) {
      const description = h('input', {
        type: 'text', class: 'upload-description', testid: 'upload-description',
        placeholder: 'Description (optional)', attrs: { 'aria-label': `Description of ${file.name}` },
      });
      const progress = h('progress', { class: 'upload-progress', testid: 'upload-progress', max: 1, value: 0, hidden: true, attrs: { 'aria-label': `Upload of ${file.name}` } });
      const status = h('span', { class: 'upload-status', testid: 'upload-status' });
      const item = { file, description, progress, status, controller: null };
      const cancel = h('button', {
        type: 'button', class: 'upload-cancel', text: '✕', testid: 'upload-cancel',
        title: 'Cancel', attrs: { 'aria-label': `Cancel ${file.name}` },
        on: { click: () => this.cancel(item) },
      });
      item.el = h('li', { class: 'upload-item', testid: 'upload-item', attrs: { 'data-name': file.name } },
        h('div', { class: 'upload-head' },
          h('span', { class: 'upload-name', testid: 'upload-name', text: file.name }),
          h('span', { class: 'upload-size', text: formatSize(file.size) }),
          cancel),
        description, progress, status);
      this.items.push(item);
      this.list.append(item.el);
    }
    this.render();
    this.items[this.items.length - 1]?.description.focus();
  }

  render() {
    this.tray.hidden = !this.items.length;
    this.sendButton.disabled = this.sending;
    this.clearButton.disabled = this.sending;
  }

  cancel(item) {
    if (item.controller) item.controller.abort();
    else this.removeItem(item);
  }

  removeItem(item) {
    this.items = this.items.filter((i) => i !== item);
    item.el.remove();
    this.render();
  }

  discard() {
    for (const item of [...this.items]) this.cancel(item);
    clear(this.list);
    this.items = [];
    this.render();
  }

  async sendAll() {
    if (this.sending) return;
    this.sending = true;
    this.render();
    try {
      for (const item of [...this.items]) await this.sendOne(item);
    } finally {
      this.sending = false;
      this.render();
    }
  }

  async sendOne(item) {
    item.controller = new AbortController();
    item.progress.hidden = false;
    item.description.disabled = true;
    item.status.textContent = 'Uploading…';
    try {
      const onProgress = (f) => {
        item.progress.value = f;
        // Announced for whoever watches uploads (the page's tests, extensions).
        this.el.dispatchEvent(new CustomEvent('upload-progress', { bubbles: true, detail: { name: item.file.name, fraction: f } }));
      };
      const file = await uploadFile(this.opts.rid, item.file, onProgress, item.controller.signal);
      item.progress.value = 1;
      const body = {};
      const description = item.description.value.trim();
      if (description) body.description = description;
      await this.ctx.api('POST', `/api/v1/rooms.mediaConfirm/${encodeURIComponent(this.opts.rid)}/${encodeURIComponent(file._id)}`, body);
      this.removeItem(item);
    } catch (err) {
      item.controller = null;
      if (err.cancelled) {
        this.removeItem(item);
        return;
      }
      item.status.textContent = err.message;
      item.status.classList.add('error-text');
      item.description.disabled = false;
      this.opts.onError?.(`${item.file.name}: ${err.message}`);
    }
  }
}

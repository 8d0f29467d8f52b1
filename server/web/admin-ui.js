// Small DOM helpers shared by the admin console's views. Everything user- or
// app-controlled goes in as text nodes: nothing here parses HTML.

/**
 * Builds an element. `attrs`: `class`, `testid` (→ data-testid), `text`, `on`
 * ({event: handler}), DOM properties (`value`, `checked`, `disabled`, `type`, …) and
 * any other attribute. Children: nodes, strings (as text), arrays; null/false skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'testid') node.dataset.testid = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (['value', 'checked', 'disabled', 'type', 'htmlFor', 'id', 'name', 'required',
      'placeholder', 'hidden', 'selected', 'min', 'max', 'step', 'rows', 'autocomplete'].includes(key)) {
      node[key] = value;
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Removes every child of `node`, then appends `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

/** A link only for http(s) and mailto targets; anything else is plain text. */
export function safeLink(url, text) {
  let parsed;
  try {
    parsed = new URL(String(url), window.location.href);
  } catch {
    return document.createTextNode(text || String(url));
  }
  if (!['http:', 'https:', 'mailto:'].includes(parsed.protocol)) {
    return document.createTextNode(text || String(url));
  }
  return h('a', { href: parsed.href, target: '_blank', rel: 'noopener noreferrer' }, text || String(url));
}

/** What each permission lets an app do, for when the server sends no explanation. */
export const PERMISSION_HELP = {
  'message.read': 'Read messages in the rooms it can see, including before they are stored (to check or change them).',
  'message.write': 'Post, edit and delete messages as its bot user.',
  'room.read': 'Read room details and member lists of the rooms it can see.',
  'room.write': 'Create rooms and change them, add and remove members.',
  'user.read': 'Look up user accounts (names, usernames, roles).',
  persistence: 'Store its own data on the server.',
  networking: 'Make HTTP requests to the listed hosts on the internet.',
  scheduler: 'Run jobs on a schedule, in the background.',
  slashcommand: 'Add slash commands that people can run.',
  api: 'Serve HTTP endpoints under /api/apps/.',
  filesystem: 'Read and write files in a private directory of its own.',
};

/** The explanation of a permission view (`{name, explanation}`) from the API. */
export function explain(permission) {
  const text = permission.explanation || PERMISSION_HELP[permission.name] || 'A permission this server does not know.';
  // The server's explanations are phrases ("answer its slash commands"): make sentences.
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

const STATUS_TEXT = {
  initialized: 'Installed, not enabled yet',
  auto_enabled: 'Enabled',
  manually_enabled: 'Enabled',
  manually_disabled: 'Disabled',
  error_disabled: 'Disabled after errors',
  invalid_settings_disabled: 'Disabled: settings need attention',
  invalid_installation_disabled: 'Disabled: the package cannot be loaded',
};

/** A status badge (`status` is a Rocket.Chat app status). */
export function statusBadge(status, testid) {
  const enabled = status === 'auto_enabled' || status === 'manually_enabled';
  const bad = status && status.endsWith('_disabled') && status !== 'manually_disabled';
  const kind = enabled ? 'ok' : bad ? 'bad' : 'off';
  return h('span', { class: `admin-badge admin-badge-${kind}`, testid, title: status, dataset: { status } },
    STATUS_TEXT[status] || status);
}

/** Compares two semver strings (pre-releases sort before their release). */
export function compareVersions(a, b) {
  const parse = (v) => {
    const [core, pre = ''] = String(v || '').split('+')[0].split('-', 2);
    return { nums: core.split('.').map((n) => parseInt(n, 10) || 0), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i += 1) {
    const d = (x.nums[i] || 0) - (y.nums[i] || 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (!x.pre) return 1;
  if (!y.pre) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** A date as the browser's locale shows it. */
export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso || '') : d.toLocaleString();
}

/**
 * Opens a modal `<dialog>`. `actions`: [{label, testid, kind: 'primary'|'danger', onClick}]
 * where `onClick` may return a promise; while it runs the buttons are disabled, and
 * if it rejects its message is shown inside the dialog. A cancel button is always
 * added. Returns {dialog, close, showError}; `onClose` runs once when it closes.
 */
export function openDialog({ title, testid, body, actions = [], cancelLabel = 'Cancel', onClose }) {
  const error = h('p', { class: 'error-text', role: 'alert', testid: testid ? `${testid}-error` : undefined, hidden: true });
  const headingId = `dlg-${Math.random().toString(36).slice(2)}`;
  const buttons = [];
  const dialog = h('dialog', { class: 'admin-dialog', testid, 'aria-labelledby': headingId });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose();
  };
  const showError = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };
  const setBusy = (busy) => {
    for (const b of buttons) b.disabled = busy;
    dialog.setAttribute('aria-busy', busy ? 'true' : 'false');
  };
  for (const action of actions) {
    const button = h('button', {
      type: 'button',
      class: action.kind || undefined,
      testid: action.testid,
      on: {
        click: async () => {
          showError('');
          setBusy(true);
          try {
            await action.onClick({ close, showError });
          } catch (e) {
            showError(e && e.message ? e.message : String(e));
          } finally {
            if (!closed) setBusy(false);
          }
        },
      },
    }, action.label);
    buttons.push(button);
  }
  const cancel = h('button', { type: 'button', testid: testid ? `${testid}-cancel` : undefined, on: { click: close } }, cancelLabel);
  buttons.push(cancel);
  dialog.append(
    h('h2', { id: headingId }, title),
    h('div', { class: 'admin-dialog-body' }, body),
    error,
    h('div', { class: 'dialog-actions' }, buttons),
  );
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    close();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  return { dialog, close, showError };
}

/** Asks a yes/no question in a dialog; resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel, testid, danger = true }) {
  return new Promise((resolve) => {
    let answered = false;
    openDialog({
      title,
      testid,
      body: h('p', {}, message),
      actions: [{
        label: confirmLabel,
        testid: testid ? `${testid}-confirm` : undefined,
        kind: danger ? 'danger' : 'primary',
        onClick: ({ close }) => {
          answered = true;
          close();
        },
      }],
      onClose: () => resolve(answered),
    });
  });
}

/** A "loading" placeholder. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'admin-muted', role: 'status' }, text);
}

/** An error box for a failed load, with a retry button. */
export function loadError(error, retry) {
  return h('div', { class: 'admin-error', role: 'alert', testid: 'admin-load-error' },
    h('span', {}, `Could not load: ${error && error.message ? error.message : String(error)}`),
    retry ? h('button', { type: 'button', on: { click: retry } }, 'Retry') : null);
}

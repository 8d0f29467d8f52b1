// Workspace settings: every setting of the server, grouped as the registry groups
// them, with a typed input each. Values locked by the server's configuration are
// read-only and say where they come from; secrets are write-only (the server only
// says whether one is set). Saving posts each changed setting to
// /api/v1/settings/:_id; the server checks each value and its refusal is shown
// next to the field.

import { h, replace, loading, loadError } from './admin-ui.js';

const FIELDS = {
  type: 1, group: 1, section: 1, packageValue: 1, public: 1, blocked: 1, lockedBy: 1,
  secret: 1, set: 1, values: 1, label: 1, description: 1, min: 1, max: 1,
};

/** Every setting, page by page (the server caps a page at API_Upper_Count_Limit). */
async function loadAll(env) {
  const all = [];
  const fields = encodeURIComponent(JSON.stringify(FIELDS));
  for (;;) {
    const res = await env.api('GET', `/api/v1/settings?count=100&offset=${all.length}&fields=${fields}`);
    const page = res.settings || [];
    all.push(...page);
    if (!page.length || all.length >= (res.total || 0)) return all;
  }
}

const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]/g, '-');

/** One setting's input, error line and reader. */
function control(env, s, onRun) {
  const inputId = `ws-${slug(s._id)}`;
  const common = { id: inputId, name: s._id, testid: `ws-input-${s._id}`, disabled: !!s.blocked };
  let input;
  let read;
  let clear = null;
  switch (s.type) {
    case 'boolean':
      input = h('input', { ...common, type: 'checkbox', checked: s.value === true });
      read = () => input.checked;
      break;
    case 'int':
      input = h('input', {
        ...common, type: 'number', step: '1', inputmode: 'numeric', value: s.value ?? '',
        min: s.min, max: s.max,
      });
      read = () => (input.value.trim() === '' ? null : Number(input.value));
      break;
    case 'select':
      input = h('select', common,
        (s.values || []).map((o) => h('option', { value: o.key, selected: o.key === s.value }, o.key)));
      read = () => input.value;
      break;
    case 'code':
      input = h('textarea', { ...common, rows: 4, value: s.value ?? '' });
      read = () => input.value;
      break;
    case 'password':
      input = h('input', {
        ...common, type: 'password', autocomplete: 'new-password', value: '',
        placeholder: s.set ? 'Saved — type a new value to replace it' : 'Not set',
      });
      if (s.set && !s.blocked) {
        clear = h('input', { type: 'checkbox', id: `${inputId}-clear`, testid: `ws-clear-${s._id}` });
      }
      read = () => (clear && clear.checked ? '' : input.value);
      break;
    case 'action':
      input = h('button', {
        ...common, type: 'button', on: { click: () => onRun(s, input, showError) },
      }, s.label || s._id);
      read = () => undefined;
      break;
    default:
      input = h('input', { ...common, type: 'text', autocomplete: 'off', value: s.value ?? '' });
      read = () => input.value;
  }
  const error = h('p', { class: 'error-text', id: `${inputId}-error`, testid: `ws-error-${s._id}`, hidden: true });
  const notes = [];
  if (s.description) notes.push(s.description);
  if (s.type === 'password') notes.push(s.set ? 'A value is saved.' : 'No value is saved.');
  const hint = notes.length ? h('p', { class: 'hint' }, notes.join(' ')) : null;
  const lock = s.blocked
    ? h('p', { class: 'admin-locked', testid: `ws-locked-${s._id}` },
      `Locked by the server configuration: ${s.lockedBy || 'set outside the console'}.`)
    : null;
  const title = s.label || s._id;
  let head;
  if (s.type === 'boolean') head = [h('label', { class: 'check', htmlFor: inputId }, input, title)];
  else if (s.type === 'action') head = [input];
  else head = [h('label', { htmlFor: inputId }, title), input];
  const field = h('div', {
    class: 'field', testid: `ws-setting-${s._id}`, dataset: { type: s.type, locked: s.blocked ? 'true' : 'false' },
  },
  head,
  clear ? h('label', { class: 'check', htmlFor: clear.id }, clear, 'Clear the saved value') : null,
  h('p', { class: 'admin-muted admin-setting-id' }, s._id),
  hint, lock, error);
  function showError(message) {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
  input.addEventListener('input', () => showError(''));
  input.setAttribute('aria-describedby', error.id);
  function changed() {
    if (s.blocked || s.type === 'action') return false;
    const v = read();
    if (s.type === 'password') return v !== '' || !!(clear && clear.checked);
    return v !== s.value;
  }
  /** The browser-side check; the server checks again and its answer wins. */
  function check() {
    if (s.type === 'int') {
      const v = read();
      if ((input.validity && input.validity.badInput) || v === null || !Number.isInteger(v)) return 'Enter a whole number.';
    }
    return null;
  }
  return { s, field, input, read, changed, check, showError };
}

/** The settings of one group, in sections, with one Save button. */
function groupForm(env, group, settings, reload) {
  const runAction = async (s, button, showError) => {
    showError('');
    button.disabled = true;
    try {
      const res = await env.api('POST', `/api/v1/settings/${encodeURIComponent(s._id)}`, { execute: true });
      env.notify(`${s.label || s._id}: ${(res && res.message) || 'done.'}`);
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
  };
  const controls = settings.map((s) => control(env, s, runAction));
  const sections = [];
  for (const c of controls) {
    const name = c.s.section || '';
    let section = sections.find((x) => x.name === name);
    if (!section) {
      section = { name, items: [] };
      sections.push(section);
    }
    section.items.push(c.field);
  }
  const formError = h('p', { class: 'error-text', role: 'alert', testid: 'ws-form-error', hidden: true });
  const save = h('button', { type: 'submit', class: 'primary', testid: 'ws-save' }, 'Save changes');
  const form = h('form', { class: 'admin-settings', testid: `ws-group-${slug(group)}`, novalidate: true },
    h('h3', {}, group),
    sections.map((x) => h('fieldset', { class: 'admin-section' },
      x.name ? h('legend', {}, x.name) : null, x.items)),
    formError,
    h('div', { class: 'dialog-actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.hidden = true;
    const todo = controls.filter((c) => c.changed());
    let firstBad = null;
    for (const c of todo) {
      const message = c.check();
      c.showError(message);
      if (message && !firstBad) firstBad = c;
    }
    if (firstBad) {
      firstBad.input.focus();
      return;
    }
    if (!todo.length) {
      env.notify('Nothing to save: no setting was changed.');
      return;
    }
    save.disabled = true;
    let saved = 0;
    for (const c of todo) {
      try {
        await env.api('POST', `/api/v1/settings/${encodeURIComponent(c.s._id)}`, { value: c.read() });
        saved += 1;
      } catch (err) {
        c.showError(err.message);
        if (!firstBad) firstBad = c;
      }
    }
    save.disabled = false;
    if (firstBad) {
      formError.textContent = saved
        ? `Saved ${saved} of ${todo.length} changes; fix the fields marked below.`
        : 'Not saved: fix the fields marked below.';
      formError.hidden = false;
      firstBad.input.focus();
      return;
    }
    env.notify(`${group} settings saved.`);
    reload(group);
  });
  return form;
}

/** The Settings view: group list and the selected group's form. */
export function settingsView(el, env, selected) {
  let alive = true;
  async function load(group) {
    replace(el, loading());
    try {
      const all = await loadAll(env);
      if (alive) render(all, group);
    } catch (e) {
      if (alive) replace(el, loadError(e, () => load(group)));
    }
  }
  function render(all, group) {
    const groups = [];
    for (const s of all) if (!groups.includes(s.group)) groups.push(s.group);
    const current = groups.includes(group) ? group : groups[0];
    const nav = h('nav', { class: 'admin-groups', 'aria-label': 'Setting groups', testid: 'ws-groups' },
      groups.map((g) => h('a', {
        href: `#/admin/settings/${encodeURIComponent(g)}`,
        class: 'admin-tab',
        testid: `ws-groupnav-${slug(g)}`,
        'aria-current': g === current ? 'page' : undefined,
      }, g)));
    const form = groupForm(env, current, all.filter((s) => s.group === current), (g) => load(g));
    replace(el, h('div', { class: 'admin-settings-view', testid: 'ws-settings' }, nav, form));
  }
  load(selected);
  return { dispose: () => { alive = false; } };
}

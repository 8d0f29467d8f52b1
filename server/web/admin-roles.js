// Roles & permissions: the permission matrix (one row per permission, one checkbox
// per role; saved with /api/v1/permissions.update), custom roles (create, delete)
// and who holds a role. Roles a permission holds that have no column here (e.g.
// roles of features Palaver lacks) are kept as they are.

import { h, replace, confirmDialog, loading, loadError } from './admin-ui.js';

const slug = (s) => String(s).replace(/[^A-Za-z0-9_-]/g, '-');

/** The users holding `role` (first 100), in `panel`. */
async function showUsers(env, panel, role) {
  replace(panel, loading());
  try {
    const res = await env.api('GET', `/api/v1/roles.getUsersInRole?role=${encodeURIComponent(role._id)}&count=100`);
    const users = res.users || [];
    replace(panel,
      h('h3', {}, `Users with the role ${role.name}`),
      users.length
        ? h('ul', { testid: 'role-users' }, users.map((u) => h('li', { testid: `role-user-${u.username}` },
          u.username, u.name && u.name !== u.username ? ` (${u.name})` : '')))
        : h('p', { class: 'admin-muted', testid: 'role-users-empty' }, 'Nobody holds this role.'),
      res.total > users.length ? h('p', { class: 'admin-muted' }, `and ${res.total - users.length} more`) : null);
  } catch (e) {
    replace(panel, h('p', { class: 'error-text' }, e.message));
  }
}

/** The roles list with the "new role" form. */
function rolesSection(env, roles, reload) {
  const usersPanel = h('div', { class: 'admin-role-users', testid: 'role-users-panel' });
  const rows = roles.map((r) => h('tr', { testid: `role-row-${slug(r._id)}` },
    h('td', {}, r.name),
    h('td', {}, r.scope === 'Subscriptions' ? 'Room' : 'Global'),
    h('td', { class: 'admin-muted' }, r.description || ''),
    h('td', {}, r.protected ? h('span', { class: 'admin-badge' }, 'built-in') : null),
    h('td', { class: 'admin-actions' },
      h('button', {
        type: 'button', testid: `role-users-${slug(r._id)}`,
        on: { click: () => showUsers(env, usersPanel, r) },
      }, 'Users'),
      r.protected ? null : h('button', {
        type: 'button', class: 'danger', testid: `role-delete-${slug(r._id)}`,
        on: {
          click: async () => {
            const yes = await confirmDialog({
              title: 'Delete role',
              message: `Delete the role ${r.name}? Only a role nobody holds can be deleted.`,
              confirmLabel: 'Delete',
              testid: 'role-delete-dialog',
            });
            if (!yes) return;
            try {
              await env.api('POST', '/api/v1/roles.delete', { roleId: r._id });
              env.notify(`Role ${r.name} deleted.`);
              reload();
            } catch (e) {
              env.notify(e.message, 'error');
            }
          },
        },
      }, 'Delete'))));
  const name = h('input', { id: 'role-new-name', type: 'text', autocomplete: 'off', testid: 'role-new-name', required: true });
  const scope = h('select', { id: 'role-new-scope', testid: 'role-new-scope' },
    h('option', { value: 'Users' }, 'Global'), h('option', { value: 'Subscriptions' }, 'Room'));
  const description = h('input', { id: 'role-new-description', type: 'text', autocomplete: 'off', testid: 'role-new-description' });
  const error = h('p', { class: 'error-text', role: 'alert', testid: 'role-new-error', hidden: true });
  const form = h('form', { class: 'admin-toolbar', testid: 'role-create-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { htmlFor: 'role-new-name' }, 'New role'), name),
    h('div', { class: 'field' }, h('label', { htmlFor: 'role-new-scope' }, 'Held'), scope),
    h('div', { class: 'field' }, h('label', { htmlFor: 'role-new-description' }, 'Description'), description),
    h('button', { type: 'submit', class: 'primary', testid: 'role-create' }, 'Create role'),
    error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!name.value.trim()) {
      error.textContent = 'Name the role.';
      error.hidden = false;
      name.focus();
      return;
    }
    try {
      await env.api('POST', '/api/v1/roles.create', {
        name: name.value.trim(), scope: scope.value, description: description.value.trim(),
      });
      env.notify(`Role ${name.value.trim()} created.`);
      reload();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  return h('section', { testid: 'roles-section' },
    h('h3', {}, 'Roles'),
    h('table', { class: 'admin-table', testid: 'roles-table' },
      h('thead', {}, h('tr', {}, ['Role', 'Held', 'Description', '', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)),
    form,
    usersPanel);
}

/** The permission × role matrix with a filter and one Save button. */
function matrixSection(env, roles, permissions, reload) {
  const columns = roles.map((r) => r._id);
  const boxes = new Map();
  const filter = h('input', {
    id: 'perm-filter', type: 'search', placeholder: 'Filter permissions', autocomplete: 'off', testid: 'perm-filter',
  });
  const rows = permissions.map((p) => {
    const cells = columns.map((role) => {
      const box = h('input', {
        type: 'checkbox', checked: p.roles.includes(role), testid: `perm-${p._id}-${slug(role)}`,
        'aria-label': `${p._id}: ${roles.find((r) => r._id === role).name}`,
      });
      boxes.set(`${p._id}\n${role}`, box);
      return h('td', { class: 'admin-perm-cell' }, box);
    });
    return h('tr', { testid: `perm-row-${p._id}`, dataset: { perm: p._id } }, h('th', { scope: 'row' }, p._id), cells);
  });
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    rows.forEach((row) => { row.hidden = !!q && !row.dataset.perm.includes(q); });
  });
  const save = h('button', { type: 'button', class: 'primary', testid: 'perm-save' }, 'Save permissions');
  save.addEventListener('click', async () => {
    const changed = [];
    for (const p of permissions) {
      const kept = p.roles.filter((r) => !columns.includes(r));
      const checked = columns.filter((r) => boxes.get(`${p._id}\n${r}`).checked);
      const next = [...kept, ...checked];
      const same = next.length === p.roles.length && next.every((r) => p.roles.includes(r));
      if (!same) changed.push({ _id: p._id, roles: next });
    }
    if (!changed.length) {
      env.notify('Nothing to save: no permission was changed.');
      return;
    }
    save.disabled = true;
    try {
      await env.api('POST', '/api/v1/permissions.update', { permissions: changed });
      env.notify(`Saved ${changed.length} permission${changed.length === 1 ? '' : 's'}.`);
      reload();
    } catch (e) {
      env.notify(e.message, 'error');
      save.disabled = false;
    }
  });
  return h('section', { testid: 'perm-section' },
    h('div', { class: 'admin-head' }, h('h3', {}, 'Permissions'), h('div', { class: 'admin-actions' }, filter, save)),
    h('div', { class: 'admin-perm-scroll' },
      h('table', { class: 'admin-table admin-perm-table', testid: 'perm-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Permission'),
          roles.map((r) => h('th', { scope: 'col', testid: `perm-col-${slug(r._id)}` }, r.name)))),
        h('tbody', {}, rows))));
}

/** The Roles & permissions view. */
export function rolesView(el, env) {
  let alive = true;
  async function load() {
    replace(el, loading());
    try {
      const [roles, perms] = await Promise.all([
        env.api('GET', '/api/v1/roles.list'),
        env.api('GET', '/api/v1/permissions.listAll'),
      ]);
      if (!alive) return;
      const reload = () => load();
      replace(el, h('div', { testid: 'roles-view' },
        rolesSection(env, roles.roles || [], reload),
        matrixSection(env, roles.roles || [], perms.update || [], reload)));
    } catch (e) {
      if (alive) replace(el, loadError(e, load));
    }
  }
  load();
  return { dispose: () => { alive = false; } };
}

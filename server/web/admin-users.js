// Users administration: list and search accounts, create one, deactivate or
// reactivate, grant or take back the admin role. All through /api/v1/users.*.

import { h, replace, openDialog, confirmDialog, loading, loadError } from './admin-ui.js';

const PAGE = 50;

function field(id, label, attrs, hint) {
  const input = h('input', { id, name: id, testid: `user-${id}`, ...attrs });
  return {
    input,
    el: h('div', { class: 'field' }, h('label', { htmlFor: id }, label), input,
      hint ? h('p', { class: 'hint' }, hint) : null),
  };
}

/** The "new user" dialog; `onCreated(user)` runs after the server accepted it. */
function openCreateDialog(env, onCreated) {
  const name = field('new-name', 'Name', { type: 'text', required: true, autocomplete: 'off' });
  const username = field('new-username', 'Username', { type: 'text', required: true, autocomplete: 'off' },
    'Letters, digits, dots, dashes and underscores.');
  const email = field('new-email', 'E-mail', { type: 'email', required: true, autocomplete: 'off' });
  const password = field('new-password', 'Password', { type: 'password', required: true, autocomplete: 'new-password' });
  const admin = h('input', { type: 'checkbox', id: 'new-admin', testid: 'user-new-admin' });
  const form = h('form', { testid: 'create-user-form', novalidate: true },
    name.el, username.el, email.el, password.el,
    h('label', { class: 'check', htmlFor: 'new-admin' }, admin, 'Administrator'));
  const dlg = openDialog({
    title: 'New user',
    testid: 'create-user-dialog',
    body: form,
    actions: [{
      label: 'Create user',
      kind: 'primary',
      testid: 'create-user-confirm',
      onClick: async ({ close }) => {
        const missing = [name, username, email, password].find((f) => !f.input.value.trim());
        if (missing) {
          missing.input.focus();
          throw new Error(`${missing.el.querySelector('label').textContent} is required.`);
        }
        if (!email.input.checkValidity()) {
          email.input.focus();
          throw new Error('Enter a valid e-mail address.');
        }
        const res = await env.api('POST', '/api/v1/users.create', {
          name: name.input.value.trim(),
          username: username.input.value.trim(),
          email: email.input.value.trim(),
          password: password.input.value,
          roles: admin.checked ? ['admin', 'user'] : ['user'],
          verified: true,
        });
        close();
        env.notify(`User ${res.user.username} created.`);
        onCreated(res.user);
      },
    }],
  });
  // Enter in a field submits like the button does.
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    dlg.dialog.querySelector('[data-testid="create-user-confirm"]').click();
  });
  name.input.focus();
}

function email(user) {
  return (user.emails && user.emails[0] && user.emails[0].address) || '';
}

function userRow(env, user, reload) {
  const me = user._id === env.user._id;
  const isAdmin = (user.roles || []).includes('admin');
  const bot = user.type === 'bot' || (user.roles || []).includes('bot');
  const activeButton = h('button', {
    type: 'button', testid: 'user-active', class: user.active ? 'danger' : undefined,
    disabled: me, title: me ? 'You cannot deactivate yourself.' : undefined,
    on: {
      click: async () => {
        if (user.active) {
          const yes = await confirmDialog({
            title: `Deactivate ${user.username}?`,
            message: `${user.username} will be logged out everywhere and cannot log in until reactivated.`,
            confirmLabel: 'Deactivate',
            testid: 'deactivate-dialog',
          });
          if (!yes) return;
        }
        activeButton.disabled = true;
        try {
          await env.api('POST', '/api/v1/users.setActiveStatus', { userId: user._id, activeStatus: !user.active });
          env.notify(`${user.username} is ${user.active ? 'deactivated' : 'active again'}.`);
        } catch (e) {
          env.notify(`Could not change ${user.username}: ${e.message}`, 'error');
        }
        reload();
      },
    },
  }, user.active ? 'Deactivate' : 'Reactivate');
  const adminButton = h('button', {
    type: 'button', testid: 'user-admin',
    disabled: me || bot, title: me ? 'You cannot change your own role.' : undefined,
    on: {
      click: async () => {
        adminButton.disabled = true;
        const roles = isAdmin
          ? (user.roles || []).filter((r) => r !== 'admin')
          : [...new Set([...(user.roles || []), 'admin'])];
        if (!roles.length) roles.push('user');
        try {
          await env.api('POST', '/api/v1/users.update', { userId: user._id, data: { roles } });
          env.notify(`${user.username} is ${isAdmin ? 'no longer an administrator' : 'now an administrator'}.`);
        } catch (e) {
          env.notify(`Could not change ${user.username}: ${e.message}`, 'error');
        }
        reload();
      },
    },
  }, isAdmin ? 'Remove admin' : 'Make admin');
  return h('tr', { testid: 'user-row', dataset: { username: user.username, active: String(!!user.active) } },
    h('td', {}, h('strong', {}, user.username), me ? ' (you)' : '', h('div', { class: 'admin-muted' }, user.name || '')),
    h('td', {}, email(user)),
    h('td', { testid: 'user-roles' }, (user.roles || []).join(', ')),
    h('td', {}, h('span', {
      class: `admin-badge ${user.active ? 'admin-badge-ok' : 'admin-badge-off'}`, testid: 'user-status',
    }, user.active ? 'Active' : 'Deactivated')),
    h('td', {}, h('div', { class: 'admin-actions' }, activeButton, adminButton)));
}

/** The users tab. */
export function usersView(el, env) {
  let alive = true;
  let offset = 0;
  let searchTimer = null;
  const search = h('input', {
    type: 'search', id: 'users-search', testid: 'users-search', placeholder: 'Search by name or username',
  });
  const create = h('button', { type: 'button', class: 'primary', testid: 'users-create' }, 'New user');
  const list = h('div', { class: 'admin-users-list' });

  async function load() {
    if (!list.firstChild) replace(list, loading());
    const params = { count: PAGE, offset, sort: { username: 1 } };
    const q = search.value.trim();
    if (q) params.query = { name: q };
    try {
      const res = await env.api('GET', '/api/v1/users.list', params);
      if (!alive) return;
      const users = res.users || [];
      const pager = h('div', { class: 'admin-pager' },
        h('span', { class: 'admin-muted', testid: 'users-summary' },
          res.total ? `${offset + 1}–${offset + users.length} of ${res.total}` : 'No users match.'),
        h('button', {
          type: 'button', disabled: offset === 0,
          on: { click: () => { offset = Math.max(0, offset - PAGE); load(); } },
        }, 'Previous'),
        h('button', {
          type: 'button', disabled: offset + users.length >= res.total,
          on: { click: () => { offset += PAGE; load(); } },
        }, 'Next'));
      replace(list,
        h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'users-table' },
          h('thead', {}, h('tr', {}, ['User', 'E-mail', 'Roles', 'Status', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, users.map((u) => userRow(env, u, load))))),
        pager);
    } catch (e) {
      if (alive) replace(list, loadError(e, load));
    }
  }

  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { offset = 0; load(); }, 250);
  });
  create.addEventListener('click', () => openCreateDialog(env, () => load()));
  replace(el,
    h('div', { class: 'admin-head' }, h('h2', {}, 'Users'), create),
    h('div', { class: 'admin-toolbar' }, h('label', { htmlFor: 'users-search', class: 'visually-hidden' }, 'Search users'), search),
    list);
  load();
  return {
    refresh: load,
    dispose: () => {
      alive = false;
      clearTimeout(searchTimer);
    },
  };
}

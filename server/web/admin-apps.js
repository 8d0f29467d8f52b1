// Apps administration: the marketplace (the server's local package folder), the
// installed apps, and the install / update / uninstall dialogs they share with the
// single-app view.

import {
  h, replace, safeLink, explain, statusBadge, compareVersions, openDialog, confirmDialog,
  loading, loadError,
} from './admin-ui.js';

const enc = encodeURIComponent;

/** The hash of an installed app's page (`section`: settings, logs, details). */
export function appHash(id, section) {
  return `#/admin/apps/installed/${enc(id)}${section ? `/${section}` : ''}`;
}

/** The newest valid marketplace package of `id` newer than `version`, or null. */
export function newerListing(listings, id, version) {
  const newer = listings
    .filter((l) => l.valid && l.id === id && compareVersions(l.version, version) > 0)
    .sort((a, b) => compareVersions(a.version, b.version));
  return newer.length ? newer[newer.length - 1] : null;
}

function hostsText(hosts) {
  return hosts && hosts.length ? `Hosts: ${hosts.join(', ')}` : null;
}

/** One permission with its explanation, the app's reason and its hosts. */
function permissionInfo(p) {
  return [
    h('p', { class: 'admin-perm-explain' }, explain(p)),
    p.reason ? h('p', { class: 'admin-perm-reason' }, `The app says: ${p.reason}`) : null,
    p.hosts && p.hosts.length ? h('p', { class: 'admin-perm-hosts' }, hostsText(p.hosts)) : null,
  ];
}

/**
 * A permission with a checkbox (ticked; locked when required). Returns the list item
 * and a getter telling whether it is granted.
 */
function permissionChoice(p) {
  const id = `perm-${p.name.replace(/[^a-z0-9]/gi, '-')}-${Math.random().toString(36).slice(2, 7)}`;
  const box = h('input', {
    type: 'checkbox', id, checked: true, disabled: p.required, testid: `perm-${p.name}`,
    'aria-describedby': `${id}-help`,
  });
  const item = h('li', { class: 'admin-perm', testid: 'permission-item', dataset: { permission: p.name } },
    h('label', { class: 'check', htmlFor: id }, box,
      h('code', {}, p.name),
      h('span', { class: `admin-tag ${p.required ? 'admin-tag-required' : 'admin-tag-optional'}` },
        p.required ? 'required' : 'optional')),
    h('div', { id: `${id}-help` }, permissionInfo(p)));
  return { item, granted: () => box.checked, name: p.name };
}

/** Asks which permissions to grant, then installs the package `listing`. */
export function openInstallDialog(env, listing, onDone) {
  const perms = listing.permissions || [];
  const choices = perms.map(permissionChoice);
  const enable = h('input', { type: 'checkbox', id: 'install-enable', checked: true, testid: 'install-enable' });
  const body = [
    h('p', {}, perms.length
      ? `${listing.name} asks for the permissions below. Required ones cannot be declined; `
        + 'without an optional one the app still works, with less.'
      : `${listing.name} asks for no permissions.`),
    listing.signed ? null : h('p', { class: 'admin-warn', testid: 'install-unsigned' },
      'This package is not signed by a trusted publisher: install it only if you trust where it came from.'),
    perms.length ? h('ul', { class: 'admin-perms' }, choices.map((c) => c.item)) : null,
    h('label', { class: 'check', htmlFor: 'install-enable' }, enable, 'Enable the app after installing it'),
  ];
  openDialog({
    title: `Install ${listing.name} ${listing.version}`,
    testid: 'permission-dialog',
    body,
    actions: [{
      label: 'Install',
      kind: 'primary',
      testid: 'install-confirm',
      onClick: async ({ close }) => {
        const granted = choices.filter((c) => c.granted()).map((c) => c.name);
        const res = await env.api('POST', '/api/apps', {
          appId: listing.id, version: listing.version, permissionsGranted: granted, enable: enable.checked,
        });
        close();
        const app = res.app;
        if (enable.checked && !app.enabled) {
          env.notify(`${app.name} was installed but not enabled: ${app.statusReason || app.status}`, 'error');
        } else {
          env.notify(`${app.name} ${app.version} installed${app.enabled ? ' and enabled' : ''}.`);
        }
        if (onDone) onDone(app);
      },
    }],
  });
}

/**
 * Shows what changes in the permissions from the installed `app` to the package
 * `listing`, lets the admin grant what is new, and updates.
 */
export function openUpdateDialog(env, app, listing, onDone) {
  const oldNames = (app.permissions || []).map((p) => p.name);
  const granted = app.permissionsGranted || [];
  const next = listing.permissions || [];
  const nextNames = next.map((p) => p.name);
  // New to the app, or now required but declined before: the admin decides.
  const decide = next.filter((p) => !oldNames.includes(p.name) || (p.required && !granted.includes(p.name)));
  const removed = (app.permissions || []).filter((p) => !nextNames.includes(p.name));
  const hostChanges = next.filter((p) => {
    const old = (app.permissions || []).find((o) => o.name === p.name);
    return old && JSON.stringify([...(old.hosts || [])].sort()) !== JSON.stringify([...(p.hosts || [])].sort());
  });
  const choices = decide.map(permissionChoice);
  const body = [
    h('p', {}, `Update ${app.name} from ${app.version} to ${listing.version}. Its settings, data and jobs are kept.`),
    listing.signed ? null : h('p', { class: 'admin-warn' }, 'The new package is not signed by a trusted publisher.'),
    choices.length ? [
      h('h3', {}, 'New permissions'),
      h('ul', { class: 'admin-perms', testid: 'update-added' }, choices.map((c) => c.item)),
    ] : null,
    removed.length ? [
      h('h3', {}, 'No longer asked for'),
      h('ul', { class: 'admin-perms', testid: 'update-removed' },
        removed.map((p) => h('li', { class: 'admin-perm' }, h('code', {}, p.name), h('p', {}, explain(p))))),
    ] : null,
    hostChanges.length ? [
      h('h3', {}, 'Changed network hosts'),
      h('ul', { class: 'admin-perms', testid: 'update-hosts' }, hostChanges.map((p) => {
        const old = app.permissions.find((o) => o.name === p.name);
        return h('li', { class: 'admin-perm' }, h('code', {}, p.name),
          h('p', {}, `Now: ${(p.hosts || []).join(', ') || 'none'}`),
          h('p', { class: 'admin-muted' }, `Before: ${(old.hosts || []).join(', ') || 'none'}`));
      })),
    ] : null,
    !choices.length && !removed.length && !hostChanges.length
      ? h('p', { testid: 'update-unchanged' }, 'It asks for the same permissions as the installed version.') : null,
  ];
  openDialog({
    title: `Update ${app.name}`,
    testid: 'update-dialog',
    body,
    actions: [{
      label: `Update to ${listing.version}`,
      kind: 'primary',
      testid: 'update-confirm',
      onClick: async ({ close }) => {
        const keep = granted.filter((n) => nextNames.includes(n) && !decide.some((p) => p.name === n));
        const grant = [...keep, ...choices.filter((c) => c.granted()).map((c) => c.name)];
        const res = await env.api('POST', `/api/apps/${enc(app.id)}/update`, {
          appId: app.id, version: listing.version, permissionsGranted: grant,
        });
        close();
        const diff = res.permissionDiff || { added: [], removed: [] };
        const parts = [];
        if (diff.added && diff.added.length) parts.push(`added ${diff.added.join(', ')}`);
        if (diff.removed && diff.removed.length) parts.push(`removed ${diff.removed.join(', ')}`);
        env.notify(`${res.app.name} updated to ${res.app.version}${parts.length ? ` (permissions: ${parts.join('; ')})` : ''}.`);
        if (onDone) onDone(res.app);
      },
    }],
  });
}

/** Asks, then uninstalls `app`. Resolves true when it was removed. */
export async function uninstallApp(env, app) {
  const yes = await confirmDialog({
    title: `Uninstall ${app.name}?`,
    message: `${app.name} and everything it owns go: its commands, endpoints, jobs, settings, `
      + 'stored data, files and its bot user. This cannot be undone.',
    confirmLabel: 'Uninstall',
    testid: 'uninstall-dialog',
  });
  if (!yes) return false;
  try {
    await env.api('DELETE', `/api/apps/${enc(app.id)}`);
    env.notify(`${app.name} was uninstalled.`);
    return true;
  } catch (e) {
    env.notify(`Could not uninstall ${app.name}: ${e.message}`, 'error');
    return false;
  }
}

/** Enables or disables `app`; resolves with `{status, statusReason}` or null on error. */
export async function setEnabled(env, app, enable) {
  try {
    const res = await env.api('POST', `/api/apps/${enc(app.id)}/status`, {
      status: enable ? 'manually_enabled' : 'manually_disabled',
    });
    const on = res.status === 'manually_enabled' || res.status === 'auto_enabled';
    if (enable && !on) env.notify(`${app.name} could not be enabled: ${res.statusReason || res.status}`, 'error');
    else env.notify(`${app.name} is ${on ? 'enabled' : 'disabled'}.`);
    return res;
  } catch (e) {
    env.notify(`Could not ${enable ? 'enable' : 'disable'} ${app.name}: ${e.message}`, 'error');
    return null;
  }
}

function authorLine(author) {
  if (!author) return null;
  const bits = [h('span', {}, `by ${author.name || 'an unknown author'}`)];
  if (author.homepage) bits.push(' · ', safeLink(author.homepage, 'homepage'));
  if (author.support) {
    const support = String(author.support);
    bits.push(' · ', support.includes('@') && !support.includes(':')
      ? safeLink(`mailto:${support}`, support) : safeLink(support, 'support'));
  }
  return h('p', { class: 'admin-muted' }, bits);
}

function marketCard(env, listing, installed, reload) {
  const current = installed.find((a) => a.id === listing.id);
  const badges = [
    h('span', { class: `admin-badge ${listing.signed ? 'admin-badge-ok' : 'admin-badge-off'}`, testid: 'market-signed' },
      listing.signed ? 'Signed' : 'Unsigned'),
    listing.valid ? null : h('span', { class: 'admin-badge admin-badge-bad' }, 'Invalid'),
    current ? h('span', { class: 'admin-badge admin-badge-ok' }, `Installed ${current.version}`) : null,
  ];
  let action = null;
  if (listing.valid && !current) {
    action = h('button', {
      type: 'button', class: 'primary', testid: 'market-install',
      on: { click: () => openInstallDialog(env, listing, (app) => env.navigate(appHash(app.id, 'settings'))) },
    }, 'Install…');
  } else if (listing.valid && current && compareVersions(listing.version, current.version) > 0) {
    action = h('button', {
      type: 'button', class: 'primary', testid: 'market-update',
      on: { click: () => openUpdateDialog(env, current, listing, reload) },
    }, `Update to ${listing.version}…`);
  } else if (current) {
    action = h('a', { href: appHash(current.id), testid: 'market-manage' }, 'Manage');
  }
  const perms = listing.permissions || [];
  const commands = listing.commands || [];
  return h('li', { class: 'admin-card', testid: 'market-app', dataset: { appId: listing.id || '', version: listing.version || '', file: listing.file } },
    h('div', { class: 'admin-card-head' },
      h('h3', {}, listing.name || listing.file, listing.version ? h('span', { class: 'admin-version' }, ` ${listing.version}`) : null),
      h('div', { class: 'admin-badges' }, badges)),
    authorLine(listing.author),
    listing.description ? h('p', {}, listing.description) : null,
    listing.error ? h('p', { class: 'error-text', testid: 'market-error' }, `Cannot be installed: ${listing.error}`) : null,
    perms.length ? h('details', { class: 'admin-card-perms', open: true },
      h('summary', {}, `Permissions (${perms.length})`),
      h('ul', { class: 'admin-perms' }, perms.map((p) => h('li', { class: 'admin-perm', dataset: { permission: p.name } },
        h('code', {}, p.name), ' ',
        h('span', { class: `admin-tag ${p.required ? 'admin-tag-required' : 'admin-tag-optional'}` }, p.required ? 'required' : 'optional'),
        permissionInfo(p))))) : (listing.valid ? h('p', { class: 'admin-muted' }, 'Asks for no permissions.') : null),
    commands.length ? h('p', { class: 'admin-muted' }, 'Commands: ',
      commands.map((c, i) => [i ? ', ' : '', h('code', {}, `/${c.name}${c.params ? ` ${c.params}` : ''}`)])) : null,
    h('p', { class: 'admin-muted admin-file' }, `${listing.file}`, listing.sha256 ? ` · sha256 ${listing.sha256.slice(0, 12)}…` : ''),
    action ? h('div', { class: 'admin-card-actions' }, action) : null);
}

/** The marketplace tab. */
export function marketplaceView(el, env) {
  let alive = true;
  async function load() {
    replace(el, h('h2', {}, 'Marketplace'), loading());
    try {
      const [market, installed] = await Promise.all([
        env.api('GET', '/api/apps/marketplace'),
        env.api('GET', '/api/apps'),
      ]);
      if (!alive) return;
      const listings = market.apps || [];
      replace(el,
        h('div', { class: 'admin-head' },
          h('h2', {}, 'Marketplace'),
          h('button', { type: 'button', testid: 'market-refresh', on: { click: load } }, 'Refresh')),
        h('p', { class: 'admin-muted' }, 'The app packages in this server\'s marketplace folder.'),
        listings.length
          ? h('ul', { class: 'admin-cards', testid: 'market-list' }, listings.map((l) => marketCard(env, l, installed.apps || [], load)))
          : h('p', { testid: 'market-empty' }, 'The marketplace folder is empty: put app packages (.zip) in it.'));
    } catch (e) {
      if (alive) replace(el, h('h2', {}, 'Marketplace'), loadError(e, load));
    }
  }
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

function installedRow(env, app, listings, reload) {
  const update = newerListing(listings, app.id, app.version);
  const toggle = h('button', {
    type: 'button', testid: 'row-toggle',
    on: {
      click: async () => {
        toggle.disabled = true;
        await setEnabled(env, app, !app.enabled);
        reload();
      },
    },
  }, app.enabled ? 'Disable' : 'Enable');
  return h('tr', { testid: 'installed-app', dataset: { appId: app.id, status: app.status } },
    h('td', {}, h('a', { href: appHash(app.id), testid: 'row-open' }, app.name),
      h('div', { class: 'admin-muted' }, app.description || '')),
    h('td', {}, app.version),
    h('td', {}, statusBadge(app.status, 'row-status'),
      app.statusReason ? h('div', { class: 'admin-reason', testid: 'row-reason' }, app.statusReason) : null),
    h('td', {}, h('div', { class: 'admin-actions' },
      toggle,
      h('a', { href: appHash(app.id, 'settings'), class: 'admin-button-link' }, 'Settings'),
      h('a', { href: appHash(app.id, 'logs'), class: 'admin-button-link' }, 'Logs'),
      update ? h('button', {
        type: 'button', testid: 'row-update',
        on: { click: () => openUpdateDialog(env, app, update, reload) },
      }, `Update to ${update.version}…`) : null,
      h('button', {
        type: 'button', class: 'danger', testid: 'row-uninstall',
        on: { click: async () => { if (await uninstallApp(env, app)) reload(); } },
      }, 'Uninstall'))));
}

/** The installed apps tab. */
export function installedView(el, env) {
  let alive = true;
  async function load() {
    if (!el.firstChild) replace(el, h('h2', {}, 'Installed apps'), loading());
    try {
      const [installed, market] = await Promise.all([
        env.api('GET', '/api/apps'),
        env.api('GET', '/api/apps/marketplace').catch(() => ({ apps: [] })),
      ]);
      if (!alive) return;
      const apps = installed.apps || [];
      replace(el,
        h('div', { class: 'admin-head' },
          h('h2', {}, 'Installed apps'),
          h('button', { type: 'button', testid: 'installed-refresh', on: { click: load } }, 'Refresh')),
        apps.length
          ? h('div', { class: 'admin-table-wrap' }, h('table', { testid: 'installed-table' },
            h('thead', {}, h('tr', {}, ['App', 'Version', 'Status', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, apps.map((a) => installedRow(env, a, market.apps || [], load)))))
          : h('p', { testid: 'installed-empty' }, 'No apps are installed. ',
            h('a', { href: '#/admin/apps/marketplace' }, 'Browse the marketplace'), '.'));
    } catch (e) {
      if (alive) replace(el, h('h2', {}, 'Installed apps'), loadError(e, load));
    }
  }
  load();
  return { refresh: load, dispose: () => { alive = false; } };
}

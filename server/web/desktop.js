// Rocket.Chat's desktop app (Rocket.Chat.Electron) injects a script into the page
// that looks for the old Meteor web client's module loader (`window.require`) and,
// when it stays missing for ~30 s, force-reloads the page, again and again. This
// module gives it the few modules it reads, so the desktop app shows Palaver with
// its name, icon, unread badge and login state: the server version, a small
// reactive `Tracker`, `settings` (Site_Name, Assets_favicon), `Meteor` (user,
// absolute URLs, method calls for auto-away) and `Session.get('unread')`; the
// badge is also announced with the `unread-changed` window event newer versions
// listen to.

const state = { version: '6.13.0', siteName: 'Palaver', userId: null, user: null, unread: '', call: null };
const computations = new Set();

/** Re-runs every autorun: the values are few and cheap to read. */
function changed() {
  for (const fn of computations) {
    try { fn(); } catch (err) { console.warn('desktop autorun failed', err); }
  }
}

const Tracker = {
  autorun(fn) {
    computations.add(fn);
    fn();
    return { stop: () => computations.delete(fn) };
  },
};

const absoluteUrl = (path = '') => `${location.origin}/${String(path).replace(/^\/+/, '')}`;

const settingsModule = {
  settings: {
    get(id) {
      if (id === 'Site_Name') return state.siteName;
      if (id === 'Assets_favicon') return { defaultUrl: absoluteUrl('assets/favicon.svg') };
      return undefined;
    },
  },
};
const utilsModule = { getUserPreference: () => undefined };

const MODULES = {
  '/app/utils/rocketchat.info': () => ({ Info: { version: state.version } }),
  'meteor/meteor': () => ({
    Meteor: {
      absoluteUrl,
      userId: () => state.userId,
      user: () => state.user,
      call: (name, ...args) => {
        const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
        const done = state.call ? state.call(name, args) : Promise.reject(new Error('not connected'));
        done.then((r) => cb?.(undefined, r), (e) => cb?.(e));
      },
    },
  }),
  'meteor/session': () => ({ Session: { get: (key) => (key === 'unread' ? state.unread : undefined) } }),
  'meteor/tracker': () => ({ Tracker }),
  '/app/settings': () => settingsModule,
  '/app/settings/client/index.ts': () => settingsModule,
  '/app/utils': () => utilsModule,
  '/app/utils/client/index.ts': () => utilsModule,
  'meteor/rocketchat:user-presence': () => ({ UserPresence: { start() {} } }),
  'meteor/konecty:user-presence': () => ({ UserPresence: { start() {} } }),
};

if (typeof window.require !== 'function') {
  window.require = (path) => {
    const make = MODULES[path];
    if (!make) throw new Error(`Cannot find module '${path}'`);
    return make();
  };
}

/** Updates what the desktop app sees: `{version, siteName, user, unread, call}`. */
export function setDesktopState(patch) {
  Object.assign(state, patch);
  if ('user' in patch) state.userId = patch.user ? patch.user._id : null;
  if ('unread' in patch) {
    window.dispatchEvent(new CustomEvent('unread-changed', { detail: Number(patch.unread) || 0 }));
  }
  changed();
}

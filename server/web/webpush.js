// Notifications for people who are not looking: a clear "Enable notifications"
// control (permission is never asked on page load) that registers the service
// worker, subscribes with the server's VAPID key and sends the subscription to the
// server (Web Push, for when no tab is open); while a tab is open but hidden the
// page shows notifications itself.

import { h } from './dom.js';

const supported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** Registers the worker, subscribes, and hands the subscription to the server. */
export async function enableWebPush(api) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications were not allowed.');
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  await navigator.serviceWorker.ready;
  const { publicKey } = await api('GET', '/api/v1/push.webKey');
  let sub = await registration.pushManager.getSubscription();
  if (!sub) {
    sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
  }
  await api('POST', '/api/v1/push.webSubscription', sub.toJSON());
  return sub;
}

/** The "Enable notifications" button; it disappears once notifications are on. */
export function webPushControl(api, announce) {
  const status = h('span', { class: 'push-status', testid: 'push-status', attrs: { role: 'status' } });
  const button = h('button', {
    type: 'button', class: 'icon', text: '🔔 Enable notifications', testid: 'enable-notifications',
    on: {
      click: async () => {
        button.disabled = true;
        try {
          await enableWebPush(api);
          button.hidden = true;
          status.textContent = 'Notifications on';
          announce('Notifications are on.');
        } catch (err) {
          button.disabled = false;
          status.textContent = err.message || 'Notifications could not be enabled.';
          announce(status.textContent, 'error');
        }
      },
    },
  });
  if (!supported()) {
    button.hidden = true;
  } else if (Notification.permission === 'granted') {
    // Already allowed: keep the server's copy of the subscription current, quietly.
    enableWebPush(api).then(() => { button.hidden = true; status.textContent = 'Notifications on'; }).catch(() => {});
  }
  return h('span', { class: 'push-control' }, button, status);
}

/** Shows a realtime notification while the page is hidden; a click opens the room. */
export function notifyIfHidden(n, openRoom) {
  if (!n || !document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const rid = n.payload && n.payload.rid;
  const note = new Notification(n.title || 'Palaver', { body: n.text || '', tag: rid ? `room-${rid}` : undefined, icon: '/assets/favicon.svg' });
  note.onclick = () => {
    window.focus();
    if (rid) openRoom(rid);
    note.close();
  };
}

/** Clicks on Web Push notifications arrive from the service worker. */
export function onWorkerOpenRoom(openRoom) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (ev) => {
    if (ev.data && ev.data.type === 'open-room' && ev.data.rid) openRoom(ev.data.rid);
  });
}

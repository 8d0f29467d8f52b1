// Palaver's service worker: shows Web Push notifications (sent by the server,
// encrypted for this browser) while no Palaver tab is open, and opens the room when
// one is clicked.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  const title = data.title || 'Palaver';
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || '',
    tag: data.tag || undefined,
    icon: '/assets/favicon.svg',
    data: { url: data.url || '/', rid: data.rid || null },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const { url, rid } = event.notification.data || {};
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
    if (open) {
      await open.focus();
      open.postMessage({ type: 'open-room', rid });
      return;
    }
    await self.clients.openWindow(url || '/');
  })());
});

// Realtime client: Rocket.Chat's DDP over the websocket at /websocket.
// Reconnects with backoff, logs in again and renews every stream subscription, so
// callers subscribe once and keep receiving. It logs in with `{cookie: true}`: the
// server takes the HttpOnly session cookie the websocket upgrade carried.

export class Ddp extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // method id → {resolve, reject}
    this.subs = new Map(); // sub id → {name, params, handler}
    this.closed = false;
    this.connected = false;
    this.backoff = 500;
    this.queue = [];
  }

  start() {
    this.closed = false;
    this.open();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
    for (const { reject } of this.pending.values()) reject(new Error('Disconnected'));
    this.pending.clear();
  }

  open() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/websocket`);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.raw({ msg: 'connect', version: '1', support: ['1', 'pre2', 'pre1'] });
    });
    ws.addEventListener('message', (ev) => this.onFrame(ev.data));
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasConnected = this.connected;
      this.connected = false;
      for (const { reject } of this.pending.values()) reject(new Error('The connection was lost'));
      this.pending.clear();
      if (wasConnected) this.emit('status', { connected: false });
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  async onConnected() {
    try {
      await this.send('login', [{ cookie: true }]);
    } catch (e) {
      const refused = String(e.errorType) === '403' || e.errorType === 'error-user-is-not-activated';
      if (refused) {
        // The token is no good any more (logged out elsewhere, expired, deactivated).
        this.stop();
        this.emit('login-failed', { error: e });
      } else if (this.ws) {
        this.ws.close(); // rate limited or a server error: reconnect with backoff
      }
      return;
    }
    this.connected = true;
    this.backoff = 500;
    for (const [id, sub] of this.subs) this.raw({ msg: 'sub', id, name: sub.name, params: sub.params });
    const queued = this.queue.splice(0);
    for (const frame of queued) this.raw(frame);
    this.emit('status', { connected: true });
  }

  onFrame(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    switch (m.msg) {
      case 'connected':
        this.onConnected();
        break;
      case 'ping':
        this.raw(m.id ? { msg: 'pong', id: m.id } : { msg: 'pong' });
        break;
      case 'result': {
        const p = this.pending.get(m.id);
        if (!p) break;
        this.pending.delete(m.id);
        if (m.error) {
          const err = new Error(m.error.reason || m.error.message || String(m.error.error));
          err.errorType = m.error.error;
          p.reject(err);
        } else p.resolve(m.result);
        break;
      }
      case 'changed': {
        const fields = m.fields || {};
        for (const sub of this.subs.values()) {
          if (sub.name === m.collection && sub.params[0] === fields.eventName) sub.handler(fields.args || []);
        }
        break;
      }
      case 'nosub': {
        const sub = this.subs.get(m.id);
        if (sub && sub.onEnd) sub.onEnd(m.error);
        this.subs.delete(m.id);
        break;
      }
      default:
        break;
    }
  }

  /** Calls a method before login completes (only `login` itself). */
  send(method, params) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.raw({ msg: 'method', id, method, params });
    });
  }

  /** Calls a method once logged in (queued until then). */
  call(method, params = []) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const frame = { msg: 'method', id, method, params };
      if (this.connected) this.raw(frame);
      else this.queue.push(frame);
    });
  }

  /** Subscribes to a stream event; `handler(args)` gets each event's args. Returns unsubscribe. */
  subscribe(name, eventName, handler, onEnd) {
    const id = `s${this.nextId++}`;
    const sub = { name, params: [eventName, false], handler, onEnd };
    this.subs.set(id, sub);
    if (this.connected) this.raw({ msg: 'sub', id, name, params: sub.params });
    return () => {
      if (this.subs.delete(id)) this.raw({ msg: 'unsub', id });
    };
  }
}

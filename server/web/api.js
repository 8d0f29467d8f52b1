// REST client for the public APIs (/api/v1/* and /api/apps/*), Rocket.Chat style:
// X-User-Id / X-Auth-Token headers, JSON envelopes, errors in `error`/`errorType`.

const SESSION_KEY = 'palaver.session';

/** The stored session `{userId, authToken}`, or null. */
export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.userId === 'string' && typeof s.authToken === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify({ userId: session.userId, authToken: session.authToken }));
  else localStorage.removeItem(SESSION_KEY);
}

/** An Error carrying the server's message, `errorType` and HTTP `status`. */
export class ApiError extends Error {
  constructor(message, errorType, status, body) {
    super(message);
    this.name = 'ApiError';
    this.errorType = errorType;
    this.status = status;
    this.body = body;
  }
}

function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Makes `api(method, path, body?)`: resolves with the parsed JSON, rejects with an
 * ApiError. For GET, `body` (an object) becomes the query string. A FormData body
 * is sent as is (multipart). `onUnauthorized` runs when a logged-in call gets 401.
 */
export function createApi(getSession, onUnauthorized) {
  return async function api(method, path, body) {
    method = method.toUpperCase();
    const headers = { Accept: 'application/json' };
    const session = getSession();
    if (session) {
      headers['X-User-Id'] = session.userId;
      headers['X-Auth-Token'] = session.authToken;
    }
    let url = path;
    const init = { method, headers, credentials: 'same-origin' };
    if (method === 'GET' || method === 'HEAD') {
      const qs = body ? queryString(body) : '';
      if (qs) url += url.includes('?') ? `&${qs.slice(1)}` : qs;
    } else if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(url, init);
    } catch (e) {
      throw new ApiError('Cannot reach the server. Check your connection.', 'network-error', 0, null);
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { error: text };
      }
    }
    const failed = !resp.ok || (data && (data.success === false || data.status === 'error'));
    if (failed) {
      const errorType = (data && data.errorType) || (resp.status === 401 ? 'unauthorized' : 'error');
      let message = String((data && (data.error || data.message || data.reason)) || `${resp.status} ${resp.statusText}`);
      // Rocket.Chat appends the error type in brackets; people need only the sentence.
      if (message.endsWith(` [${errorType}]`)) message = message.slice(0, -(errorType.length + 3));
      if (resp.status === 401 && session && onUnauthorized && !path.endsWith('/login')) onUnauthorized();
      throw new ApiError(message, errorType, resp.status, data);
    }
    return data;
  };
}

/** Logs in with a username or e-mail and password; returns `{userId, authToken, me}`. */
export async function login(api, user, password) {
  const res = await api('POST', '/api/v1/login', { user, password });
  return res.data;
}

// REST client for the public APIs (/api/v1/* and /api/apps/*), Rocket.Chat style:
// JSON envelopes, errors in `error`/`errorType`. The session is an HttpOnly cookie
// the server sets at login: no token is ever kept where a script could read it.

/** Removes what older versions of the client kept in localStorage (the token). */
export function forgetStoredToken() {
  try {
    localStorage.removeItem('palaver.session');
  } catch {
    // Storage disabled: nothing was kept either.
  }
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
  return async function api(method, path, body, extraHeaders) {
    method = method.toUpperCase();
    // The session cookie goes along by itself; this header shows the server the
    // request comes from this page (a cross-site form cannot add it).
    const headers = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest', ...extraHeaders };
    const session = getSession();
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

/**
 * Logs in with a username or e-mail and password; the server sets the session
 * cookie and answers `{userId, me}` (no token).
 */
export async function login(api, user, password) {
  const res = await api('POST', '/api/v1/login', { user, password }, { 'X-Palaver-Session': 'cookie' });
  return res.data;
}

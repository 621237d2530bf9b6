// The dashboard's HTTP client for /admin/api/* (see the dashboard API contract): JSON in and out, the
// X-CSRF-Token header on every request that changes something, and one polite message per failure.
import { str } from './admin-util.js';

/** ApiError is a failed request: status 0 for a network error, the contract's code and a safe message. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs = 0, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.body = body;
    /** field names the form field the hub found wrong, when it says so. */
    this.field = body && body.error && typeof body.error.field === 'string' ? body.error.field : '';
  }
}

const CODE_FOR_STATUS = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  410: 'gone', 429: 'rate_limited', 503: 'unavailable',
};

/** retryText says when to try again: "in 12 s", "in 2 min". */
export function retryText(ms) {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s < 120 ? `in ${s} s` : `in ${Math.ceil(s / 60)} min`;
}

// politeMessage turns a failure into a sentence for the streamer.
function politeMessage(status, code, message, retryAfterMs) {
  switch (code) {
    case 'network':
      return "Can't reach the hub. Check the connection and try again.";
    case 'unauthorized':
      return message || 'You are not logged in.';
    case 'forbidden':
      return message ? `Not allowed: ${message}` : 'Your role may not do that.';
    case 'csrf':
      return 'The page was out of date. Please try again.';
    case 'rate_limited':
      return `Too many requests. Try again ${retryText(retryAfterMs || 1000)}.`;
    case 'unavailable':
      return message ? `Not available right now: ${message}` : 'Not available right now. Try again later.';
    case 'internal':
      return message ? `The hub had a problem: ${message}` : 'The hub had a problem. Try again.';
    default:
      if (message) return message;
      return status >= 500 ? `The hub answered HTTP ${status}. Try again.` : `The hub refused that (HTTP ${status}).`;
  }
}

/**
 * createApi returns the client. onUnauthorized(err) runs when a request answers 401 while logged in (the
 * session expired); it does not run for login attempts.
 */
export function createApi({ onUnauthorized }) {
  let csrf = '';
  let loggedIn = false;

  async function send(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'network', politeMessage(0, 'network', '', 0));
    }
    let data = null;
    try {
      data = await resp.json();
    } catch {
      data = null;
    }
    if (resp.ok && data && data.ok === true) return data;
    const e = (data && data.error) || {};
    const code = str(e.code) || CODE_FOR_STATUS[resp.status] || (resp.ok ? 'internal' : resp.status >= 500 ? 'internal' : 'bad_request');
    let retry = Number(e.retryAfterMs) || Number(data && data.retryAfterMs) || 0;
    if (!retry && resp.headers.get('Retry-After')) retry = (Number(resp.headers.get('Retry-After')) || 0) * 1000;
    return Promise.reject(new ApiError(resp.status, code, politeMessage(resp.status, code, str(e.message), retry), retry, data));
  }

  // refreshCsrf asks /me for a fresh token: the session's, or the login form's when logged out.
  async function refreshCsrf() {
    try {
      const me = await send('GET', '/admin/api/me');
      csrf = str(me.csrf);
    } catch (err) {
      if (err.status === 401 && err.body) csrf = str(err.body.loginCsrf);
    }
  }

  async function request(method, path, body, { auth = true } = {}) {
    try {
      return await send(method, path, body);
    } catch (err) {
      if (err.code === 'csrf') {
        // A stale token (another tab logged in or out): fetch a fresh one and try once more.
        await refreshCsrf();
        try {
          return await send(method, path, body);
        } catch (again) {
          err = again;
        }
      }
      if (err.status === 401 && auth) {
        // The session ended: the login form takes over, so callers need not show this error.
        err.sessionEnded = true;
        if (loggedIn) {
          loggedIn = false;
          onUnauthorized(err);
        }
      }
      throw err;
    }
  }

  return {
    /** setSession records the CSRF token and whether a session is open. */
    setSession(token, isLoggedIn) {
      csrf = str(token);
      loggedIn = !!isLoggedIn;
    },
    /** me asks who is logged in; it resolves with the body of 200 or 401 alike. */
    async me() {
      try {
        return await send('GET', '/admin/api/me');
      } catch (err) {
        if (err.status === 401 && err.body) return err.body;
        throw err;
      }
    },
    get: (path) => request('GET', path),
    post: (path, body = {}) => request('POST', path, body),
    put: (path, body) => request('PUT', path, body),
    del: (path) => request('DELETE', path),
    /** login and setup are posted with the login form's token and never count as an expired session. */
    login: (path, body) => request('POST', path, body, { auth: false }),
  };
}

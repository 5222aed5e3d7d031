// The HTTP client of the cloud API (/api/v1): JSON in and out, the access token attached, and the
// login kept alive. The access token lives only in memory; the refresh token in localStorage, so
// a reload keeps the login. A refresh token is single-use (a spent one used again ends the whole
// login), so refreshes never run twice at once, not even in two tabs (a Web Lock around reading,
// spending and storing it).

const BASE = '/api/v1';
const REFRESH_KEY = 'smartev.refresh';
// Refresh this long before the access token expires (it lives 15 minutes).
const REFRESH_MARGIN_S = 60;

export class ApiError extends Error {
  /** ``status`` 0: the server could not be reached. ``body``: the parsed answer, if any. */
  constructor(status, message, body = null, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** The server's ``detail`` in words: a string as it is, a 422 list as its joined messages. */
export function readableDetail(body, status) {
  const detail = body && body.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((e) => {
        const field = Array.isArray(e.loc) ? e.loc.filter((p) => p !== 'body').join('.') : '';
        return field && !String(e.msg).includes(field) ? `${field}: ${e.msg}` : String(e.msg);
      })
      .join('; ');
  }
  return status ? `The server answered ${status}.` : 'The server did not answer.';
}

function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) q.append(k, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

async function withRefreshLock(fn) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request('smartev-refresh', fn);
  }
  return fn();
}

/**
 * The API client. ``onSessionExpired()`` is called once when the login cannot be renewed (the
 * refresh token was refused): the app then shows the login.
 */
export function createApi({ onSessionExpired } = {}) {
  let accessToken = null;
  let refreshTimer = null;
  let refreshing = null; // the refresh in flight, shared by everyone who needs it
  const tokenListeners = new Set();

  function storedRefresh() {
    try {
      return localStorage.getItem(REFRESH_KEY);
    } catch {
      return null;
    }
  }

  function storeRefresh(token) {
    try {
      if (token) localStorage.setItem(REFRESH_KEY, token);
      else localStorage.removeItem(REFRESH_KEY);
    } catch {
      // storage disabled: the login lasts as long as the page
    }
  }

  function useTokens(tokens) {
    accessToken = tokens.access_token;
    storeRefresh(tokens.refresh_token);
    clearTimeout(refreshTimer);
    const inS = Math.max(5, (tokens.expires_in || 900) - REFRESH_MARGIN_S);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), inS * 1000);
    for (const fn of tokenListeners) fn(accessToken);
  }

  function forget() {
    accessToken = null;
    clearTimeout(refreshTimer);
    storeRefresh(null);
  }

  async function raw(method, path, body, token) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'Cannot reach the server: check the connection and try again.');
    }
    const parsed = await parse(response);
    if (!response.ok) {
      const retry = Number(response.headers.get('Retry-After'));
      throw new ApiError(
        response.status,
        readableDetail(parsed, response.status),
        parsed,
        Number.isFinite(retry) && retry > 0 ? retry : null,
      );
    }
    return parsed;
  }

  /** Swap the stored refresh token for a new pair; an ApiError(401) when the login is over. */
  function refresh() {
    if (!refreshing) {
      refreshing = withRefreshLock(async () => {
        const token = storedRefresh(); // read under the lock: another tab may have swapped it
        if (!token) throw new ApiError(401, 'Not logged in.');
        try {
          useTokens(await raw('POST', '/auth/refresh', { refresh_token: token }));
        } catch (err) {
          if (err.status === 401 || err.status === 422) {
            forget();
            if (onSessionExpired) onSessionExpired();
          }
          throw err;
        }
        return accessToken;
      }).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function request(method, path, body) {
    if (!accessToken && storedRefresh()) await refresh();
    const used = accessToken;
    try {
      return await raw(method, path, body, used);
    } catch (err) {
      if (err.status !== 401 || !storedRefresh()) throw err;
    }
    // Once: an expired access token (unless another request renewed it meanwhile); a refused
    // refresh ends the session.
    if (accessToken === used) await refresh();
    return raw(method, path, body, accessToken);
  }

  return {
    get: (path, params) => request('GET', path + query(params)),
    post: (path, body) => request('POST', path, body === undefined ? {} : body),
    put: (path, body) => request('PUT', path, body),
    patch: (path, body) => request('PATCH', path, body),
    del: (path) => request('DELETE', path),

    /** Log in; throws ApiError (401 wrong credentials, 429 with ``retryAfter``). */
    async login(email, password) {
      useTokens(await raw('POST', '/auth/login', { email, password }));
    },
    /** End the login on the server (best effort) and forget it here. */
    async logout() {
      const token = accessToken;
      forget();
      if (token) {
        try {
          await raw('POST', '/auth/logout', undefined, token);
        } catch {
          // already over on the server, or unreachable: it is forgotten here either way
        }
      }
    },
    refresh,
    hasSession: () => Boolean(accessToken || storedRefresh()),
    /** A current access token (refreshed first when there is none in memory). */
    async token() {
      if (!accessToken) await refresh();
      return accessToken;
    },
    /** ``fn(token)`` after every new access token; returns the unsubscribe function. */
    onToken(fn) {
      tokenListeners.add(fn);
      return () => tokenListeners.delete(fn);
    },
  };
}

// The REST API as the console calls it: the session cookie goes along by itself (same origin),
// and every change carries the session's CSRF token.
let current = null;

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || '';
    this.field = error.field || '';
    this.details = error.details || [];
  }
}

// The signed-in user ({user, roles, csrf_token}); sends the browser to sign in when there is none.
export async function session() {
  if (current) return current;
  const response = await fetch('/console/session', { headers: { Accept: 'application/json' } });
  if (response.status === 401) {
    window.location.assign('/console/sign-in.html');
    throw new ApiError(401, null);
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  current = await response.json();
  return current;
}

export function hasRole(s, ...roles) {
  return roles.some((role) => s.roles.includes(role));
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = (await session()).csrf_token;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (response.status === 401) {
    window.location.assign('/console/sign-in.html');
    throw new ApiError(401, null);
  }
  const type = response.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : null);
  return data;
}

export async function signOut() {
  await api('DELETE', '/console/session');
  current = null;
  window.location.assign('/console/sign-in.html');
}

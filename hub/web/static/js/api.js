// The JSON API client. Same-origin fetch with the session cookie; every
// mutating call carries the CSRF token from GET /api/v1/me as X-CSRF-Token.

let session = null;

export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign('/login?next=' + encodeURIComponent(next));
}

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session?.csrfToken) headers['X-CSRF-Token'] = session.csrfToken;
  const resp = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 401 && !opts.noRedirect) {
    toLogin();
    throw new APIError(401, 'unauthenticated', 'Your session has ended. Sign in again.');
  }
  if (resp.status === 204) return null;
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { raw: text }; }
  }
  if (!resp.ok) {
    const e = data?.error || {};
    throw new APIError(resp.status, e.code, e.message || resp.statusText, e.field);
  }
  return data;
}

export const get = (p) => api('GET', p);
export const post = (p, b = {}) => api('POST', p, b);
export const put = (p, b = {}) => api('PUT', p, b);
export const patch = (p, b = {}) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, v);
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export async function login(username, password) {
  session = await api('POST', '/api/v1/auth/login', { username, password }, { noRedirect: true });
  return session;
}

export async function me() {
  session = await api('GET', '/api/v1/me');
  return session;
}

export function current() { return session; }

export async function logout() {
  try { await api('POST', '/api/v1/auth/logout', {}, { noRedirect: true }); } finally { session = null; }
}

// can reports whether the signed-in user holds perm in tenant (any tenant
// when tenant is empty).
export function can(perm, tenant) {
  if (!session) return false;
  if (session.user?.networkAdmin) return true;
  return (session.memberships || []).some((m) =>
    (!tenant || m.tenantId === tenant) &&
    ((m.permissions || []).includes(perm) || (perm === 'scl.view' && (m.permissions || []).includes('scl.edit'))));
}

export function tenants() {
  if (session?.allTenants) return session.allTenants;
  return (session?.memberships || []).map((m) => ({ id: m.tenantId, name: m.tenantName }));
}

// loadTenants fills in every tenant for a network admin, who may work in
// tenants without a membership.
export async function loadTenants() {
  if (!session?.user?.networkAdmin) return;
  const r = await get('/api/v1/tenants');
  session.allTenants = (r.items || []).map((t) => ({ id: t.id, name: t.name }));
}

const TENANT_KEY = 'rebound.tenant';

// currentTenant is the account the topbar switcher points at (admin, booking,
// my calls); queues filter across all accounts unless one is chosen.
export function currentTenant() {
  const list = tenants();
  const saved = localStorage.getItem(TENANT_KEY);
  if (list.some((t) => t.id === saved)) return saved;
  return list[0]?.id || '';
}

export function setCurrentTenant(id) { localStorage.setItem(TENANT_KEY, id); }

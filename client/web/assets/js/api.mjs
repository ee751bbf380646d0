// Calls to the local server (docs/web-api.md). The session cookie is sent by the browser; no
// token is ever stored by the page. Errors become ApiError with the enclave's message and
// suggestions as the server sends them.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || '';
    this.suggestions = Array.isArray(error.suggestions) ? error.suggestions : [];
    this.body = body;
  }
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: { code: 'NETWORK', message: String(e && e.message) } });
  }
  const type = response.headers.get('Content-Type') || '';
  let parsed = null;
  if (type.includes('application/json')) {
    try { parsed = await response.json(); } catch { parsed = null; }
  } else {
    const text = await response.text();
    parsed = { error: { code: String(response.status), message: text.trim() } };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const api = {
  session: () => request('GET', '/api/session'),
  templates: () => request('GET', '/api/templates'),
  template: (id) => request('GET', `/api/templates/${encodeURIComponent(id)}`),
  run: (template, parameters) => request('POST', '/api/run', { template, parameters }),
  budget: () => request('GET', '/api/budget'),
  auditEntries: (query) => request('GET', `/api/audit/entries?${query}`),
};

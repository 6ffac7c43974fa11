/** The one REST helper and its error. */

import { API_BASE } from './state.js';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * The one REST helper: JSON in, JSON out, the session cookie included.
 * Throws ApiError with the server's {"error","code"} (status 0 = network).
 */
export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API_BASE + path, init);
  } catch {
    throw new ApiError(0, 'NETWORK_ERROR', 'Cannot reach the server. Check your connection and try again.');
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.error) || `The request failed (HTTP ${response.status}).`;
    const code = (data && data.code) || `HTTP_${response.status}`;
    throw new ApiError(response.status, code, message, response.headers.get('Retry-After'));
  }
  return data;
}

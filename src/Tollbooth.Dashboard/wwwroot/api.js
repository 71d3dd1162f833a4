// The dashboard reads only the public API, with the signed-in user's key: what the page shows is what
// the API answers to that key, so an advertiser key can never show another advertiser's numbers.

/** An API answer other than 2xx, with the API's own one-sentence message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A client bound to one key; get(path, params) answers the parsed JSON or throws ApiError. */
export function createApi(key) {
  async function get(path, params = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== '') {
        query.set(name, value);
      }
    }
    const url = query.size ? `${path}?${query}` : path;
    let response;
    try {
      response = await fetch(url, { headers: { 'X-Api-Key': key }, cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'Tollbooth did not answer: check that it is running and reload.');
    }
    if (response.ok) {
      return response.json();
    }
    let body = {};
    try {
      body = await response.json();
    } catch {
      // Not the API's error shape: fall back to a generic sentence below.
    }
    throw new ApiError(response.status, body.code ?? 'http_error', body.error ?? `Tollbooth answered ${response.status}: try again.`);
  }
  return { get, url: (path, params) => `${path}?${new URLSearchParams(params)}` };
}

// Requests to the inspector's endpoints under /ui/api/. The token travels as the page's
// cookie, so every request is same-origin with credentials; a POST carries this page's Origin.

// What a request answered: its status, and its JSON or the error it names.
export class Answer {
  constructor(status, json, error) {
    this.status = status;
    this.json = json;
    this.error = error;
  }
  get ok() {
    return this.status >= 200 && this.status < 300;
  }
}

const listeners = new Set();

// Calls `listener(state)` with 'online', 'offline' (no answer) or 'signed-out' (401).
export function on_connection(listener) {
  listeners.add(listener);
}

function report(state) {
  for (const listener of listeners) listener(state);
}

async function request(method, path) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: {Accept: 'application/json'},
    });
  } catch (failure) {
    report('offline');
    return new Answer(0, null, 'the receiver does not answer; is tykhook listen still running?');
  }
  report(response.status === 401 ? 'signed-out' : 'online');
  let json = null;
  try {
    json = await response.json();
  } catch (failure) {
    json = null;
  }
  const error = response.ok ? null : (json && json.error) || `HTTP ${response.status}`;
  return new Answer(response.status, json, error);
}

export function get_json(path) {
  return request('GET', path);
}

export function post(path) {
  return request('POST', path);
}

// The path of delivery `id`, with `action` (capture, retry) when given.
export function delivery_path(id, action) {
  const base = `/ui/api/deliveries/${encodeURIComponent(id)}`;
  return action ? `${base}/${action}` : base;
}

// Fetches the capture of delivery `id` and hands it to the browser as a download.
export async function download_capture(id) {
  let response;
  try {
    response = await fetch(delivery_path(id, 'capture'), {credentials: 'same-origin'});
  } catch (failure) {
    return 'the receiver does not answer; is tykhook listen still running?';
  }
  if (!response.ok) {
    const json = await response.json().catch(() => null);
    return (json && json.error) || `HTTP ${response.status}`;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = capture_name(id);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return null;
}

// The file name the receiver gives the capture of delivery `id`.
export function capture_name(id) {
  return `tykhook-delivery-${id}.json`;
}

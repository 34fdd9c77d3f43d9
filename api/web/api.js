// The page's only way to the server: the JSON API under /api/v1, with the session
// token from the login kept in sessionStorage (gone when the tab closes).

const TOKEN = "hlab.token";
const USER = "hlab.user";

export class ApiError extends Error {
  constructor(status, error, hint) {
    super(error);
    this.status = status;
    this.hint = hint || "";
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function currentUser() {
  const text = sessionStorage.getItem(USER);
  return text ? JSON.parse(text) : null;
}

export function remember(session) {
  sessionStorage.setItem(TOKEN, session.token);
  sessionStorage.setItem(USER, JSON.stringify(session.user));
}

export function forget() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(USER);
}

let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

function headers(extra = {}) {
  const found = { ...extra };
  const value = token();
  if (value) found.Authorization = `Bearer ${value}`;
  return found;
}

/** A request to the API; the decoded JSON answer, or an ApiError with its hint. */
export async function api(path, { method = "GET", body, raw = false, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let error = response.statusText;
    let hint = "";
    try {
      const envelope = await response.json();
      error = envelope.error || error;
      hint = envelope.hint || "";
    } catch {
      // not the API's envelope: keep the status text
    }
    if (response.status === 401 && path !== "/api/v1/login") onUnauthorized();
    throw new ApiError(response.status, error, hint);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Follow an operation's progress (server-sent events, read through fetch so that the
 * token goes in a header). Calls onEvent(event) for each progress line; resolves with
 * the operation as it ended.
 */
export async function follow(operation, onEvent, signal) {
  let after = 0;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const extra = after ? { "Last-Event-ID": String(after) } : {};
    let response;
    try {
      response = await fetch(operation.events_url, { headers: headers(extra), signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, response.statusText, "");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = parseEvent(block);
        if (event.name === "progress") {
          after = Number(event.id || after);
          onEvent(JSON.parse(event.data));
        } else if (event.name === "end") {
          return JSON.parse(event.data);
        }
      }
    }
    // The stream ended without `end` (a proxy cut it): go on from the last event.
  }
  return api(operation.url, { signal });
}

/**
 * Watch a stream of server-sent events that does not end (a class's live board), read
 * through fetch for the token. Calls onEvent(event) for each event with data, and
 * onState("live" | "reconnecting" | "failed", error) as the connection comes and goes.
 * A dropped or silent stream (no byte, heartbeats included, for a minute) is opened
 * again after a pause that doubles from 1 s up to 30 s; an answer the server means
 * (401, 403, 404) ends the watch. Ends when `signal` aborts (the view is left).
 */
export async function watch(url, { onEvent, onState = () => {}, signal }) {
  let pause = 1000;
  while (!signal.aborted) {
    const connection = new AbortController();
    const stop = () => connection.abort();
    signal.addEventListener("abort", stop);
    let stall;
    const awake = () => {
      clearTimeout(stall);
      stall = setTimeout(stop, 60000);
    };
    try {
      awake();
      const response = await fetch(url, { headers: headers(), signal: connection.signal });
      if (!response.ok) {
        let error = response.statusText;
        let hint = "";
        try {
          const envelope = await response.json();
          error = envelope.error || error;
          hint = envelope.hint || "";
        } catch {
          // not the API's envelope: keep the status text
        }
        const failure = new ApiError(response.status, error, hint);
        if (response.status === 401) onUnauthorized();
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          onState("failed", failure);
          return;
        }
        throw failure;
      }
      onState("live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        awake();
        buffer = (buffer + value).replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (!event.data) continue;
          pause = 1000; // it works again: a later drop starts from a short pause
          onEvent(event);
        }
      }
    } catch {
      // dropped, silent or refused for now: try again after the pause
    } finally {
      clearTimeout(stall);
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) return;
    onState("reconnecting");
    await new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      const timer = setTimeout(wake, pause);
      signal.addEventListener("abort", wake);
    });
    pause = Math.min(pause * 2, 30000);
  }
}

/**
 * Fetch a file with the token and save it as `filename` (a link cannot carry the
 * header): the class's results as CSV or PDF.
 */
export async function download(path, filename, { signal } = {}) {
  const response = await api(path, { raw: true, signal });
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function parseEvent(block) {
  const event = { name: "message", data: "", id: "" };
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.name = value;
    else if (field === "data") event.data += (event.data ? "\n" : "") + value;
    else if (field === "id") event.id = value;
  }
  return event;
}

/** The websocket URL of a console ticket's path. */
export function websocketUrl(path, ticket) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}?ticket=${encodeURIComponent(ticket)}`;
}

// Refract's uploads: the files chosen in each upload zone, their transfer to the gateway and the
// zone's vars (the names chosen, the progress). No React and no DOM at import: react.jsx makes
// the one `Uploads` of the page and upload.jsx draws the zones; Node imports it in the tests.
//
// A trigger whose events take `upload_files(id)` (the marker `{$upload_files: id}`) does not go
// to the event queue at once: the zone's files are uploaded first, each on its own
// `POST /_upload` (docs/protocol.md), at most `MAX_PARALLEL_UPLOADS` at a time for the page,
// outside the queue so the page's other triggers go on, and the trigger's events are queued once
// every file arrived, the marker replaced by `[{"$upload": id}, …]`. A failed or cancelled upload
// queues nothing and is reported; a trigger naming a zone that is uploading already is refused
// (`busy`) without touching that upload.

/** The key of the marker `upload_files(id)` compiles to. */
export const UPLOAD_FILES_MARKER = "$upload_files";

/** The key an event's argument names an uploaded file by. */
export const UPLOAD_REF = "$upload";

/**
 * The most files a page sends at once (the gateway's default `--max-uploads-per-session`); the
 * others wait their turn.
 */
export const MAX_PARALLEL_UPLOADS = 4;

/**
 * Whether `value` is the marker of an upload zone's files.
 * @param {unknown} value
 * @returns {boolean}
 */
const isMarker = (value) =>
  typeof value === "object" && value !== null && typeof value[UPLOAD_FILES_MARKER] === "string";

/**
 * `bytes` for people: `512 B`, `1.5 KB`, `2 MB` (powers of 1024).
 * @param {number} bytes
 * @returns {string}
 */
export function formatSize(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? n : Number(n.toFixed(1))} ${units[unit]}`;
}

/**
 * Whether `file` is of one of the kinds `accept` lists: a media type (`application/pdf`), a
 * family (`image/*`) or an extension (`.pdf`, case-insensitive).
 * @param {{name: string, type: string}} file
 * @param {string[]} accept
 * @returns {boolean}
 */
export function accepts(file, accept) {
  const type = (file.type ?? "").toLowerCase();
  const name = file.name.toLowerCase();
  return accept.some((kind) => {
    const k = kind.trim().toLowerCase();
    if (k.startsWith(".")) return name.endsWith(k);
    if (k.endsWith("/*")) return type.startsWith(k.slice(0, -1));
    return type === k;
  });
}

/**
 * The files of a choice that a zone's rules take, and a message about the others (null when all
 * are taken). Choosing more than `maxFiles` (or more than one when not `multiple`) takes none.
 * @param {{name: string, size: number, type: string}[]} files
 * @param {{multiple?: boolean, accept?: string[] | null, maxSize?: number | null, maxFiles?: number | null}} rules
 * @returns {{accepted: object[], error: string | null}}
 */
export function choose(files, { multiple = true, accept = null, maxSize = null, maxFiles = null } = {}) {
  const most = multiple ? (maxFiles ?? Infinity) : 1;
  if (files.length > most) {
    return { accepted: [], error: `Choose at most ${most} file${most === 1 ? "" : "s"} (${files.length} were chosen).` };
  }
  const problems = [];
  const accepted = files.filter((file) => {
    if (accept && accept.length > 0 && !accepts(file, accept)) {
      problems.push(`"${file.name}" is not of an accepted type (${accept.join(", ")}).`);
      return false;
    }
    if (maxSize != null && file.size > maxSize) {
      problems.push(`"${file.name}" (${formatSize(file.size)}) is larger than ${formatSize(maxSize)}.`);
      return false;
    }
    return true;
  });
  return { accepted, error: problems.length > 0 ? problems.join(" ") : null };
}

/** An upload that did not complete: a `code` of docs/protocol.md, or `cancelled`. */
export class UploadError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * What sends one file: `POST url` with XMLHttpRequest (for its upload progress and `abort()`),
 * the token and the percent-encoded name in headers; the browser sets `Content-Type` from the
 * file and `Content-Length` from its size.
 * @param {{url?: string, XHR?: typeof XMLHttpRequest}} [options]
 * @returns {(file: File, token: string, onProgress: (sent: number) => void) => {promise: Promise<{id: string}>, abort: () => void}}
 */
export function xhrSender({ url = "/_upload", XHR = globalThis.XMLHttpRequest } = {}) {
  return (file, token, onProgress) => {
    const xhr = new XHR();
    const promise = new Promise((resolve, reject) => {
      xhr.open("POST", url);
      xhr.setRequestHeader("X-Refract-Token", token);
      xhr.setRequestHeader("X-Refract-File-Name", encodeURIComponent(file.name));
      xhr.upload.onprogress = (e) => onProgress(e.loaded);
      xhr.onload = () => {
        let answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch {
          // Not JSON: a proxy's page, say.
        }
        if (xhr.status === 200 && typeof answer?.id === "string") resolve(answer);
        else if (answer && typeof answer.code === "string") reject(new UploadError(answer.code, answer.message));
        else reject(new UploadError("unavailable", `the server answered ${xhr.status}`));
      };
      xhr.onerror = () => reject(new UploadError("unavailable", "the upload could not reach the server"));
      xhr.onabort = () => reject(new UploadError("cancelled", "The upload was cancelled."));
      xhr.send(file);
    });
    return { promise, abort: () => xhr.abort() };
  };
}

/**
 * The upload zones of a page: the files chosen in each, its vars, and the transfers.
 *
 * Vars (read by `useUploadVar`, named as the compiler names them): `selected$<id>` (the names
 * chosen), `progress$<id>` (0 to 1), `error$<id>` (the last problem, or null).
 */
export class Uploads {
  /**
   * @param {object} options
   * @param {(file: File, token: string, onProgress: (sent: number) => void) => {promise: Promise<{id: string}>, abort: () => void}} options.send
   * @param {() => string | null} options.token the client's token (null before the first hydrate)
   * @param {(error: {code: string, message: string}) => void} options.report shows a problem
   */
  constructor({ send, token, report }) {
    this.send = send;
    this.token = token;
    this.report = report;
    /** @type {Map<string, {files: File[], names: string[], progress: number, error: string | null, running: {abort: () => void}[] | null}>} */
    this.zones = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** How many files are being sent. */
    this.active = 0;
    /** The files waiting for a turn: what starts each, and what drops it. */
    this.waiting = [];
  }

  zone(id) {
    let zone = this.zones.get(id);
    if (!zone) this.zones.set(id, (zone = { files: [], names: [], progress: 0, error: null, running: null }));
    return zone;
  }

  /** Calls the listeners of the vars `names`. */
  notify(...names) {
    for (const name of names) for (const listener of [...(this.listeners.get(name) ?? [])]) listener();
  }

  /**
   * The value of a zone's var.
   * @param {string} name `selected$<id>`, `progress$<id>` or `error$<id>`
   * @returns {string[] | number | string | null | undefined}
   */
  getVar(name) {
    const at = name.indexOf("$");
    const [kind, id] = [name.slice(0, at), name.slice(at + 1)];
    const zone = this.zones.get(id);
    switch (kind) {
      case "selected":
        return zone?.names ?? EMPTY;
      case "progress":
        return zone?.progress ?? 0;
      case "error":
        return zone?.error ?? null;
      default:
        return undefined;
    }
  }

  /**
   * Calls `listener` whenever the var `name` changes. Returns the unsubscribe function.
   * @returns {() => void}
   */
  subscribe(name, listener) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(listener);
    return () => this.listeners.get(name)?.delete(listener);
  }

  setProgress(id, progress) {
    const zone = this.zone(id);
    if (zone.progress === progress) return;
    zone.progress = progress;
    this.notify(`progress$${id}`);
  }

  setError(id, error) {
    const zone = this.zone(id);
    if (zone.error === error) return;
    zone.error = error;
    this.notify(`error$${id}`);
  }

  /**
   * Chooses `files` in the zone `id` under its rules (see `choose`): the files taken replace
   * the zone's; a problem is shown in the zone and reported.
   * @param {string} id
   * @param {File[]} files
   * @param {object} [rules]
   */
  select(id, files, rules) {
    const { accepted, error } = choose(files, rules);
    this.setError(id, error);
    if (error) this.report({ code: "rejected", message: error });
    if (accepted.length === 0 && error) return;
    const zone = this.zone(id);
    zone.files = accepted;
    zone.names = accepted.map((f) => f.name);
    this.notify(`selected$${id}`);
    this.setProgress(id, 0);
  }

  /** Forgets the files chosen in the zone `id` (`_clear_selected_files`). */
  clear(id) {
    const zone = this.zone(id);
    zone.files = [];
    zone.names = EMPTY;
    this.notify(`selected$${id}`);
    this.setError(id, null);
    this.setProgress(id, 0);
  }

  /** Stops the zone `id`'s transfers (`_cancel_upload`): its trigger's events are not queued. */
  cancel(id) {
    for (const transfer of this.zones.get(id)?.running ?? []) transfer.abort();
  }

  /**
   * Sends `file` now when fewer than `MAX_PARALLEL_UPLOADS` are being sent, else once one ends.
   * `abort` stops it, or drops it (rejecting with `cancelled`) before it started.
   * @returns {{promise: Promise<{id: string}>, abort: () => void}}
   */
  enqueue(file, token, onProgress) {
    let abort = () => {};
    const promise = new Promise((resolve, reject) => {
      let started = null;
      const turn = {
        run: () => {
          this.active += 1;
          started = this.send(file, token, onProgress);
          started.promise.then(resolve, reject).finally(() => {
            this.active -= 1;
            this.next();
          });
        },
      };
      abort = () => {
        if (started) {
          started.abort();
          return;
        }
        const at = this.waiting.indexOf(turn);
        if (at >= 0) {
          this.waiting.splice(at, 1);
          reject(new UploadError("cancelled", "The upload was cancelled."));
        }
      };
      this.waiting.push(turn);
      this.next();
    });
    return { promise, abort: () => abort() };
  }

  /** Starts waiting files while fewer than `MAX_PARALLEL_UPLOADS` are being sent. */
  next() {
    while (this.active < MAX_PARALLEL_UPLOADS && this.waiting.length > 0) this.waiting.shift().run();
  }

  /**
   * Uploads the files of the zone `id` (not uploading: see `dispatch`) with `token`; the promise
   * resolves to their references `[{"$upload": id}, …]`, and `abort` stops these transfers only.
   * @param {string} id
   * @param {string} token
   * @returns {{promise: Promise<{$upload: string}[]>, abort: () => void}}
   */
  transfer(id, token) {
    const zone = this.zone(id);
    const files = [...zone.files];
    if (files.length === 0) return { promise: Promise.resolve([]), abort: () => {} };
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const sent = files.map(() => 0);
    this.setError(id, null);
    this.setProgress(id, 0);
    /** Whether progress still counts (not after the transfers settled). */
    let live = true;
    const transfers = files.map((file, i) =>
      this.enqueue(file, token, (n) => {
        sent[i] = Math.min(n, file.size);
        if (live && total > 0) this.setProgress(id, sent.reduce((a, b) => a + b, 0) / total);
      }),
    );
    zone.running = transfers;
    const settle = () => {
      live = false;
      if (zone.running === transfers) zone.running = null;
    };
    const promise = Promise.all(transfers.map((t) => t.promise)).then(
      (answers) => {
        settle();
        this.setProgress(id, 1);
        return answers.map((a) => ({ [UPLOAD_REF]: a.id }));
      },
      (error) => {
        settle();
        for (const t of transfers) t.abort();
        this.setProgress(id, 0);
        const message = error?.message ?? String(error);
        if (error?.code !== "cancelled") this.setError(id, message);
        throw error instanceof UploadError ? error : new UploadError("unavailable", message);
      },
    );
    return { promise, abort: () => transfers.forEach((t) => t.abort()) };
  }

  /**
   * What a trigger's events go through before the queue: events without an upload zone's
   * marker go to `queue` at once; otherwise the zones' files are uploaded and the events queued
   * after, each marker replaced by its files' references. A trigger naming a zone that is
   * uploading already is refused (`busy`) before anything starts, leaving that upload alone; a
   * failure stops the other transfers this trigger started (only those), queues nothing and is
   * reported once.
   * @param {{handler: string, args?: object}[]} events
   * @param {(events: {handler: string, args?: object}[]) => void} queue
   * @returns {Promise<void> | undefined} settles when the events were queued or dropped (tests)
   */
  dispatch(events, queue) {
    const ids = new Set();
    for (const event of events) for (const value of Object.values(event.args ?? {})) if (isMarker(value)) ids.add(value[UPLOAD_FILES_MARKER]);
    if (ids.size === 0) {
      queue(events);
      return undefined;
    }
    const order = [...ids];
    const refuse = (code, message) => {
      this.report({ code, message });
      return Promise.resolve();
    };
    if (order.some((id) => this.zones.get(id)?.running)) return refuse("busy", "These files are being uploaded already.");
    const token = this.token();
    if (!token) return refuse("not_ready", "Not connected to the server yet; try again.");
    const batches = order.map((id) => this.transfer(id, token));
    return Promise.all(batches.map((b) => b.promise)).then(
      (refs) => {
        const byId = new Map(order.map((id, i) => [id, refs[i]]));
        const replace = (value) => (isMarker(value) ? byId.get(value[UPLOAD_FILES_MARKER]) : value);
        queue(
          events.map((event) =>
            event.args ? { ...event, args: Object.fromEntries(Object.entries(event.args).map(([k, v]) => [k, replace(v)])) } : event,
          ),
        );
      },
      (error) => {
        for (const batch of batches) batch.abort();
        this.report({ code: error.code ?? "unavailable", message: error.message ?? String(error) });
      },
    );
  }
}

/** The names of a zone with none chosen (one array, so a snapshot keeps its identity). */
const EMPTY = Object.freeze([]);

// @ts-check
/**
 * Resume for socket.io-client: nothing missed across a reconnect. The client
 * side of fast-app's resume protocol (docs/guide/5-serving.md, "Resume").
 *
 * `resumable(socket)` adds `fa_resume` to the socket's `auth` on each CONNECT
 * (the session's token, and each room joined through `join` with its last
 * position seen), so that after a reconnect the server puts the client back
 * in its rooms and sends what it missed. Handlers registered with `on` get
 * each event once, without its `fa_offsets` argument, and during a resume
 * only after the missed events. `onResumed` gets `fa_resumed`: refetch a
 * room not `recovered`; a room with an `error`, or every room after a
 * top-level `error`, was not joined again (join it again).
 *
 * @example
 * const socket = io("https://chat.example.com", { auth: { token } });
 * const chat = resumable(socket, {
 *   onResumed: ({ rooms, error }) => { if (error || rooms.some((r) => !r.recovered)) refetch(); },
 * });
 * chat.on("message_sent", (message) => show(message)); // not socket.on: that one gets duplicates
 * await chat.join("chat", { chat_id: 5 }); // {"room": "chat|5", "epoch", "offset"}
 */

const OFFSETS = "fa_offsets";

/** @typedef {{ epoch: string, offset: number }} Position */
/** A room followed: how it was joined, the last position seen in it; `stale`:
 * not recovered at the last resume, the next event sets the position.
 * @typedef {{ key: string, payload: unknown, epoch: string, offset: number, stale?: boolean }} Followed */
/** @typedef {{ room?: string, key: string, recovered: boolean, error?: { type: string } }} ResumedRoom */
/** @typedef {{ rooms: ResumedRoom[], error?: string }} Resumed */
/** @typedef {Record<string, unknown> | ((cb: (data: object) => void) => void) | undefined} Auth */
/** @typedef {(...args: any[]) => void} Handler */
/**
 * What is used of socket.io-client's `Socket`.
 * @typedef {{
 *   auth?: Auth,
 *   onAny(listener: (event: string, ...args: any[]) => void): unknown,
 *   offAny(listener: (event: string, ...args: any[]) => void): unknown,
 *   on(event: string, listener: Handler): unknown,
 *   off(event: string, listener: Handler): unknown,
 *   emitWithAck(event: string, ...args: any[]): Promise<any>,
 * }} SocketLike
 */

/**
 * Makes `socket` resumable. Call it before the socket connects (right after
 * `io(...)`, in the same tick), so that its first CONNECT opts in.
 *
 * @param {SocketLike} socket
 * @param {{ onResumed?: (result: Resumed) => void }} [options]
 */
export function resumable(socket, { onResumed } = {}) {
  /** @type {Map<string, Followed>} by room name, e.g. `chat|5` */
  const rooms = new Map();
  /** @type {Map<string, Set<Handler>>} */
  const handlers = new Map();
  /** @type {string | null} the latest `fa_session` token */
  let token = null;
  /**
   * Events with positions that arrived during a resume, until `fa_resumed`;
   * `null` when no resume is under way.
   * @type {Array<[string, unknown[], Record<string, Position>]> | null}
   */
  let held = null;
  /** @type {string[]} the rooms the last resume request asked for, in order */
  let asked = [];

  // The application's auth stays the application's: reassigning
  // `socket.auth` replaces it, and the resume request is added on each CONNECT.
  let appAuth = socket.auth;
  Object.defineProperty(socket, "auth", {
    configurable: true,
    enumerable: true,
    get: () => withResume,
    set: (/** @type {Auth} */ auth) => { appAuth = auth; },
  });

  /** @param {(data: object) => void} cb */
  function withResume(cb) {
    /** @param {object | undefined} data */
    const send = (data) => {
      // Computed now: positions only move while connected.
      asked = token === null ? [] : [...rooms.keys()];
      const resume = token === null ? {} : {
        token,
        rooms: asked.map((room) => {
          const { key, payload, epoch, offset } = /** @type {Followed} */ (rooms.get(room));
          return { key, payload, epoch, offset };
        }),
      };
      held = asked.length > 0 ? [] : null;
      cb({ ...data, fa_resume: resume });
    };
    if (typeof appAuth === "function") appAuth(send);
    else send(appAuth);
  }

  /** Whether the event is one already seen: it has a position in a room
   * followed, and none past what was seen there.
   * @param {Record<string, Position>} offsets */
  function seen(offsets) {
    let known = false;
    for (const [room, at] of Object.entries(offsets)) {
      const mine = rooms.get(room);
      if (!mine || mine.stale || mine.epoch !== at.epoch) continue;
      if (at.offset > mine.offset) return false;
      known = true;
    }
    return known;
  }

  /** @param {string} event @param {unknown[]} args @param {Record<string, Position> | null} offsets */
  function deliver(event, args, offsets) {
    if (offsets) {
      if (seen(offsets)) return;
      for (const [room, at] of Object.entries(offsets)) {
        const mine = rooms.get(room);
        if (mine?.stale) Object.assign(mine, { epoch: at.epoch, offset: at.offset, stale: false });
        else if (mine && mine.epoch === at.epoch && at.offset > mine.offset) mine.offset = at.offset;
      }
    }
    for (const handler of [...(handlers.get(event) ?? [])]) handler(...args);
  }

  /** @param {Resumed} result */
  function resumed(result) {
    // One entry per room asked for, in order; a refused one does not name
    // its room (it may have none): the request does.
    const entries = (result?.rooms ?? []).map((entry, i) => ({ ...entry, room: entry.room ?? asked[i] }));
    for (const [i, room] of asked.entries()) {
      const [entry, mine] = [entries[i], rooms.get(room)];
      if (result?.error || !entry || entry.error) rooms.delete(room);
      else if (mine && !entry.recovered) mine.stale = true;
    }
    // The missed events came first, then the live ones held back: in arrival
    // order, without what was seen twice.
    const queue = held ?? [];
    held = null;
    for (const [event, args, offsets] of queue) deliver(event, args, offsets);
    onResumed?.({ ...result, rooms: entries });
  }

  /** @param {string} event @param {...unknown} args */
  function receive(event, ...args) {
    if (event === "fa_session") { token = /** @type {any} */ (args[0])?.token ?? token; return; }
    if (event === "fa_resumed") return resumed(/** @type {Resumed} */ (args[0]));
    const last = /** @type {any} */ (args[args.length - 1]);
    const offsets = last && typeof last === "object" && OFFSETS in last ? last[OFFSETS] : null;
    const payload = offsets ? args.slice(0, -1) : args;
    if (offsets && held) held.push([event, payload, offsets]);
    else deliver(event, payload, offsets);
  }

  // Held events that were never delivered were not counted as seen: the
  // next resume asks for them again.
  const abandon = () => { held = null; };
  socket.onAny(receive);
  socket.on("disconnect", abandon);
  socket.on("connect_error", abandon);

  const api = {
    socket,
    /** The rooms followed, by name, with the last position seen in each. */
    rooms,
    /** The session's latest token (`null` before the server sent one). */
    get token() { return token; },
    set token(value) { token = value; },

    /**
     * Joins through `join_<key>`, and follows the room when the reply gives
     * its position. Resolves with the reply.
     * @param {string} key @param {unknown} [payload]
     */
    async join(key, payload = {}) {
      const reply = await socket.emitWithAck(`join_${key}`, payload);
      if (typeof reply?.room === "string" && typeof reply.epoch === "string" && typeof reply.offset === "number") {
        rooms.set(reply.room, { key, payload, epoch: reply.epoch, offset: reply.offset });
      }
      return reply;
    },

    /** Leaves through `leave_<key>`, and stops following the room.
     * @param {string} key @param {unknown} [payload] */
    async leave(key, payload = {}) {
      const reply = await socket.emitWithAck(`leave_${key}`, payload);
      if (typeof reply?.room === "string" && !("type" in reply)) rooms.delete(reply.room);
      return reply;
    },

    /** Calls `handler` with each `event`'s arguments, but `fa_offsets`, once.
     * @param {string} event @param {Handler} handler */
    on(event, handler) {
      handlers.set(event, (handlers.get(event) ?? new Set()).add(handler));
      return api;
    },

    /** Removes `handler`, or every handler of `event`.
     * @param {string} event @param {Handler} [handler] */
    off(event, handler) {
      if (handler) handlers.get(event)?.delete(handler);
      else handlers.delete(event);
      return api;
    },

    /** Stops: `socket.auth` is the application's again, and no event is handled. */
    detach() {
      socket.offAny(receive);
      socket.off("disconnect", abandon);
      socket.off("connect_error", abandon);
      delete socket.auth;
      socket.auth = appAuth;
    },
  };
  return api;
}

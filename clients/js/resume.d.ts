// Types of resume.js: fast-app's resume protocol for socket.io-client.
import type { Socket } from "socket.io-client";

type EventsMap = { [event: string]: any };

/** A position in a room's history: every event up to `offset` of `epoch` was seen. */
export interface Position {
  epoch: string;
  offset: number;
}

/** A room followed: how it was joined, and the last position seen in it. */
export interface Followed extends Position {
  key: string;
  payload: unknown;
  /** Not recovered at the last resume: the next event of the room sets the position. */
  stale?: boolean;
}

/** One room of `fa_resumed`. */
export interface ResumedRoom {
  /** The room asked for (the server names only those joined again; the helper fills in the rest from its request). */
  room: string;
  key: string;
  /** `false`: the room may have had events the client did not get; refetch it. */
  recovered: boolean;
  /** The join was refused (the `join_<key>` error reply): the client is not in the room. */
  error?: { type: string; [field: string]: unknown };
}

/** `fa_resumed`: how a resume went. */
export interface Resumed {
  rooms: ResumedRoom[];
  /** The token was refused: no room was joined again. */
  error?: string;
}

export interface ResumableOptions {
  /** Called with `fa_resumed`, after the missed events were delivered. */
  onResumed?: (result: Resumed) => void;
}

/** The keys `K` of the socket's `join_K` events (any string for an untyped socket). */
type JoinKeys<E extends EventsMap> = string extends keyof E
  ? string
  : { [N in keyof E]: N extends `join_${infer K}` ? K : never }[keyof E];
type LeaveKeys<E extends EventsMap> = string extends keyof E
  ? string
  : { [N in keyof E]: N extends `leave_${infer K}` ? K : never }[keyof E];
/** `E[event]`'s payload, and the reply its acknowledgement carries. */
type PayloadOf<E extends EventsMap, N> = N extends keyof E
  ? E[N] extends (payload: infer P, ack: (reply: any) => void) => void ? P : unknown
  : unknown;
type ReplyOf<E extends EventsMap, N> = N extends keyof E
  ? E[N] extends (payload: any, ack: (reply: infer R) => void) => void ? R : any
  : any;

export interface Resumable<L extends EventsMap, E extends EventsMap> {
  readonly socket: Socket<L, E>;
  /** The rooms followed, by name (`chat|5`), with the last position seen in each. */
  readonly rooms: Map<string, Followed>;
  /** The session's latest `fa_session` token, `null` before the first. */
  token: string | null;
  /** Joins through `join_<key>`; the room is followed when the reply gives its position. */
  join<K extends JoinKeys<E>>(key: K, payload?: PayloadOf<E, `join_${K}`>): Promise<ReplyOf<E, `join_${K}`> & Partial<Position>>;
  /** Leaves through `leave_<key>`, and stops following the room. */
  leave<K extends LeaveKeys<E>>(key: K, payload?: PayloadOf<E, `leave_${K}`>): Promise<ReplyOf<E, `leave_${K}`>>;
  /** Calls `handler` with each `event`'s arguments, without `fa_offsets`, once. */
  on<N extends keyof L & string>(event: N, handler: L[N]): this;
  /** Removes `handler`, or every handler of `event`. */
  off<N extends keyof L & string>(event: N, handler?: L[N]): this;
  /** Stops: `socket.auth` is the application's again, and no event is handled. */
  detach(): void;
}

/** Makes `socket` resumable; call it before the socket connects. */
export function resumable<L extends EventsMap, E extends EventsMap>(
  socket: Socket<L, E>,
  options?: ResumableOptions,
): Resumable<L, E>;

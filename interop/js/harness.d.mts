// Types of harness.mjs, for the TypeScript suites (interop/ts/).
import type { ChildProcess } from "node:child_process";
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";

/** A running example or redis-server. */
export interface Started {
  url: string;
  port: number;
  stop: () => boolean;
}

/** The running chat example. */
export interface Chat extends Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function freePort(): Promise<number>;

/** Runs `examples/chat` (on `port`, or a free one) with `env` added. */
export function startChat(env?: Record<string, string>, port?: number): Promise<Chat>;

/** A private redis-server on a free port. */
export function startRedis(): Promise<Started>;

/** Runs `examples/worker [--except <socketId>] <chatId> <text>` to completion. */
export function runWorker(env: Record<string, string>, chatId: number, text: string, except?: string | null): string;

/** A connected official client, or the connect error. */
export function connect(url: string, auth: object, options?: Partial<ManagerOptions & SocketOptions>): Promise<Socket>;

/** The next `event` on `socket` (its arguments), or a timeout error. */
export function next(socket: Socket, event: string, ms?: number): Promise<unknown[]>;

/** Resolves with what arrives on `event` within `ms`: [] when nothing does. */
export function collect(socket: Socket, event: string, ms?: number): Promise<unknown[][]>;

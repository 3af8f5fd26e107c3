// Starts the real chat example (and redis-server, the worker) for the interop suites.
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const examples = process.env.EXAMPLES_DIR || path.join(root, "target", "debug", "examples");

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, what) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => { socket.end(); resolve(true); });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/**
 * Runs `examples/chat` (on `port`, or a free one); `stop()` ends it by PID,
 * `exited` resolves with its exit `{ code, signal }`.
 */
export async function startChat(env = {}, port = undefined) {
  port ??= await freePort();
  const child = spawn(path.join(examples, "chat"), [], {
    env: { ...process.env, RUST_LOG: "warn", ...env, PORT: String(port) },
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  await waitForPort(port, child, "the chat example");
  return { url: `http://127.0.0.1:${port}`, port, child, exited, stop: () => child.kill("SIGKILL") };
}

/**
 * A private redis-server on a free port; `stop()` ends it by PID (SIGKILL),
 * `restart()` kills it and starts a new, empty one on the same port.
 */
export async function startRedis() {
  const port = await freePort();
  const run = async () => {
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    child.once("error", (e) => { throw new Error(`redis-server: ${e.message}; install it with apt-get install redis-server`); });
    await waitForPort(port, child, "redis-server");
    return child;
  };
  let child = await run();
  return {
    url: `redis://127.0.0.1:${port}/14`,
    port,
    stop: () => child.kill("SIGKILL"),
    /** Kills it, waits `downMs`, and starts it again, empty. */
    restart: async (downMs) => {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await gone;
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await run();
    },
  };
}

/**
 * A TCP front on a free port that forwards each new connection to
 * `127.0.0.1:<port>` (a load balancer): `retarget(port)` sends the next
 * ones elsewhere; `close()` ends it.
 */
export async function startFront(port) {
  let target = port;
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    const close = () => { client.destroy(); upstream.destroy(); open.delete(client); };
    open.add(client);
    client.pipe(upstream).pipe(client);
    for (const end of [client, upstream]) { end.on("error", close); end.on("close", close); }
  });
  const frontPort = await freePort();
  await new Promise((resolve) => server.listen(frontPort, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${frontPort}`,
    retarget: (port) => { target = port; },
    close: () => { for (const client of open) client.destroy(); server.close(); },
  };
}

/** Runs `examples/worker [--except <socketId>] <chatId> <text>` to completion. */
export function runWorker(env, chatId, text, except = null) {
  const args = [...(except ? ["--except", except] : []), String(chatId), text];
  return execFileSync(path.join(examples, "worker"), args, {
    env: { ...process.env, RUST_LOG: "warn", ...env },
  }).toString();
}

/** A connected official client, or the connect error. */
export function connect(url, auth, options = {}) {
  const socket = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true, ...options });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => { socket.close(); reject(err); });
  });
}

/** The next `event` on `socket` (its arguments), or a timeout error. */
export function next(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(event, on); reject(new Error(`no ${event} within ${ms} ms`)); }, ms);
    const on = (...args) => { clearTimeout(timer); resolve(args); };
    socket.once(event, on);
  });
}

/** Resolves with what arrives on `event` within `ms`: [] when nothing does. */
export function collect(socket, event, ms = 300) {
  const seen = [];
  const on = (...args) => seen.push(args);
  socket.on(event, on);
  return new Promise((resolve) => setTimeout(() => { socket.off(event, on); resolve(seen); }, ms));
}

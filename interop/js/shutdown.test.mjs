// Shutdown of the chat example on SIGTERM, seen by the official socket.io-client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startChat, startRedis, next } from "./harness.mjs";

/** `promise`, or an error after `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const cases = [
  { transports: ["websocket"], redis: false },
  { transports: ["polling"], redis: false },
  { transports: ["websocket"], redis: true },
];

for (const { transports, redis: onRedis } of cases) {
  const adapter = onRedis ? "on Redis" : "in-process";
  test(`on SIGTERM the chat (${adapter}) exits 0, and a ${transports[0]} client reconnects by itself to the next server on the port`, async () => {
    const redis = onRedis ? await startRedis() : undefined;
    const env = onRedis ? { REDIS_SOCKETIO_URL: redis.url, REDIS_SOCKETIO_PREFIX: "interop-shutdown" } : {};
    const first = await startChat(env);
    const alice = io(first.url, {
      auth: { token: "alice" },
      transports,
      forceNew: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
    });
    let second;
    try {
      await next(alice, "connect");
      assert.deepEqual(await alice.emitWithAck("join_chat", { chat_id: 1 }), { room: "chat|1" });

      const disconnected = next(alice, "disconnect", 10000);
      first.child.kill("SIGTERM");
      assert.deepEqual(await within(first.exited, 10000, "exit after SIGTERM"), { code: 0, signal: null });
      // The transport is closed, never the namespace: after "io server
      // disconnect" the client would not reconnect. A long-poll in flight is
      // answered with the close packet ("transport close"); a polling client
      // between two polls finds its session gone ("transport error").
      const [reason] = await disconnected;
      assert.ok(["transport close", "transport error"].includes(reason), `disconnected for ${reason}`);
      assert.equal(alice.active, true, "the client is reconnecting");

      const reconnected = next(alice, "connect", 15000);
      second = await startChat(env, first.port);
      await reconnected;
      assert.deepEqual(await alice.emitWithAck("join_chat", { chat_id: 2 }), { room: "chat|2" });
    } finally {
      alice.close();
      second?.stop();
      first.stop();
      redis?.stop();
    }
  });
}

// Resume (docs/guide/5-serving.md, "Resume: nothing missed across a
// reconnect"): the chat example against socket.io-client wrapped by
// clients/js/resume.js, in-process and on Redis with two servers (the
// resumable client on one, the senders on the other).
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { resumable } from "../../clients/js/resume.js";
import { startChat, startRedis, startFront, connect, next, runWorker } from "./harness.mjs";

/** The server of the resumable clients, and the one of the senders. */
let chat;
let peer;
// Every client a test opened, closed after it, passed or failed (a client
// left reconnecting would keep the process alive).
const opened = [];
afterEach(() => { for (const socket of opened.splice(0)) socket.close(); });

/** What a client's handlers received, in order, and a way to wait for more. */
function recorder() {
  const entries = [];
  const waiters = new Set();
  return {
    entries,
    push(entry) {
      entries.push(entry);
      for (const check of [...waiters]) check();
    },
    /** Resolves once `done(entries)` holds, or fails after `ms`. */
    until(done, what, ms = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!done(entries)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(entries);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`not within ${ms} ms: ${what}; received ${JSON.stringify(entries)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

const texts = (entries) => entries.filter(([kind]) => kind === "message").map(([, m]) => m.text);

/**
 * `name`'s resumable client, connected, with its first `fa_session`: the
 * helper, plus `log` (each `message_sent` and `fa_resumed`, in order) and
 * `away()`, which closes its transport from its side and keeps it from
 * connecting again until the function it resolves with is called
 * (socket.io-client reconnects by itself; its CONNECT waits on the auth).
 */
async function resumableClient(name, url = chat.url) {
  let gate = Promise.resolve();
  const socket = io(url, {
    auth: (cb) => { gate.then(() => cb({ token: name })); },
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
  });
  opened.push(socket);
  const log = recorder();
  const client = resumable(socket, { onResumed: (result) => log.push(["resumed", result]) });
  client.on("message_sent", (message, ...rest) => log.push(["message", message, ...rest]));
  const session = next(socket, "fa_session");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  await session;
  /** Keeps it from connecting again until the function it returns is called. */
  const hold = () => {
    let release;
    gate = new Promise((resolve) => { release = resolve; });
    return release;
  };
  const away = async () => {
    const release = hold();
    const gone = next(socket, "disconnect");
    socket.io.engine.close();
    await gone;
    return release;
  };
  /** Lets it reconnect; resolves with the `fa_resumed` that follows. */
  const back = async (release) => {
    const from = log.entries.length;
    release();
    const entries = await log.until((e) => e.slice(from).some(([kind]) => kind === "resumed"), `${name}'s fa_resumed`);
    return entries.slice(from).find(([kind]) => kind === "resumed")[1];
  };
  return Object.assign(client, { log, hold, away, back });
}

/** A plain client of `name`, in chat `chatId`, on the senders' server. */
async function member(name, chatId, url = peer.url) {
  const socket = await connect(url, { token: name });
  opened.push(socket);
  assert.equal((await socket.emitWithAck("join_chat", { chat_id: chatId })).room, `chat|${chatId}`);
  return socket;
}

async function send(socket, chatId, text) {
  assert.deepEqual(await socket.emitWithAck("send_message", { chat_id: chatId, text }), { sent: true });
}

const range = (n, prefix) => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

/** Every scenario, on the servers of the enclosing `describe`. */
function scenarios() {
  test("a client that comes back gets what it missed, once and in order, then fa_resumed, and is still in its rooms", async () => {
    const alice = await resumableClient("alice");
    const joined = await alice.join("chat", { chat_id: 5 });
    assert.equal(joined.room, "chat|5");
    assert.match(joined.epoch, /^[0-9a-f]{16}$/);
    assert.equal(typeof joined.offset, "number");
    const bob = await member("bob", 5);

    for (const text of range(3, "before")) await send(bob, 5, text);
    await alice.log.until((e) => texts(e).length === 3, "3 messages");
    assert.deepEqual(texts(alice.log.entries), range(3, "before"));
    assert.deepEqual(alice.rooms.get("chat|5"), { key: "chat", payload: { chat_id: 5 }, epoch: joined.epoch, offset: joined.offset + 3 });

    const release = await alice.away();
    const from = alice.log.entries.length;
    for (const text of range(20, "away")) await send(bob, 5, text);
    const resumed = await alice.back(release);

    assert.deepEqual(resumed, { rooms: [{ room: "chat|5", key: "chat", recovered: true }] });
    const missed = alice.log.entries.slice(from);
    assert.deepEqual(missed.map(([kind, m]) => (kind === "message" ? m.text : kind)), [...range(20, "away"), "resumed"]);
    assert.ok(missed.slice(0, 20).every((entry) => entry.length === 2), "the handler gets the payload only");
    assert.equal(alice.rooms.get("chat|5").offset, joined.offset + 23);

    // Back in chat 5 without joining again.
    await send(bob, 5, "welcome back");
    await alice.log.until((e) => texts(e).at(-1) === "welcome back", "the next message");
    assert.equal(texts(alice.log.entries).length, 24);
  });

  test("more events than the room keeps: not recovered, and back in the room", async () => {
    const alice = await resumableClient("alice");
    await alice.join("chat", { chat_id: 6 });
    const bob = await member("bob", 6);

    const release = await alice.away();
    const from = alice.log.entries.length;
    for (const text of range(105, "away")) await send(bob, 6, text);
    const resumed = await alice.back(release);

    assert.deepEqual(resumed, { rooms: [{ room: "chat|6", key: "chat", recovered: false }] });
    assert.deepEqual(alice.log.entries.slice(from).map(([kind]) => kind), ["resumed"], "nothing replayed: the app refetches");
    await send(bob, 6, "after");
    await alice.log.until((e) => texts(e).at(-1) === "after", "the next message");
    assert.deepEqual(texts(alice.log.entries.slice(from)), ["after"]);
  });

  /** Resolves once everything the server sent `socket` before now has arrived (an acknowledged round trip). */
  async function roundTrip(socket) {
    assert.equal((await socket.emitWithAck("socket_id")).id.length, 32);
  }

  test("another user's token is refused: nothing restored, none of the rooms", async () => {
    const alice = await resumableClient("alice");
    await alice.join("chat", { chat_id: 7 });
    const carol = await member("carol", 7);
    const bob = await resumableClient("bob");
    // Bob presents Alice's token and her position in chat 7, a chat he never joined.
    bob.token = alice.token;
    bob.rooms.set("chat|7", { ...alice.rooms.get("chat|7") });
    alice.socket.close();
    const toBob = [];
    bob.socket.on("message_sent", (...args) => toBob.push(args));

    const release = await bob.away();
    for (const text of range(3, "for alice")) await send(carol, 7, text);
    const resumed = await bob.back(release);

    assert.equal(typeof resumed.error, "string", `a top-level error: ${JSON.stringify(resumed)}`);
    assert.ok(resumed.rooms.every((room) => room.recovered === false && room.room === "chat|7"), JSON.stringify(resumed));
    assert.equal(bob.rooms.size, 0, "the helper forgets every room");

    // Not in chat 7: carol gets the next message, bob nothing at all.
    const toCarol = next(carol, "message_sent");
    await send(carol, 7, "after");
    assert.equal((await toCarol)[0].text, "after");
    await roundTrip(bob.socket);
    assert.deepEqual(toBob, [], "bob receives none of chat 7's events");
    assert.deepEqual(texts(bob.log.entries), []);
  });

  test("a room whose guard now refuses is reported with its error; the others are restored", async () => {
    const alice = await resumableClient("alice");
    const joined = await alice.join("chat", { chat_id: 8 });
    const bob = await member("bob", 8);
    // Chat 500 is closed to everyone (the guard allows 1..=100): say she was in it.
    alice.rooms.set("chat|500", { key: "chat", payload: { chat_id: 500 }, epoch: joined.epoch, offset: 0 });

    const release = await alice.away();
    const from = alice.log.entries.length;
    await send(bob, 8, "one");
    await send(bob, 8, "two");
    const wire = next(alice.socket, "fa_resumed");
    const resumed = await alice.back(release);

    // One entry per room asked for, in the request's order; the helper names
    // the room of each (the server names only the rooms joined again).
    const [sent] = await wire;
    assert.equal(sent.error, undefined, JSON.stringify(sent));
    assert.deepEqual(sent.rooms.map((room) => [room.key, room.recovered, room.error?.type]), [
      ["chat", true, undefined],
      ["chat", false, "forbidden"],
    ], JSON.stringify(sent));
    assert.deepEqual(resumed.rooms, [
      { room: "chat|8", key: "chat", recovered: true },
      { room: "chat|500", key: "chat", recovered: false, error: { type: "forbidden", room: "chat|500" } },
    ]);
    assert.deepEqual(alice.log.entries.slice(from).map(([kind, m]) => (kind === "message" ? m.text : kind)), ["one", "two", "resumed"]);
    assert.deepEqual([...alice.rooms.keys()], ["chat|8"], "the helper forgets the refused room");
  });

  test("a plain client gets broadcasts without the positions a resumable one gets", async () => {
    const alice = await resumableClient("alice");
    const joined = await alice.join("chat", { chat_id: 9 });
    const carol = await member("carol", 9);
    const [toCarol, toAlice] = [next(carol, "message_sent"), next(alice.socket, "message_sent")];
    await send(carol, 9, "hi");
    assert.deepEqual(await toCarol, [{ chat_id: 9, user: "carol", text: "hi" }]);
    assert.deepEqual(await toAlice, [
      { chat_id: 9, user: "carol", text: "hi" },
      { fa_offsets: { "chat|9": { epoch: joined.epoch, offset: joined.offset + 1 } } },
    ]);
  });

  test("messages sent while a client resumes reach it once and in order", async () => {
    const alice = await resumableClient("alice");
    const joined = await alice.join("chat", { chat_id: 10 });
    const bob = await member("bob", 10);
    let sent = 0;
    const sendNext = () => send(bob, 10, `m ${++sent}`);
    // What arrived on the wire in the round (for the failure message).
    let wire = [];
    alice.socket.on("connect", () => wire.push("CONNECT"));
    alice.socket.onAny((event, ...args) => wire.push(event === "message_sent" ? args[1].fa_offsets["chat|10"].offset : event));
    // Each round: some messages while she is away; then bob keeps sending
    // while she resumes (some are replayed, some arrive live meanwhile, some
    // after fa_resumed). Several rounds: the interleaving varies.
    for (let round = 1; round <= 20; round++) {
      const release = await alice.away();
      wire = [];
      const reopened = new Promise((resolve) => alice.socket.io.once("open", resolve));
      for (let i = 0; i < 5; i++) await sendNext();
      await reopened; // her transport is open again; her CONNECT waits for the release
      const from = alice.log.entries.length;
      let done = false;
      const resumed = alice.log.until((e) => e.slice(from).some(([kind]) => kind === "resumed"), "fa_resumed")
        .finally(() => { done = true; });
      release();
      for (let after = 0; after < 3 && sent < 2000;) {
        await sendNext();
        if (done) after++;
      }
      await resumed;
      // Bob's acknowledgement says his server sent it (to Redis, on two
      // servers): each message is waited for; the round trip then shows
      // none arrived twice.
      await alice.log.until((e) => texts(e).length >= sent, `${sent} messages`);
      await roundTrip(alice.socket);
      const got = texts(alice.log.entries);
      const wrong = got.findIndex((text, i) => text !== `m ${i + 1}`);
      assert.ok(got.length === sent && wrong === -1,
        `round ${round}: ${got.length} delivered for ${sent} sent; from #${wrong + 1} on: ${JSON.stringify(got.slice(wrong, wrong + 5))}; ` +
        `the wire since she left (offsets of message_sent): ${wire.join(" ")}`);
    }
    assert.equal(alice.rooms.get("chat|10").offset, joined.offset + sent);
  });

  test("concurrent broadcasts reach a resumable client in the order of their positions", async () => {
    const alice = await resumableClient("alice");
    const joined = await alice.join("chat", { chat_id: 11 });
    const offsets = [];
    alice.socket.on("message_sent", (_, at) => offsets.push(at.fa_offsets["chat|11"].offset));
    const post = (text) => fetch(`${peer.url}/chats/11/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ops", text }),
    });
    const responses = await Promise.all(range(1000, "p").map(post));
    assert.ok(responses.every((response) => response.status === 202));
    await alice.log.until((e) => texts(e).length >= 1000, "1000 messages");
    await roundTrip(alice.socket);
    assert.equal(offsets.length, 1000);
    // The helper takes an event at or below the last position seen for one
    // already seen: an event overtaken by a later one would be dropped.
    const late = offsets.findIndex((offset, i) => i > 0 && offset < offsets[i - 1]);
    assert.equal(late, -1, `offset ${offsets[late]} arrived after ${offsets[late - 1]}`);
    assert.equal(texts(alice.log.entries).length, 1000);
    assert.equal(alice.rooms.get("chat|11").offset, joined.offset + 1000);
  });
}

describe("in-process", () => {
  before(async () => { chat = peer = await startChat(); });
  after(() => chat?.stop());
  scenarios();
});

describe("on Redis, two servers", () => {
  let redis;
  let env;
  before(async () => {
    redis = await startRedis();
    env = { REDIS_SOCKETIO_URL: redis.url, REDIS_SOCKETIO_PREFIX: "interop-resume" };
    [chat, peer] = await Promise.all([startChat(env), startChat(env)]);
  });
  after(() => { chat?.stop(); peer?.stop(); redis?.stop(); });
  scenarios();

  test("a background job's broadcasts are kept too", async () => {
    const alice = await resumableClient("alice");
    await alice.join("chat", { chat_id: 13 });
    const release = await alice.away();
    const from = alice.log.entries.length;
    runWorker(env, 13, "from the job 1");
    runWorker(env, 13, "from the job 2");
    const resumed = await alice.back(release);
    assert.deepEqual(resumed, { rooms: [{ room: "chat|13", key: "chat", recovered: true }] });
    assert.deepEqual(alice.log.entries.slice(from).map(([kind, m]) => (kind === "message" ? m.text : kind)),
      ["from the job 1", "from the job 2", "resumed"]);
  });

  test("Redis killed for 1 s: every message acknowledged reaches the other server's clients, once and in order", async () => {
    const bob = await member("bob", 14, chat.url);
    const carol = await member("carol", 14);
    const got = [];
    const last = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "last" within 20 s; carol got ${JSON.stringify(got)}`)), 20000);
      carol.on("message_sent", (message) => {
        got.push(message.text);
        if (message.text === "last") { clearTimeout(timer); resolve(); }
      });
    });
    await send(bob, 14, "before");
    await redis.restart(1000);
    // Sent through A while B may still be subscribing again: those acknowledged count.
    const acknowledged = [];
    for (let i = 1; acknowledged.length < 20; i++) {
      assert.ok(i < 2000, "A never sent again");
      const text = `after ${i}`;
      const reply = await bob.emitWithAck("send_message", { chat_id: 14, text }).catch(() => null);
      if (reply?.sent === true) acknowledged.push(text);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await send(bob, 14, "last");
    await last;
    assert.deepEqual(got, ["before", ...acknowledged, "last"]);
  });

  // Last: it kills the servers.
  test("a client whose server is killed (kill -9) resumes on another, then on a restarted one", async () => {
    const front = await startFront(chat.port);
    try {
      const alice = await resumableClient("alice", front.url);
      await alice.join("chat", { chat_id: 12 });
      const bob = await member("bob", 12);
      await send(bob, 12, "before");
      await alice.log.until((e) => texts(e).length === 1, "the first message");

      // Her server dies; her reconnects wait until the other one is behind the front.
      let release = alice.hold();
      let gone = next(alice.socket, "disconnect");
      chat.child.kill("SIGKILL");
      await chat.exited;
      await gone;
      front.retarget(peer.port);
      let from = alice.log.entries.length;
      for (const text of range(10, "while A was gone")) await send(bob, 12, text);
      let resumed = await alice.back(release);
      assert.deepEqual(resumed, { rooms: [{ room: "chat|12", key: "chat", recovered: true }] });
      assert.deepEqual(alice.log.entries.slice(from).map(([kind, m]) => (kind === "message" ? m.text : kind)),
        [...range(10, "while A was gone"), "resumed"]);

      // The other dies too; the first comes back, a new process on its port.
      release = alice.hold();
      gone = next(alice.socket, "disconnect");
      peer.child.kill("SIGKILL");
      await peer.exited;
      await gone;
      chat = await startChat(env, chat.port);
      front.retarget(chat.port);
      const carol = await member("carol", 12, chat.url);
      from = alice.log.entries.length;
      for (const text of range(5, "after the restart")) await send(carol, 12, text);
      resumed = await alice.back(release);
      assert.deepEqual(resumed, { rooms: [{ room: "chat|12", key: "chat", recovered: true }] });
      assert.deepEqual(alice.log.entries.slice(from).map(([kind, m]) => (kind === "message" ? m.text : kind)),
        [...range(5, "after the restart"), "resumed"]);
      await send(carol, 12, "live");
      await alice.log.until((e) => texts(e).at(-1) === "live", "a live message");
      assert.equal(texts(alice.log.entries).length, 17, "each once");
    } finally {
      front.close();
    }
  });
});

// The chat example against the official socket.io-client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startChat, startRedis, runWorker, connect, next, collect } from "./harness.mjs";

let chat;
before(async () => { chat = await startChat(); });
after(() => chat?.stop());

test("a client without a token is refused with the server's message", async () => {
  await assert.rejects(connect(chat.url, {}), { message: "No access token provided" });
  await assert.rejects(connect(chat.url, { token: "" }), { message: "No access token provided" });
});

test("the connected hook's welcome is the first event, on either transport", async () => {
  for (const transports of [["websocket"], ["polling"]]) {
    const dora = io(chat.url, { auth: { token: " dora " }, transports, reconnection: false, forceNew: true });
    const first = new Promise((resolve) => dora.onAny((...event) => resolve(event)));
    await new Promise((resolve, reject) => {
      dora.once("connect", resolve);
      dora.once("connect_error", reject);
    });
    // The server's word on the name: the token, trimmed.
    assert.deepEqual(await first, ["welcome", { user: "dora" }], `over ${transports}`);
    dora.close();
  }
});

test("join_chat answers joined with the room, and acknowledges the same", async () => {
  const alice = await connect(chat.url, { token: "alice" });
  const joined = next(alice, "joined");
  const ack = await alice.emitWithAck("join_chat", { chat_id: 1 });
  assert.deepEqual(ack, { room: "chat|1" });
  assert.deepEqual(await joined, [{ room: "chat|1" }]);
  alice.close();
});

test("forbidden and invalid joins get the protocol's error replies", async () => {
  const eve = await connect(chat.url, { token: "eve" });
  const forbidden = next(eve, "error");
  assert.deepEqual(await eve.emitWithAck("join_chat", { chat_id: 1000 }), { type: "forbidden", room: "chat|1000" });
  assert.deepEqual(await forbidden, [{ type: "forbidden", room: "chat|1000" }]);
  const body = await eve.emitWithAck("join_chat", { chat_id: "one" });
  assert.equal(body.type, "validation_error");
  assert.ok(body.msg.length > 0);
  eve.close();
});

test("broadcasts reach the room's members only, and stop after leave_chat", async () => {
  const alice = await connect(chat.url, { token: "alice" });
  const bob = await connect(chat.url, { token: "bob" });
  const carol = await connect(chat.url, { token: "carol" });
  await alice.emitWithAck("join_chat", { chat_id: 7 });
  await bob.emitWithAck("join_chat", { chat_id: 7 });
  await carol.emitWithAck("join_chat", { chat_id: 8 });

  const toBob = next(bob, "message_sent");
  const toCarol = collect(carol, "message_sent");
  assert.deepEqual(await alice.emitWithAck("send_message", { chat_id: 7, text: "hi" }), { sent: true });
  assert.deepEqual(await toBob, [{ chat_id: 7, user: "alice", text: "hi" }]);
  assert.deepEqual(await toCarol, []);

  assert.deepEqual(await bob.emitWithAck("leave_chat", { chat_id: 7 }), { room: "chat|7" });
  const afterLeave = collect(bob, "message_sent");
  await alice.emitWithAck("send_message", { chat_id: 7, text: "gone?" });
  assert.deepEqual(await afterLeave, []);
  for (const s of [alice, bob, carol]) s.close();
});

test("a broadcast from the HTTP endpoint reaches the chat", async () => {
  const alice = await connect(chat.url, { token: "alice" });
  await alice.emitWithAck("join_chat", { chat_id: 9 });
  const got = next(alice, "message_sent");
  const response = await fetch(`${chat.url}/chats/9/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "ops", text: "from http" }),
  });
  assert.equal(response.status, 202);
  assert.deepEqual(await response.json(), { sent: true });
  assert.deepEqual(await got, [{ chat_id: 9, user: "ops", text: "from http" }]);
  alice.close();
});

test("a request with X-Socket-ID reaches the chat but that client", async () => {
  const alice = await connect(chat.url, { token: "alice" });
  const bob = await connect(chat.url, { token: "bob" });
  await alice.emitWithAck("join_chat", { chat_id: 10 });
  await bob.emitWithAck("join_chat", { chat_id: 10 });
  const { id } = await alice.emitWithAck("socket_id");
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.notEqual(id, alice.id, "the public id is not the session id");
  const post = (headers) => fetch(`${chat.url}/chats/10/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ user: "alice", text: "hi bob" }),
  });

  const [toBob, toAlice] = [next(bob, "message_sent"), collect(alice, "message_sent")];
  assert.equal((await post({ "X-Socket-ID": id })).status, 202);
  assert.deepEqual(await toBob, [{ chat_id: 10, user: "alice", text: "hi bob" }]);
  assert.deepEqual(await toAlice, []);

  // Without the header everyone gets it; a header that is no id is refused.
  const both = [next(alice, "message_sent"), next(bob, "message_sent")];
  assert.equal((await post({})).status, 202);
  await Promise.all(both);
  const refused = await post({ "X-Socket-ID": alice.id });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /X-Socket-ID/);
  alice.close();
  bob.close();
});

const member = (name) => ({ id: name, info: { name } });

test("a chat shows who is in it: presence_state on joining, then presence_join and presence_leave", async () => {
  const alice = await connect(chat.url, { token: "alice" });
  const aliceState = next(alice, "presence_state");
  assert.deepEqual(await alice.emitWithAck("join_chat", { chat_id: 11 }), { room: "chat|11" });
  assert.deepEqual(await aliceState, [{ room: "chat|11", members: [member("alice")] }]);

  const bob = await connect(chat.url, { token: "bob" }, { transports: ["polling"] });
  const [bobState, bobJoined] = [next(bob, "presence_state"), next(alice, "presence_join")];
  await bob.emitWithAck("join_chat", { chat_id: 11 });
  assert.deepEqual(await bobState, [{ room: "chat|11", members: [member("alice"), member("bob")] }]);
  assert.deepEqual(await bobJoined, [{ room: "chat|11", member: member("bob") }]);

  // A second tab of Bob's: still one member, nobody is told.
  const bobAgain = await connect(chat.url, { token: "bob" });
  const [noJoin, againState] = [collect(alice, "presence_join"), next(bobAgain, "presence_state")];
  await bobAgain.emitWithAck("join_chat", { chat_id: 11 });
  assert.deepEqual(await againState, [{ room: "chat|11", members: [member("alice"), member("bob")] }]);
  assert.deepEqual(await noJoin, []);

  // Bob's first tab closes: he is still here; his last one does: he has gone.
  const noLeave = collect(alice, "presence_leave");
  bob.close();
  assert.deepEqual(await noLeave, []);
  const left = next(alice, "presence_leave");
  bobAgain.close();
  assert.deepEqual(await left, [{ room: "chat|11", member: member("bob") }]);
  alice.close();
});

test("with Redis, clients on two servers receive what the worker process broadcasts", async () => {
  const redis = await startRedis();
  const env = { REDIS_SOCKETIO_URL: redis.url, REDIS_SOCKETIO_PREFIX: "interop-js" };
  const [one, two] = [await startChat(env), await startChat(env)];
  try {
    const alice = await connect(one.url, { token: "alice" });
    const bob = await connect(two.url, { token: "bob" });
    await alice.emitWithAck("join_chat", { chat_id: 3 });
    // Presence crosses servers: alice, on one, sees bob join on two.
    const [bobJoined, bobState] = [next(alice, "presence_join"), next(bob, "presence_state")];
    await bob.emitWithAck("join_chat", { chat_id: 3 });
    assert.deepEqual(await bobState, [{ room: "chat|3", members: [member("alice"), member("bob")] }]);
    assert.deepEqual(await bobJoined, [{ room: "chat|3", member: member("bob") }]);
    const [toAlice, toBob] = [next(alice, "message_sent"), next(bob, "message_sent")];
    runWorker(env, 3, "from the worker");
    const expected = [{ chat_id: 3, user: "worker", text: "from the worker" }];
    assert.deepEqual(await toAlice, expected);
    assert.deepEqual(await toBob, expected);

    // A job that carries bob's id leaves bob out, on the other server.
    const { id } = await bob.emitWithAck("socket_id");
    const [again, notBob] = [next(alice, "message_sent"), collect(bob, "message_sent")];
    runWorker(env, 3, "not to bob", id);
    assert.deepEqual(await again, [{ chat_id: 3, user: "worker", text: "not to bob" }]);
    assert.deepEqual(await notBob, []);
    alice.close();
    bob.close();
  } finally {
    one.stop();
    two.stop();
    redis.stop();
  }
});

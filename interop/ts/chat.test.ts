// The chat example from TypeScript, typed with its generated contract
// (examples/chat/contract/index.ts) and the app's own events
// (examples/chat/page/events.d.ts): what the types promise, the server sends.
// Run with `node --import tsx --test`; interop/tsconfig.json type-checks it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { io, type Socket } from "socket.io-client";
import type {
  ClientToServerEvents,
  ErrorReply,
  JoinedReply,
  MessageSent,
  PresenceState,
  ServerToClientEvents,
  SocketIdReply,
} from "../../examples/chat/contract/index";
import type { ChatClientEvents, ChatServerEvents } from "../../examples/chat/page/events";
import { startChat, type Chat } from "../js/harness.mjs";

/** A client typed with the contract alone, as any app's client starts. */
type ContractSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
/** A client typed with the contract and the chat's own events. */
type ChatSocket = Socket<ChatServerEvents, ChatClientEvents>;

let chat: Chat;
const sockets: Socket[] = [];
before(async () => { chat = await startChat(); });
after(() => {
  for (const socket of sockets) socket.close();
  chat?.stop();
});

/** A connected client signed in as `token`. */
function connect<S extends Socket = ChatSocket>(token: string): Promise<S> {
  const socket = io(chat.url, { auth: { token }, transports: ["websocket"], reconnection: false, forceNew: true }) as S;
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** The payload of the next `event` on `socket`, or a timeout error. */
function next<E extends keyof ServerToClientEvents>(
  socket: ContractSocket,
  event: E,
  ms = 5000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    const on = (payload: Parameters<ServerToClientEvents[E]>[0]) => {
      clearTimeout(timer);
      resolve(payload);
    };
    // TypeScript cannot match a listener to a generic event name: register
    // it untyped; the return type above carries the contract's payload.
    (socket as Socket).once(event as string, on);
  });
}

test("join_chat's acknowledgement is the typed JoinedReply, then presence_state lists the joiner", async () => {
  const alice = await connect<ContractSocket>("alice");
  const state: Promise<PresenceState> = next(alice, "presence_state");
  const reply: JoinedReply | ErrorReply = await alice.emitWithAck("join_chat", { chat_id: 3 });
  assert.ok(!("type" in reply), `refused: ${JSON.stringify(reply)}`);
  // Narrowed to JoinedReply by the check above.
  const room: string = reply.room;
  assert.equal(room, "chat|3");
  assert.deepEqual(reply, { room: "chat|3" });

  const { room: stateRoom, members } = await state;
  assert.equal(stateRoom, "chat|3");
  const ids = members.map((member) => member.id);
  assert.ok(ids.includes("alice"), `members: ${JSON.stringify(members)}`);
  assert.deepEqual(members.find((member) => member.id === "alice")?.info, { name: "alice" });
});

test("a forbidden join's acknowledgement is the typed ErrorReply", async () => {
  const eve = await connect<ContractSocket>("eve");
  const event = next(eve, "error");
  const reply = await eve.emitWithAck("join_chat", { chat_id: 1000 });
  assert.ok("type" in reply, `joined: ${JSON.stringify(reply)}`);
  assert.equal(reply.type, "forbidden");
  if (reply.type === "forbidden") assert.equal(reply.room, "chat|1000");
  assert.deepEqual(reply, { type: "forbidden", room: "chat|1000" });
  const refused: ErrorReply = await event;
  assert.deepEqual(refused, reply);
});

test("send_message (the app's own event) reaches another member as the typed message_sent", async () => {
  const alice = await connect("alice");
  const bob = await connect("bob");
  await alice.emitWithAck("join_chat", { chat_id: 4 });
  await bob.emitWithAck("join_chat", { chat_id: 4 });

  const toBob: Promise<MessageSent> = next(bob, "message_sent");
  const sent = await alice.emitWithAck("send_message", { chat_id: 4, text: "typed hello" });
  assert.deepEqual(sent, { sent: true });
  assert.deepEqual(await toBob, { chat_id: 4, user: "alice", text: "typed hello" });

  // Not a member of chat 5: refused, as the acknowledgement and as `error`.
  const refused = next(alice, "error");
  const reply = await alice.emitWithAck("send_message", { chat_id: 5, text: "nobody" });
  assert.deepEqual(reply, { type: "forbidden", room: "chat|5" });
  assert.deepEqual(await refused, reply);
});

test("welcome is typed as the app declares it", async () => {
  const socket = io(chat.url, { auth: { token: " dora " }, transports: ["websocket"], reconnection: false, forceNew: true }) as ChatSocket;
  sockets.push(socket);
  const welcome = await new Promise<{ user: string }>((resolve) => socket.once("welcome", resolve));
  assert.deepEqual(welcome, { user: "dora" });
});

test("socket_id's typed reply is 32 hexadecimal digits, and differs per connection", async () => {
  const one = await connect<ContractSocket>("alice");
  const two = await connect<ContractSocket>("alice");
  const first: SocketIdReply = await one.emitWithAck("socket_id");
  const second: SocketIdReply = await two.emitWithAck("socket_id");
  assert.match(first.id, /^[0-9a-f]{32}$/);
  assert.match(second.id, /^[0-9a-f]{32}$/);
  assert.notEqual(first.id, second.id);
});

// @ts-check
// The chat page's script (GET /chat.js), an ES module. Plain JavaScript for
// the browser, type-checked against the chat's contract by
// interop/tsconfig.json: its socket's events are ChatServerEvents and
// ChatClientEvents (events.d.ts). Its socket is resumable (GET /resume.js,
// clients/js/resume.js): after a reconnect the server puts it back in its
// chat and sends what it missed (docs/guide/5-serving.md, "Resume").

import { resumable } from "/resume.js";

/** @typedef {import("./events").ChatServerEvents} ChatServerEvents */
/** @typedef {import("./events").ChatClientEvents} ChatClientEvents */
/** @typedef {import("../contract/index").PresenceMember} PresenceMember */
/** @typedef {import("/resume.js").Resumable<ChatServerEvents, ChatClientEvents>} Resumable */
/** @typedef {import("/resume.js").Resumed} Resumed */

// The official client, loaded by the page from socket.io's CDN as a global.
const io = /** @type {typeof import("socket.io-client").io} */ (/** @type {any} */ (window).io);

/**
 * The page's element matching `selector`, which is a `type`.
 * @template {Element} T
 * @param {string} selector
 * @param {{ new (): T }} type
 * @returns {T}
 */
function $(selector, type) {
  const element = document.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`the page has no ${selector}`);
  return element;
}
const status = $("#status", HTMLElement), error = $("#error", HTMLElement);
const messages = $("#messages", HTMLElement), membersList = $("#members", HTMLElement);
// `chat`: this login's socket (`chat.socket`), through the resume helper.
/** @type {Resumable | null} */
let chat = null;
/** @type {string | null} */
let me = null;
/** @type {number | null} */
let chatId = null;
// `socketId`: this socket's public id, which our requests carry in
// `X-Socket-ID` so that the broadcasts they cause skip us.
/** @type {string | null} */
let socketId = null;
// Who is in the chat, by user id: `presence_state` sets it on joining,
// `presence_join` and `presence_leave` change it (each is idempotent).
/** @type {Map<string, PresenceMember>} */
const members = new Map();

/** @param {string} text */
function showError(text) { error.textContent = text; error.classList.add("shown"); }
function clearError() { error.textContent = ""; error.classList.remove("shown"); }
/** @param {boolean} joined */
function setJoined(joined) { $("#send button", HTMLButtonElement).disabled = !joined; }

/**
 * What the page shows of a member: the name the chat's `presence` gives it
 * (`{"name": ...}`), else its id.
 * @param {PresenceMember} member
 */
function memberName(member) {
  const info = /** @type {{ name?: string } | null | undefined} */ (member.info);
  return info?.name ?? member.id;
}

function showMembers() {
  const items = [...members.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((member) => {
      const item = document.createElement("li");
      item.textContent = memberName(member);
      if (member.id === me) item.className = "me";
      return item;
    });
  membersList.replaceChildren(...items);
}
/** @param {string} room */
const inChat = (room) => chatId !== null && room === `chat|${chatId}`;

/**
 * What a reconnect restored (`fa_resumed`), once the messages missed
 * meanwhile are in the list. The page has no history endpoint to refetch a
 * chat that was not recovered from: it can only say that messages may be
 * missing.
 * @param {Resumed} result
 */
function showResumed({ rooms, error: refused }) {
  const room = rooms.find((entry) => inChat(entry.room));
  // In no chat: `connect` said to join one.
  if (room === undefined) return;
  if (refused || room.error) {
    // Not back in the chat: joining it again is up to the user.
    status.textContent = `Reconnected: some messages may be missing, and you are no longer in ${room.room}: join it again.`;
    return;
  }
  status.textContent = room.recovered ? "Reconnected: nothing missed." : "Reconnected: some messages may be missing.";
  setJoined(true);
}

/** @param {{ user: string, text: string }} message */
function addMessage({ user, text }) {
  messages.querySelector(".empty")?.remove();
  const item = document.createElement("li");
  if (user === me) item.className = "mine";
  const who = document.createElement("b");
  who.textContent = user;
  item.append(who, document.createTextNode(text));
  messages.append(item);
  messages.scrollTop = messages.scrollHeight;
}

$("#login", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  clearError();
  chat?.socket.disconnect();
  me = $("#name", HTMLInputElement).value.trim();
  chatId = null;
  setJoined(false);
  // This login's socket: its handlers use it, not a later login's.
  /** @type {import("socket.io-client").Socket<ChatServerEvents, ChatClientEvents>} */
  const connection = io({ auth: { token: me }, transports: ["websocket"] });
  // Resumable from its first CONNECT on (the same tick as `io`). The
  // server's events go through `client.on`, which gives each once and,
  // after a reconnect, the missed ones first; the connection's own events
  // (`connect`, `connect_error`, `disconnect`) stay on the socket.
  const client = resumable(connection, { onResumed: showResumed });
  chat = client;
  connection.on("connect", async () => {
    clearError();
    // Back in a chat the helper follows: `showResumed` says how it went.
    status.textContent = chatId !== null && client.rooms.has(`chat|${chatId}`)
      ? `Reconnected as ${me}; catching up on chat|${chatId}.`
      : `Connected as ${me}. Join a chat.`;
    $("#join button", HTMLButtonElement).disabled = false;
    // A new socket after every reconnect: a new id.
    socketId = null;
    socketId = (await connection.emitWithAck("socket_id")).id;
  });
  // The server's word on who we are, sent by its `connected` hook.
  client.on("welcome", ({ user }) => {
    me = user;
    if (chatId === null) status.textContent = `Connected as ${me}. Join a chat.`;
  });
  connection.on("connect_error", (err) => {
    status.textContent = "Not connected.";
    showError(`Connection refused: ${err.message}`);
  });
  connection.on("disconnect", () => {
    status.textContent = "Disconnected.";
    $("#join button", HTMLButtonElement).disabled = true;
    setJoined(false);
    members.clear();
    showMembers();
  });
  client.on("joined", ({ room }) => {
    clearError();
    status.textContent = `Connected as ${me}, in ${room}.`;
    setJoined(true);
  });
  client.on("left", ({ room }) => { status.textContent = `Connected as ${me}, left ${room}.`; });
  client.on("error", (err) => {
    if (err.type === "forbidden" && "room" in err) showError(`You may not join ${err.room}.`);
    else if (err.type === "presence_unavailable") showError("Who is here is unknown for now.");
    else showError(err.msg || JSON.stringify(err));
  });
  client.on("message_sent", (message) => { if (message.chat_id === chatId) addMessage(message); });
  client.on("presence_state", ({ room, members: list }) => {
    if (!inChat(room)) return;
    members.clear();
    for (const member of list) members.set(member.id, member);
    showMembers();
  });
  client.on("presence_join", ({ room, member }) => {
    if (inChat(room)) { members.set(member.id, member); showMembers(); }
  });
  client.on("presence_leave", ({ room, member }) => {
    if (inChat(room)) { members.delete(member.id); showMembers(); }
  });
});

// Joins and leaves go through the helper, which follows the chat (its
// position, from the reply) until it is left. Their replies also arrive as
// `joined`, `left` or `error`, handled above, so the promises are not awaited.
$("#join", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  if (chat === null) return;
  clearError();
  const next = Number($("#chat", HTMLInputElement).value);
  if (chatId !== null && chatId !== next) void chat.leave("chat", { chat_id: chatId });
  chatId = next;
  setJoined(false);
  messages.replaceChildren();
  members.clear();
  showMembers();
  void chat.join("chat", { chat_id: next });
});

// Posted over HTTP, as an application's forms are: the server broadcasts
// to the chat's other members (X-Socket-ID), and the page shows its own
// message at once.
$("#send", HTMLFormElement).addEventListener("submit", async (event) => {
  event.preventDefault();
  if (me === null || chatId === null) return;
  clearError();
  const input = $("#send input", HTMLInputElement);
  const message = { chat_id: chatId, user: me, text: input.value };
  input.value = "";
  /** @type {Record<string, string>} */
  const headers = { "content-type": "application/json" };
  if (socketId) headers["X-Socket-ID"] = socketId;
  const response = await fetch(`/chats/${message.chat_id}/messages`, {
    method: "POST", headers, body: JSON.stringify({ user: message.user, text: message.text }),
  });
  if (response.ok) addMessage(message);
  else showError(`Not sent: ${(await response.text()) || response.status}`);
});

// Proof that the chat's contract types bite: each `@ts-expect-error` below
// marks a misuse that `tsc -p interop/tsconfig.json` must reject (an
// unneeded one is itself an error), next to uses it must accept.
// Type-checked only, never run: nothing here connects.
import type { Socket } from "socket.io-client";
import type {
  ChatResource,
  ClientToServerEvents,
  ErrorReply,
  JoinedReply,
  MessageSent,
  ServerToClientEvents,
} from "../../examples/chat/contract/index";
import type { ChatClientEvents, ChatServerEvents } from "../../examples/chat/page/events";

export async function misuses(socket: Socket<ServerToClientEvents, ClientToServerEvents>): Promise<void> {
  // Accepted: the contract's request, its reply typed by `emitWithAck`.
  const reply: JoinedReply | ErrorReply = await socket.emitWithAck("join_chat", { chat_id: 1 });
  if (!("type" in reply)) console.log(reply.room.startsWith("chat|"));
  // Accepted: a server event's payload, as the contract declares it.
  socket.on("message_sent", (message: MessageSent) => console.log(message.user, message.text));

  // @ts-expect-error: no such event (`join_chatt`).
  await socket.emitWithAck("join_chatt", { chat_id: 1 });
  // @ts-expect-error: a payload field the room does not have (`chatId`, not `chat_id`).
  await socket.emitWithAck("join_chat", { chatId: 1 });
  // @ts-expect-error: `chat_id` is a number.
  await socket.emitWithAck("join_chat", { chat_id: "1" });
  // @ts-expect-error: a join without its acknowledgement callback (use `emitWithAck`, or pass one).
  socket.emit("join_chat", { chat_id: 1 });

  const id = await socket.emitWithAck("socket_id");
  // @ts-expect-error: `SocketIdReply` has `id`, not `socket_id`.
  console.log(id.socket_id);
  // @ts-expect-error: `JoinedReply | ErrorReply` has no `msg` until narrowed to `validation_error`.
  console.log(reply.msg);

  // @ts-expect-error: `welcome` is the app's own event, not the contract's (see ChatServerEvents).
  socket.on("welcome", (payload: { user: string }) => console.log(payload.user));
  // @ts-expect-error: `message_sent` carries a `MessageSent`, not a `ChatResource`.
  socket.on("message_sent", (chat: ChatResource) => console.log(chat.title));
}

export async function appEvents(socket: Socket<ChatServerEvents, ChatClientEvents>): Promise<void> {
  // Accepted: the app's own events, once it declares them (events.d.ts).
  socket.on("welcome", ({ user }) => console.log(user.toUpperCase()));
  const sent = await socket.emitWithAck("send_message", { chat_id: 1, text: "hi" });
  if ("sent" in sent) console.log(sent.sent);

  // @ts-expect-error: `send_message` needs the `text`.
  await socket.emitWithAck("send_message", { chat_id: 1 });
}

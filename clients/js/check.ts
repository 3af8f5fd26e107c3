// Type tests of resume.d.ts against the chat example's contract (checked by
// tsconfig.json, never run).
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../examples/chat/contract/index.ts";
import { resumable } from "./resume.js";

export async function typed() {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000", { auth: { token: "alice" } });
  const chat = resumable(socket, { onResumed: ({ rooms, error }) => void [rooms[0]?.recovered, error] });
  const reply = await chat.join("chat", { chat_id: 5 });
  if ("room" in reply) void [reply.room, reply.epoch, reply.offset];
  await chat.join("user", {});
  await chat.leave("chat", { chat_id: 5 });
  chat.on("message_sent", (message) => void message.text).off("message_sent");
  // @ts-expect-error: no `join_nope` event
  await chat.join("nope", {});
  // @ts-expect-error: `chat_id` is a number
  await chat.join("chat", { chat_id: "5" });
  // @ts-expect-error: `message_sent` carries a `MessageSent`
  chat.on("message_sent", (message: number) => void message);
}

export async function untyped() {
  const chat = resumable(io("http://localhost:3000"));
  await chat.join("anything", { id: 1 });
  chat.on("anything", (...args: unknown[]) => void args);
  const token: string | null = chat.token;
  const epoch: string | undefined = chat.rooms.get("chat|5")?.epoch;
  void [token, epoch];
}

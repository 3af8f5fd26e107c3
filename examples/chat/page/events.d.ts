// The chat's events as its page sees them: the generated contract
// (../contract/index.ts, from the DSL's declarations) plus the events the
// app handles or emits by hand in socketio.rs, which the contract cannot know.
// chat.js types its socket with these; interop/tsconfig.json checks both.
import type { ClientToServerEvents, ErrorReply, ServerToClientEvents } from "../contract/index";

/** A message for a chat the sender is in (`send_message`). */
export type SendMessage = {
  chat_id: number;
  text: string;
};

/**
 * What `send_message` refuses with, as its acknowledgement and as `error`:
 * the contract's replies, or the handler's own (not signed in, the broadcast
 * failed).
 */
export type SendMessageError = ErrorReply | {
  type: "forbidden" | "broadcast_failed";
  msg: string;
};

/** Namespace `/`: the contract's events to clients, and the app's own. */
export interface ChatServerEvents extends ServerToClientEvents {
  /** Who the server signed the client in as: the first event after connecting. */
  welcome: (payload: { user: string }) => void;
  /** A request refused, including `send_message`'s refusals. */
  error: (payload: SendMessageError) => void;
}

/** Namespace `/`: the contract's events from clients, and the app's own. */
export interface ChatClientEvents extends ClientToServerEvents {
  /** Posts a message to a chat the client is in; the chat gets `message_sent`. */
  send_message: (payload: SendMessage, ack: (reply: { sent: true } | SendMessageError) => void) => void;
}

//! A background job that broadcasts to the chat example's rooms through
//! Redis, without running a Socket.IO server.
//!
//! ```text
//! REDIS_SOCKETIO_URL=redis://localhost:6379/14 cargo run --example worker -- [--except <socket_id>] <chat_id> <text>
//! ```
//!
//! Every chat server on the same Redis (and `REDIS_SOCKETIO_PREFIX`)
//! delivers the message to its clients in room `chat|<chat_id>`, but the
//! client whose public id is `--except` (as a job enqueued by that client's
//! request would carry it).

#[path = "../chat/socketio.rs"]
#[allow(dead_code)]
mod socketio;

use fast_app::redis::RedisConfig;
use fast_app::{Broadcaster, SocketId};
use socketio::MessageSent;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let usage = "usage: worker [--except <socket_id>] <chat_id> <text>";
    let except: Option<SocketId> = match args.next_if_eq("--except") {
        Some(_) => Some(args.next().ok_or(usage)?.parse()?),
        None => None,
    };
    let chat_id: u64 = args.next().ok_or(usage)?.parse().map_err(|_| usage)?;
    let text = args.collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(usage.into());
    }

    let config = RedisConfig::from_env();
    Broadcaster::redis_emitter(&config).await?.install();
    let event = MessageSent {
        chat_id,
        user: "worker".to_owned(),
        text,
    };
    let sent = fast_app::broadcast(&event).except(except).await?;
    println!(
        "worker: message_sent to chat|{chat_id} via {}: sent={sent}",
        config.display_url()
    );
    Ok(())
}

//! A small chat server on fast-app.
//!
//! ```text
//! cargo run --example chat            # serves on PORT (default 3000) until SIGTERM or Ctrl-C
//! REDIS_SOCKETIO_URL=redis://localhost:6379/14 PORT=3001 cargo run --example chat
//! ```
//!
//! `ALLOWED_ORIGINS=http://127.0.0.1:3000,https://app.example.com` limits
//! the pages that may connect to those origins (default: any; see "Origins"
//! in the guide).
//!
//! Without `REDIS_SOCKETIO_URL` it runs alone, on the in-process adapter.
//! With it, every chat server on that Redis (and `REDIS_SOCKETIO_PREFIX`)
//! shares broadcasts, and `cargo run --example worker` can broadcast to all
//! of them from a process that runs no server.
//!
//! Demo policy, so anyone can try it without an identity provider:
//!
//! - Connect to namespace `/` with `auth: {"token": "<your name>"}`: the token
//!   is taken as the user's name. A missing or empty token is refused with
//!   `No access token provided`. Once connected, the client receives
//!   `welcome {"user": "<name>"}`.
//! - `join_chat {"chat_id": N}`: every user may join chats 1 to 100; any
//!   other id is `forbidden`. `leave_chat {"chat_id": N}` leaves it.
//! - Chats show who is in them: after `joined`, the joiner receives
//!   `presence_state {"room", "members": [{"id", "info": {"name"}}]}`; the
//!   chat receives `presence_join {"room", "member"}` when a user's first
//!   connection joins, `presence_leave` when its last one leaves or
//!   disconnects, whichever server each connection is on.
//! - `join_user {}`: joins the user's own room `user|<name>`; the room comes
//!   from the session, so nobody can join someone else's.
//! - `send_message {"chat_id": N, "text": "..."}`: a member of chat N sends a
//!   message; everyone in the chat receives `message_sent`
//!   `{"chat_id", "user", "text"}`, and the sender's acknowledgement is
//!   `{"sent": true}` (or the `error` payload, e.g. for a non-member).
//! - `POST /chats/{id}/messages` with JSON `{"user", "text"}` broadcasts the
//!   same event from outside Socket.IO (an HTTP handler, a job...). With an
//!   `X-Socket-ID` header (the id a client gets by emitting `socket_id`), the
//!   client it names does not receive it: the chat page posts its messages
//!   this way and shows its own at once.
//! - `PUT /chats/{id}` with JSON `{"title", "archived"}` broadcasts
//!   `update_chat` to the chat, unless the chat is archived.
//! - `GET /` is a chat page for people: pick a name, join a chat, talk.
//! - `GET /metrics` is for Prometheus: connections, joins, broadcasts, Redis
//!   (see "Metrics" in the guide). A real deployment serves it where only
//!   the scraper reaches it.

mod http;
mod socketio;

use std::net::Ipv4Addr;
use std::process::ExitCode;

use fast_app::Server;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the chat until SIGTERM or Ctrl-C, then shuts down gracefully.
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        Err(_) => 3000,
    };

    // On Redis when REDIS_SOCKETIO_URL is set, else on the in-process adapter.
    let mut builder = Server::builder();
    if let Ok(origins) = std::env::var("ALLOWED_ORIGINS") {
        builder = builder.allowed_origins(origins.split(',').map(str::trim).filter(|o| !o.is_empty()));
    }
    let server = builder.build_from_env().await?;
    if !server.is_redis() {
        tracing::info!("chat: in-process adapter (single process; set REDIS_SOCKETIO_URL for Redis)");
    }
    let metrics = fast_app::metrics::install()?;
    let app = http::routes(&metrics).layer(server.layer());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    tracing::info!(
        "chat: open http://127.0.0.1:{port}/ in a browser, or connect a Socket.IO client to \
         namespace `/` with auth {{\"token\": \"<your name>\"}}, then emit `join_chat` {{\"chat_id\": 1}}"
    );
    fast_app::serve(listener, app, &server).await?;
    Ok(())
}

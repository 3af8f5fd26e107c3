//! The chat's HTTP side: broadcasts made outside Socket.IO.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fast_app::metrics::Metrics;
use fast_app::{SocketId, broadcast};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::socketio::{Chat, MessageSent, UpdateChat};

/// The page and its scripts, the broadcasting endpoints, and `GET /metrics` (Prometheus).
pub fn routes(metrics: &Metrics) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/chat.js", get(script))
        .route("/resume.js", get(resume_script))
        .route("/chats/{id}/messages", post(post_message))
        .route("/chats/{id}", put(put_chat))
        .merge(metrics.router("/metrics"))
}

/// The chat page: pick a name, join a chat, send and receive messages.
async fn page() -> Html<&'static str> {
    Html(include_str!("page/index.html"))
}

/// The page's script, type-checked against the chat's contract
/// (`interop/tsconfig.json`).
async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/javascript")],
        include_str!("page/chat.js"),
    )
}

/// The resume helper the page's script imports (`clients/js/resume.js`):
/// nothing missed across a reconnect.
async fn resume_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/javascript")],
        include_str!("../../clients/js/resume.js"),
    )
}

#[derive(Deserialize)]
struct PostMessage {
    user: String,
    text: String,
}

/// Broadcasts `message_sent` to the chat: to every member but the client
/// whose request this is, when it says which it is (`X-Socket-ID`).
async fn post_message(
    Path(chat_id): Path<u64>,
    sender: Option<SocketId>,
    Json(body): Json<PostMessage>,
) -> (StatusCode, Json<Value>) {
    let event = MessageSent {
        chat_id,
        user: body.user,
        text: body.text,
    };
    answer(broadcast(&event).except(sender).await)
}

#[derive(Deserialize)]
struct PutChat {
    title: String,
    #[serde(default)]
    archived: bool,
}

async fn put_chat(Path(id): Path<u64>, Json(body): Json<PutChat>) -> (StatusCode, Json<Value>) {
    let chat = Chat {
        id,
        title: body.title,
        archived: body.archived,
    };
    answer(broadcast(&UpdateChat { chat }).await)
}

fn answer(result: Result<bool, fast_app::BroadcastError>) -> (StatusCode, Json<Value>) {
    match result {
        Ok(sent) => (StatusCode::ACCEPTED, Json(json!({ "sent": sent }))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": e.to_string() })),
        ),
    }
}

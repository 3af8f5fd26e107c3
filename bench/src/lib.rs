//! The fan-out benchmark contract (`shared/anchors/CONTRACT.md`) on fast-app's
//! DSL: the namespace, room and event the server and the emitter share.

pub mod emits;

use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Namespace `/`, serving the chats. No authentication: the contract has none.
#[namespace("/")]
#[rooms(ChatRoom)]
pub struct BenchNamespace;

/// `chat|<chat_id>`, joined with `join_chat {"chat_id": N}`. With the
/// `history` feature, it keeps its last 100 events: stack `fast-app-history`.
#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
#[cfg_attr(feature = "history", room(history = 100))]
pub struct ChatRoom {
    /// The chat id.
    pub chat_id: i64,
}

/// `update_chat {"chat_id", "seq", "t"}` to `chat|<chat_id>`; `t` is the
/// sender's unix time in microseconds.
#[derive(Debug, Clone, Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = ChatRoom { chat_id: self.chat_id })]
pub struct UpdateChat {
    /// The chat id.
    pub chat_id: i64,
    /// The event's number, from 0.
    pub seq: u64,
    /// When it was sent, in microseconds since the epoch.
    pub t: u64,
}

/// A number from the environment, `default` when unset.
pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| format!("{name} must be a number, not {v:?}")),
        _ => Ok(default),
    }
}

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The median of `values` (the upper one of an even count); 0 for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

//! The `__name__` broadcast event.
//!
//! Say where it goes with `on = ...` (a room name, or a room served by a
//! namespace, e.g. `on = ChatRoom { id: self.id }`), what it carries with
//! `as = ...`, and whether to send it with `when = ...`. Broadcast it with
//! `fast_app::broadcast(&__Name__ { id }).await?`.
//!
//! Deriving `JsonSchema` puts the payload in the client contract
//! (contract/index.ts, contract/asyncapi.json; with `as = ...`, the payload
//! type derives it instead). The doc comments of the struct and its fields
//! are the descriptions clients read there.

use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

/// Sent to clients as `__name__`.
#[derive(Debug, Clone, Serialize, JsonSchema, BroadcastEvent)]
#[broadcast(on = "__name__")]
pub struct __Name__ {
    /// What the event is about.
    pub id: u64,
}

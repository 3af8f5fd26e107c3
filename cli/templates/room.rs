//! The `__key__` room: clients emit `join___key__` / `leave___key__` with
//! its identifiers, e.g. `{"id": 42}`, and it is named `__key__|42`.
//!
//! Serve it from a namespace: add `__Name__` to its `#[rooms(...)]`.
//!
//! Deriving `JsonSchema` puts its join payload (its fields) in the client
//! contract (contract/index.ts, contract/asyncapi.json). The doc comments
//! of the struct and its fields are the descriptions clients read there.

use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::socketio::common::authentication::current_user;

/// A `__key__` room, named `__key__|{id}`: join it with `join___key__`,
/// leave it with `leave___key__`.
#[derive(Debug, Clone, Room, Deserialize, JsonSchema)]
#[room(can_join = Self::can_join)]
pub struct __Name__ {
    /// The room's identifier; every field is part of the room's name.
    pub id: u64,
}

impl __Name__ {
    /// Who may join. Replace with your policy, e.g. a membership lookup
    /// for `current_user(session)`.
    async fn can_join(&self, session: &Session) -> bool {
        current_user(session).is_some()
    }
}

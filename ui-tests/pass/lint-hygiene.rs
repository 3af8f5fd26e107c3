//! Every macro under `deny(warnings)` and `deny(missing_docs)`: the generated
//! code adds no lint of its own.
#![deny(warnings, missing_docs, unused, unreachable_pub)]

use fast_app::prelude::*;
use serde::{Deserialize, Serialize};

async fn authenticate(_session: &Session, _auth: &serde_json::Value) -> Result<(), ConnectError> {
    Ok(())
}

/// The root namespace.
#[namespace("/", connect = authenticate)]
#[rooms(ChatRoom)]
pub struct GlobalNamespace;

/// A chat.
#[derive(Room, Deserialize)]
#[room(can_join = Self::can_join)]
pub struct ChatRoom {
    /// Its id.
    pub chat_id: u64,
}

impl ChatRoom {
    async fn can_join(&self, _session: &Session) -> bool {
        true
    }
}

/// An update.
#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = ChatRoom { chat_id: self.id }, when = self.id > 0)]
pub struct UpdateChat {
    /// The chat id.
    pub id: u64,
}

fn main() {}

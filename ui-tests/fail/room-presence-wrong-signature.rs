use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(presence = Self::member)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    // The member's id alone: a `Member` is expected.
    async fn member(&self, _session: &Session) -> Option<String> {
        None
    }
}

fn main() {}

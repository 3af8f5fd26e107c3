use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(can_join = Self::can_join)]
struct ChatRoom {
    chat_id: u64,
}

impl ChatRoom {
    fn can_join(&self, _session: &Session) -> bool {
        true
    }
}

fn main() {}

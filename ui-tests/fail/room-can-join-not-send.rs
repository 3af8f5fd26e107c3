use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize, schemars::JsonSchema)]
#[room(can_join = Self::can_join)]
struct ChatRoom {
    chat_id: u64,
}

async fn lookup() {}

impl ChatRoom {
    async fn can_join(&self, _session: &Session) -> bool {
        let cache = std::rc::Rc::new(self.chat_id);
        lookup().await;
        *cache > 0
    }
}

fn main() {}

use fast_app::prelude::*;

struct Id(u64);

#[derive(Room)]
#[room(extract = ChatRoom::extract_from)]
struct ChatRoom {
    id: Id,
}

impl ChatRoom {
    async fn extract_from(_: &Session, _: serde_json::Value) -> Result<Self, ValidationError> {
        Ok(ChatRoom { id: Id(1) })
    }
}

fn main() {}

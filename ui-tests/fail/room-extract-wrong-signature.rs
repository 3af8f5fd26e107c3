use fast_app::prelude::*;

#[derive(Room)]
#[room(extract = Self::mine)]
struct MemberRoom {
    name: String,
}

impl MemberRoom {
    // Returns the room, not a `Result`.
    async fn mine(_session: &Session, _payload: serde_json::Value) -> Self {
        MemberRoom { name: "me".into() }
    }
}

fn main() {}

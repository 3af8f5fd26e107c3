use fast_app::prelude::*;

// The fields come from the join payload, but nothing reads them.
#[derive(Room, schemars::JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}

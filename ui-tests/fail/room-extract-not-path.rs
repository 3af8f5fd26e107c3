use fast_app::prelude::*;

#[derive(Room)]
#[room(extract = |session| todo!())]
struct ChatRoom {
    chat_id: u64,
}

fn main() {}

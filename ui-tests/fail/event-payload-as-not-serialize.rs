use fast_app::prelude::*;

struct ChatResource {
    id: u64,
}

#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = ChatResource { id: self.id })]
struct UpdateChat {
    id: u64,
}

fn main() {}

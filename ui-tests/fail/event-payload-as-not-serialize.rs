use fast_app::prelude::*;

#[derive(schemars::JsonSchema)]
struct ChatResource {
    id: u64,
}

#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = ChatResource { id: self.id })]
struct UpdateChat {
    id: u64,
}

fn main() {}

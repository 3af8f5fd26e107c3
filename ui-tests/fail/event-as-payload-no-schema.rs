use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

// Serializes, but has no JSON Schema for the client contract.
#[derive(Serialize)]
struct ChatResource {
    id: u64,
}

#[derive(BroadcastEvent, JsonSchema)]
#[broadcast(on = "lobby", as = ChatResource { id: self.id })]
struct UpdateChat {
    id: u64,
}

fn main() {}

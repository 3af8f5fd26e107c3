use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize, schemars::JsonSchema)]
#[broadcast(on = self.id, rooms = ["lobby"])]
struct UpdateChat {
    id: u64,
}

fn main() {}

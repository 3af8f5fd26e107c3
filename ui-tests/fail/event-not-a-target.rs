use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = self.id)]
struct UpdateChat {
    id: u64,
}

fn main() {}

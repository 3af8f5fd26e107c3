use fast_app::prelude::*;

#[derive(BroadcastEvent)]
#[broadcast(on = "lobby")]
struct Hello {
    text: String,
}

fn main() {}

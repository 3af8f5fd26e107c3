use fast_app::prelude::*;
use serde::Serialize;

// The event is its own payload: the client contract needs its JSON Schema.
#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = "lobby")]
struct Hello {
    text: String,
}

fn main() {}

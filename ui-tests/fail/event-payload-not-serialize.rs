use fast_app::prelude::*;

#[derive(BroadcastEvent, schemars::JsonSchema)]
#[broadcast(on = "lobby")]
struct Hello {
    text: String,
}

fn main() {}

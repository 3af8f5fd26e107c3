use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = "lobby", on = "hall")]
struct Hello;

fn main() {}

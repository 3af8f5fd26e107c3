use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(room = "lobby")]
struct Hello;

fn main() {}

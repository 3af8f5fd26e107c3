use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(room = "lobby", on = "a", on = "b", when, name = 42)]
struct Hello;

fn main() {}

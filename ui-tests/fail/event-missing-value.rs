use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(on, name = "hello")]
struct Hello;

fn main() {}

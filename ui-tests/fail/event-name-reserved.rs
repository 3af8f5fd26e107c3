use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(name = "disconnect")]
struct Hello;

fn main() {}

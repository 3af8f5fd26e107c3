use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(name = hello)]
struct Hello;

fn main() {}

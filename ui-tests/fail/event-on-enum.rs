use fast_app::prelude::*;
use serde::Serialize;

#[derive(BroadcastEvent, Serialize)]
enum Hello {
    A,
}

fn main() {}

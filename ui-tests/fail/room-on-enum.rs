use fast_app::prelude::*;
use serde::Deserialize;

#[derive(Room, Deserialize)]
enum ChatRoom {
    A,
}

fn main() {}

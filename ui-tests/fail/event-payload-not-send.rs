use fast_app::prelude::*;

// A payload is handed to other tasks and threads: a `Cell` cannot be shared.
#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = std::cell::Cell::new(self.count))]
struct Counted {
    count: u32,
}

fn main() {}

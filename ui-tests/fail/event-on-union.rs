use fast_app::prelude::*;

#[derive(BroadcastEvent)]
union Hello {
    a: u32,
}

fn main() {}

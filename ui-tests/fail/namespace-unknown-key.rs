use fast_app::prelude::*;

#[namespace("/", auth = authenticate)]
struct GlobalNamespace;

fn main() {}

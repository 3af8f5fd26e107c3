use fast_app::prelude::*;

#[namespace("admin")]
struct AdminNamespace;

fn main() {}

use fast_app::prelude::*;

async fn goodbye(_session: &Session) {}

#[namespace("/", disconnect = goodbye)]
struct GlobalNamespace;

fn main() {}

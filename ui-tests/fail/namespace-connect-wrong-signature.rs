use fast_app::prelude::*;

// Returns a `bool`, not a `Result`.
async fn authenticate(_session: &Session, _auth: &serde_json::Value) -> bool {
    true
}

#[namespace("/", connect = authenticate)]
struct GlobalNamespace;

fn main() {}

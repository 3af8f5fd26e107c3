use fast_app::prelude::*;

fn authenticate(_session: &Session, _auth: &serde_json::Value) -> Result<(), ConnectError> {
    Ok(())
}

#[namespace("/", connect = authenticate)]
struct GlobalNamespace;

fn main() {}

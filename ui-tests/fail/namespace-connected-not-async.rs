use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;

// A plain fn: the hook is awaited, it must be `async`.
fn welcome<A: Adapter>(_session: &Session, socket: &SocketRef<A>) {
    let _ = socket.emit("welcome", &());
}

#[namespace("/", connected = welcome)]
struct GlobalNamespace;

fn main() {}

use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;

// The socket by value: the hook gets it by reference.
async fn welcome<A: Adapter>(_session: &Session, socket: SocketRef<A>) {
    let _ = socket.emit("welcome", &());
}

#[namespace("/", connected = welcome)]
struct GlobalNamespace;

fn main() {}

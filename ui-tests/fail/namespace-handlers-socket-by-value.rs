use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;

// Takes the socket by value: handlers get `&SocketRef<A>`.
fn custom<A: Adapter>(socket: SocketRef<A>) {
    socket.on("ping", async || {});
}

#[namespace("/", handlers = custom)]
struct GlobalNamespace;

fn main() {}

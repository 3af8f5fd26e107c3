use fast_app::prelude::*;
use fast_app::socketioxide::extract::SocketRef;

// Only for the in-process adapter: the server may run on Redis.
fn custom(socket: &SocketRef) {
    socket.on("ping", async || {});
}

#[namespace("/", handlers = custom)]
struct GlobalNamespace;

fn main() {}

//! Socket.IO server initialization.
//!
//! With `REDIS_SOCKETIO_URL` set, every process of the application shares
//! broadcasts through Redis (`REDIS_SOCKETIO_PREFIX` keeps applications on
//! one Redis apart); without it, the server runs alone on the in-process
//! adapter.

use std::error::Error;

use fast_app::Server;

/// The application's routes with the Socket.IO server mounted on them.
///
/// Every `#[namespace]` of this crate is served. Add your own HTTP routes
/// to `routes` before the layer. To serve them, pass this router and the
/// same `server` to `fast_app::serve`, as [`serve`] does.
pub fn app(routes: axum::Router, server: &Server) -> axum::Router {
    routes.layer(server.layer())
}

/// Serves the application on `address` (e.g. `127.0.0.1:3000`), after
/// printing the address it listens on (the port chosen for `:0`).
///
/// On SIGTERM or Ctrl-C it stops accepting, closes the Socket.IO clients
/// (which reconnect by themselves, to another server behind a load
/// balancer), waits for the requests in flight and returns, within 10 s.
/// `fast_app::serve` also closes connections that send no request head
/// within 10 s; `.max_connections(n)` caps the open connections.
pub async fn serve(address: &str) -> Result<(), Box<dyn Error>> {
    let server = Server::builder().build_from_env().await?;
    let app = app(axum::Router::new(), &server);
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("Socket.IO server listening on http://{}", listener.local_addr()?);
    fast_app::serve(listener, app, &server).await?;
    Ok(())
}

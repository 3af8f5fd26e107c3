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
/// to `routes` before the layer.
pub async fn app(routes: axum::Router) -> Result<axum::Router, fast_app::ServerError> {
    let server = Server::builder().build_from_env().await?;
    Ok(routes.layer(server.layer()))
}

/// Serves the application on `address` (e.g. `127.0.0.1:3000`) until Ctrl-C,
/// after printing the address it listens on (the port chosen for `:0`).
pub async fn serve(address: &str) -> Result<(), Box<dyn Error>> {
    let app = app(axum::Router::new()).await?;
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("Socket.IO server listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

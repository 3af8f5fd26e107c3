//! fast-app's server for the fan-out contract: the DSL's namespace and room
//! on the Redis adapter. Env: PORT (required), HOST (127.0.0.1),
//! REDIS_SOCKETIO_URL (redis://localhost:6379/14); FAST_APP_WORKERS (tokio
//! workers, 0 = one per core), FAST_APP_WS_READ_BUFFER (bytes, 0 = the
//! runtime's default) and FAST_APP_SERVE=axum (`axum::serve` instead of
//! `fast_app::serve`) for experiments.

use fast_app::Server;
use fast_app::redis::RedisConfig;
use fast_app_bench::env_num;

// The namespace and room are declared in the library: name it so it is linked.
use fast_app_bench as _;

fn main() {
    let workers: usize = env_num("FAST_APP_WORKERS", 0).unwrap_or(0);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.enable_all().build().expect("tokio runtime");
    if let Err(e) = runtime.block_on(serve()) {
        eprintln!("fast-app fanout-server: {e}");
        std::process::exit(1);
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT").map_err(|_| "PORT is required")?.parse()?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let config = RedisConfig::from_env();
    let mut builder = Server::builder();
    match env_num("FAST_APP_WS_READ_BUFFER", 0)? {
        0 => {}
        bytes => builder = builder.ws_read_buffer_size(bytes),
    }
    let server = builder.build_redis(&config).await?;
    let app: axum::Router = axum::Router::new().layer(server.layer());
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    eprintln!(
        "fast-app fanout-server: listen={host}:{port} redis={}",
        config.display_url()
    );
    if std::env::var("FAST_APP_SERVE").is_ok_and(|v| v == "axum") {
        axum::serve(listener, app).await?;
        return Ok(());
    }
    // What applications serve with: its timeouts and slow-consumer bounds.
    fast_app::serve(listener, app, &server).await?;
    Ok(())
}

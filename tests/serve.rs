//! `fast_app::serve` over real TCP: connections that never finish a request
//! are closed, the connection limit holds, and shutdown closes clients at
//! the transport and leaves Redis.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use common::{build, serve_until};
use fast_app::Server;
use fast_app::prelude::*;
use fast_app::redis::RedisConfig;
use redis_server::RedisServer;
use serde::Deserialize;
use socketio_test_client::{Client, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

#[namespace("/")]
#[rooms(LobbyRoom)]
struct Global;

#[derive(Room, Deserialize)]
struct LobbyRoom {}

/// A generous bound on what must happen: the tests wait for the event,
/// this only keeps a broken server from hanging them.
const BOUND: Duration = Duration::from_secs(10);

/// A served application: its address, and the trigger of its shutdown.
struct Served {
    addr: String,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    server: Server,
}

impl Served {
    async fn start(
        builder: fast_app::ServerBuilder,
        configure: impl FnOnce(fast_app::Serve) -> fast_app::Serve,
    ) -> Self {
        Self::on(build(builder).await, axum::Router::new(), configure).await
    }

    /// Serves `routes`, plus `GET /` answering `ok`, with the server's layer.
    async fn on(
        server: Server,
        routes: axum::Router,
        configure: impl FnOnce(fast_app::Serve) -> fast_app::Serve,
    ) -> Self {
        let app = routes
            .route("/", axum::routing::get(|| async { "ok" }))
            .layer(server.layer());
        let (stop, stopped) = oneshot::channel();
        let (addr, done) = serve_until(&server, app, configure, async {
            let _ = stopped.await;
        })
        .await;
        Self {
            addr,
            stop,
            done,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Signals shutdown and waits for `serve` to return; the server lives on.
    async fn shut_down(self) -> Server {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(BOUND, self.done)
            .await
            .expect("serve returns after the signal")
            .expect("serve does not panic");
        result.expect("serve returns Ok");
        self.server
    }
}

/// Reads until the server closes the connection (EOF, or a reset).
async fn closed_by_server(stream: &mut TcpStream) {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(BOUND, stream.read_to_end(&mut sink)).await;
    assert!(
        read.is_ok(),
        "the server still holds the connection after {BOUND:?}"
    );
}

/// A full request, answered, on a connection the server then closes.
async fn get(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut response))
        .await
        .expect("an answer")
        .expect("read");
    response
}

#[tokio::test]
async fn half_a_request_head_is_closed_after_the_header_read_timeout() {
    let served = Served::start(Server::builder(), |s| {
        s.header_read_timeout(Duration::from_millis(200))
    })
    .await;
    let mut stream = TcpStream::connect(&served.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nhost: te").await.unwrap();
    closed_by_server(&mut stream).await;
    served.shut_down().await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let served = Served::start(Server::builder(), |s| {
        s.header_read_timeout(Duration::from_millis(200))
    })
    .await;
    let mut stream = TcpStream::connect(&served.addr).await.unwrap();
    closed_by_server(&mut stream).await;
    // A connection that finished a request and then idles is closed too.
    let mut kept = TcpStream::connect(&served.addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    closed_by_server(&mut kept).await;
    served.shut_down().await;
}

#[tokio::test]
async fn a_request_body_that_never_finishes_is_failed_after_the_body_read_timeout() {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let routes = axum::Router::new().route(
        "/upload",
        axum::routing::post(|body: axum::body::Bytes| async move { format!("{} bytes", body.len()) }),
    );
    let served = Served::on(server, routes, |s| {
        s.body_read_timeout(Duration::from_millis(200))
    })
    .await;

    // A whole body is read.
    let mut whole = TcpStream::connect(&served.addr).await.unwrap();
    whole
        .write_all(
            b"POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        )
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(BOUND, whole.read_to_string(&mut response))
        .await
        .expect("an answer")
        .unwrap();
    assert!(response.ends_with("5 bytes"), "{response}");

    // One that announces 1000 bytes and sends 10 is answered 400, and closed.
    let mut stuck = TcpStream::connect(&served.addr).await.unwrap();
    stuck
        .write_all(b"POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\n0123456789")
        .await
        .unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(BOUND, stuck.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "the server still holds the connection after {BOUND:?}"
    );
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    served.shut_down().await;
}

#[tokio::test]
async fn over_max_connections_a_connection_is_closed_and_the_others_are_served() {
    // Long enough that the two held connections outlive the third's refusal.
    let served = Served::start(Server::builder(), |s| {
        s.max_connections(2).header_read_timeout(Duration::from_secs(2))
    })
    .await;
    // The server accepts in order: the first two take the two places.
    let mut first = TcpStream::connect(&served.addr).await.unwrap();
    let mut second = TcpStream::connect(&served.addr).await.unwrap();
    let mut third = TcpStream::connect(&served.addr).await.unwrap();
    closed_by_server(&mut third).await;

    let response = get(&mut first).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    // The idle one is closed by the header-read timeout, which frees its place.
    closed_by_server(&mut second).await;

    let client = Client::connect(&served.url())
        .await
        .expect("a Socket.IO client connects");
    assert!(client.is_connected());
    served.shut_down().await;
}

#[tokio::test]
async fn shutdown_closes_socket_io_clients_at_the_transport_and_returns() {
    let served = Served::start(Server::builder(), |s| s).await;
    let mut client = Client::connect(&served.url()).await.expect("connects");
    served.shut_down().await;
    // The websocket is closed, without a namespace DISCONNECT (after which the
    // official clients would not reconnect): the client sees the transport end.
    match client.next_event(BOUND).await {
        Err(ClientError::Closed) => {}
        other => panic!("expected the transport closed, got {other:?}"),
    }
    assert!(!client.is_connected());
}

#[tokio::test]
async fn shutdown_leaves_the_redis_channels() {
    let redis = RedisServer::start();
    let config = RedisConfig::new(redis.url())
        .with_prefix("serve")
        .with_timeout(Duration::from_secs(1));
    let server = Server::builder()
        .install_broadcaster(false)
        .build_redis(&config)
        .await
        .expect("redis-mode server builds");
    let served = Served::on(server, axum::Router::new(), |s| s).await;
    let channel = "serve-request#/#";
    assert_eq!(redis.numsub(channel), 1, "subscribed while serving");
    // The server, and its Redis connection, live on: the channels are left,
    // not merely dropped with the connection.
    let _server = served.shut_down().await;
    assert_eq!(redis.numsub(channel), 0, "unsubscribed by the shutdown");
}

#[tokio::test]
async fn a_request_in_flight_at_shutdown_is_answered_before_serve_returns() {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let (arrived, request_arrived) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some((arrived, released))));
    let routes = axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            let (arrived, released) = slot.lock().unwrap().take().expect("one request");
            async move {
                let _ = arrived.send(());
                let _ = released.await;
                "done"
            }
        }),
    );
    let served = Served::on(server, routes, |s| s).await;
    let mut stream = TcpStream::connect(&served.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    request_arrived.await.expect("the handler runs");

    let _ = served.stop.send(());
    let mut done = served.done;
    // serve waits for the request: it has not returned when the handler is released.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut done)
            .await
            .is_err(),
        "serve returned with a request in flight"
    );
    let _ = release.send(());
    let mut response = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut response))
        .await
        .expect("answered, then closed")
        .expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    tokio::time::timeout(BOUND, done)
        .await
        .expect("serve returns")
        .expect("no panic")
        .expect("Ok");
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let routes = axum::Router::new().route(
        "/peer",
        axum::routing::get(
            |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>| async move {
                peer.to_string()
            },
        ),
    );
    let served = Served::on(server, routes, |s| s).await;
    let mut stream = TcpStream::connect(&served.addr).await.unwrap();
    let local = stream.local_addr().unwrap().to_string();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut response))
        .await
        .expect("an answer")
        .expect("read");
    assert!(response.ends_with(&local), "{response}");
    served.shut_down().await;
}

#[tokio::test]
async fn past_the_shutdown_timeout_serve_returns_and_drops_what_is_still_open() {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let routes =
        axum::Router::new().route("/never", axum::routing::get(std::future::pending::<&'static str>));
    let served = Served::on(server, routes, |s| s.shutdown_timeout(Duration::from_millis(200))).await;
    let mut stream = TcpStream::connect(&served.addr).await.unwrap();
    stream
        .write_all(b"GET /never HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    // Once serve has the request (a request on a second connection is answered after it).
    let mut other = TcpStream::connect(&served.addr).await.unwrap();
    assert!(get(&mut other).await.starts_with("HTTP/1.1 200"));
    served.shut_down().await;
    closed_by_server(&mut stream).await;
}

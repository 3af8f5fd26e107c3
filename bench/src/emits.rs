//! What the micro-benchmarks share: a server on a loopback port, raw
//! websocket clients that join chats and count deliveries, and emits timed in
//! chunks.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fast_app::socketioxide::SocketIo;
use fast_app::{Broadcaster, Server};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::UpdateChat;

/// Rooms the audience is spread over.
pub const ROOMS: u64 = 10;
/// Clients in the audience.
pub const CLIENTS: u64 = 100;
/// Emits timed between two waits for the clients to catch up.
pub const CHUNK: u64 = 256;

/// A raw websocket client.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One thread for the servers, the clients and the benchmark: a timed emit
/// only queues packets, and the connections write them out while the clock
/// is stopped, so neither side's work leaks into the other's time.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// fast-app's server for this crate's namespace (not installed as the
/// global broadcaster) on a loopback port, and its websocket URL.
pub async fn fast_app_server() -> (Server, String) {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let url = serve(axum::Router::new().layer(server.layer())).await;
    (server, url)
}

/// Serves `router` on a loopback port; returns the websocket URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
}

/// The next text frame, answering pings on the way.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                ws.send(Message::text("3")).await.expect("pong");
            }
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

/// A client of `/` that has joined `chat|<chat_id>`.
pub async fn joined_client(url: &str, chat_id: u64) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    assert!(next_text(&mut ws).await.starts_with('0'), "engine.io open");
    ws.send(Message::text("40")).await.expect("connect /");
    assert!(next_text(&mut ws).await.starts_with("40"), "socket.io connect");
    join(&mut ws, chat_id).await;
    ws
}

/// `join_chat` and its `joined` reply.
pub async fn join(ws: &mut Ws, chat_id: u64) {
    let frame = format!("42[\"join_chat\",{{\"chat_id\":{chat_id}}}]");
    ws.send(Message::text(frame)).await.expect("join");
    let reply = next_text(ws).await;
    assert!(reply.starts_with("42[\"joined\""), "unexpected reply {reply}");
}

/// Connects `CLIENTS` clients, client i in chat 1 + i % ROOMS, each counting
/// the `update_chat` events it receives into the returned counter.
pub async fn audience(url: &str) -> Arc<AtomicU64> {
    let received = Arc::new(AtomicU64::new(0));
    for i in 0..CLIENTS {
        let mut ws = joined_client(url, 1 + i % ROOMS).await;
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                if let Message::Text(text) = frame {
                    if text.as_str().starts_with("42[\"update_chat\"") {
                        received.fetch_add(1, Ordering::Relaxed);
                    } else if text.as_str() == "2" {
                        let _ = ws.send(Message::text("3")).await;
                    }
                }
            }
        });
    }
    received
}

/// Waits until `received` reaches `expected`.
pub async fn caught_up(received: &AtomicU64, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::Relaxed) < expected {
        assert!(Instant::now() < deadline, "clients never received every event");
        tokio::task::yield_now().await;
    }
}

/// Event `seq`, to chat `1 + seq % ROOMS`.
pub fn event(seq: u64) -> UpdateChat {
    UpdateChat {
        chat_id: (1 + seq % ROOMS) as i64,
        seq,
        t: 0,
    }
}

/// A chunk of emits in progress. Boxed, so that a profiler sees each path's
/// poll as a function of its own (see `emit-cost`).
pub type Chunk<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Events `seqs` through the derive: `broadcast(&UpdateChat)`.
pub fn derive_chunk(broadcaster: &Broadcaster, seqs: Range<u64>) -> Chunk<'_> {
    Box::pin(async move {
        for seq in seqs {
            let sent = broadcaster.broadcast(&event(seq)).await;
            assert!(matches!(sent, Ok(true)), "{sent:?}");
        }
    })
}

/// The same events written by hand on socketioxide: the room name, then
/// `io.of("/").to(room).emit("update_chat", &event)`.
pub fn hand_chunk(io: &SocketIo, seqs: Range<u64>) -> Chunk<'_> {
    Box::pin(async move {
        for seq in seqs {
            let event = event(seq);
            let ns = io.of("/").expect("namespace /");
            let sent = ns
                .to(format!("chat|{}", event.chat_id))
                .emit("update_chat", &event)
                .await;
            assert!(sent.is_ok(), "{sent:?}");
        }
    })
}

/// Runs `iters` emits, `CHUNK` at a time, letting the clients catch up after
/// each chunk; returns the time spent in the chunks only.
pub async fn timed_emits<'a, F>(iters: u64, received: &AtomicU64, mut chunk: F) -> Duration
where
    F: FnMut(Range<u64>) -> Chunk<'a>,
{
    let per_event = CLIENTS / ROOMS;
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let size = CHUNK.min(iters - done);
        let base = received.load(Ordering::Relaxed);
        let start = Instant::now();
        chunk(done..done + size).await;
        elapsed += start.elapsed();
        caught_up(received, base + size * per_event).await;
        done += size;
    }
    elapsed
}

//! What the micro-benchmarks share: a server on a loopback port, Socket.IO
//! clients (`socketio-test-client`) that join chats and count deliveries, and
//! emits timed in chunks.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fast_app::socketioxide::SocketIo;
use fast_app::{Broadcaster, Server};
use serde_json::json;
use socketio_test_client::{Client, Event};

use crate::UpdateChat;

/// Rooms the audience is spread over.
pub const ROOMS: u64 = 10;
/// Clients in the audience.
pub const CLIENTS: u64 = 100;
/// Emits timed between two waits for the clients to catch up.
pub const CHUNK: u64 = 256;

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
/// global broadcaster) on a loopback port, and its URL.
pub async fn fast_app_server() -> (Server, String) {
    let server = Server::builder()
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds");
    let url = serve(axum::Router::new().layer(server.layer())).await;
    (server, url)
}

/// Serves `router` on a loopback port; returns its URL (`http://host:port`).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A client of `/` that has joined `chat|<chat_id>`.
pub async fn joined_client(url: &str, chat_id: u64) -> Client {
    let mut client = Client::connect(url).await.expect("connect");
    join(&mut client, chat_id).await;
    client
}

/// `join_chat` and its `joined` reply.
pub async fn join(client: &mut Client, chat_id: u64) {
    client
        .emit("join_chat", json!({ "chat_id": chat_id }))
        .await
        .expect("join");
    let reply = client.next_event(Duration::from_secs(5)).await.expect("a reply");
    assert_eq!(reply.name, "joined", "unexpected reply {reply:?}");
}

/// `CLIENTS` clients that have joined their chats, and the `update_chat`
/// events they have received so far.
pub struct Audience {
    /// Deliveries of `update_chat`, over all the clients.
    pub received: Arc<AtomicU64>,
    _clients: Vec<Client>,
}

/// Connects `CLIENTS` clients, client i in chat 1 + i % ROOMS, each counting
/// the `update_chat` events it receives, as they arrive, into one counter.
pub async fn audience(url: &str) -> Audience {
    let received = Arc::new(AtomicU64::new(0));
    let joined = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (received, joined) = (received.clone(), joined.clone());
        let client = Client::builder(url)
            .emit_on_connect("join_chat", json!({ "chat_id": 1 + i % ROOMS }))
            .on_event(move |event: Event| match event.name.as_str() {
                "update_chat" => drop(received.fetch_add(1, Ordering::Relaxed)),
                "joined" => drop(joined.fetch_add(1, Ordering::Relaxed)),
                _ => {}
            })
            .connect()
            .await
            .expect("connect");
        clients.push(client);
    }
    caught_up(&joined, CLIENTS).await;
    Audience {
        received,
        _clients: clients,
    }
}

/// Waits until `received` reaches `expected`.
pub async fn caught_up(received: &AtomicU64, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::Relaxed) < expected {
        assert!(Instant::now() < deadline, "clients never caught up");
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

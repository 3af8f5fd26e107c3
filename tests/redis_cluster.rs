//! Servers and an emitter on a real 3-master Redis Cluster, with sharded
//! pub/sub. Needs the `redis-cluster` feature (the test script enables it).
#![cfg(feature = "redis-cluster")]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fast_app::prelude::*;
use fast_app::redis::RedisConfig;
use serde_json::json;
use socketio_test_client::Client;

#[path = "common/chat_app.rs"]
mod chat_app;
#[path = "common/redis_server.rs"]
mod redis_server;

use chat_app::Said;

/// A namespace of this test alone, with a room that keeps history.
#[namespace("/kept", connect = identify)]
#[rooms(FeedRoom)]
struct Kept;

async fn identify(session: &Session, auth: &serde_json::Value) -> Result<(), ConnectError> {
    session.identify(auth["token"].as_str().unwrap_or("anonymous"));
    Ok(())
}

/// `feed`: keeps its last 50 events.
#[derive(Room, serde::Deserialize, schemars::JsonSchema)]
#[room(history = 50)]
struct FeedRoom;

#[derive(serde::Serialize, schemars::JsonSchema, BroadcastEvent)]
#[broadcast(on = FeedRoom)]
struct Item {
    n: u32,
}

/// Three `redis-server --cluster-enabled yes` joined by `redis-cli --cluster create`.
struct Cluster {
    ports: Vec<u16>,
    nodes: Vec<Child>,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("fast-app-cluster-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        // Cluster nodes also listen on port + 10000: keep both free.
        let ports: Vec<u16> = std::iter::repeat_with(free_port)
            .filter(|p| *p < 55_000)
            .take(3)
            .collect();
        let mut cluster = Self {
            ports: ports.clone(),
            nodes: Vec::new(),
            dir,
        };
        for port in &ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server runs (install it with `apt-get install redis-server`)");
            cluster.nodes.push(child);
        }
        for port in &ports {
            cluster.wait_for(*port, "PING", "PONG");
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(created.status.success(), "cluster create: {created:?}");
        for port in &ports {
            cluster.wait_for(*port, "CLUSTER INFO", "cluster_state:ok");
        }
        cluster
    }

    fn wait_for(&self, port: u16, command: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let out = Command::new("redis-cli")
                .args(["-p", &port.to_string()])
                .args(command.split(' '))
                .output();
            if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(expected)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis node {port} never answered `{command}` with `{expected}`");
    }

    fn config(&self, prefix: &str) -> RedisConfig {
        RedisConfig::cluster(self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}"))).with_prefix(prefix)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(config: &RedisConfig) -> (String, fast_app::Server) {
    let server = Server::builder()
        .install_broadcaster(false)
        .build_redis(config)
        .await
        .expect("cluster-mode server builds");
    let url = serve_on_loopback(axum::Router::new().layer(server.layer())).await;
    (url, server)
}

async fn member(url: &str) -> Client {
    let mut client = Client::builder(url)
        .auth(json!({ "token": "t" }))
        .connect()
        .await
        .unwrap();
    join(&mut client, "chat", json!({ "chat_id": 7 }), "chat|7").await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_and_an_emitter_share_broadcasts_on_a_cluster() {
    let cluster = Cluster::start();
    let config = cluster.config("cluster-app");
    let ((url_a, a), (url_b, _b)) = (serve(&config).await, serve(&config).await);
    let (mut on_a, mut on_b) = (member(&url_a).await, member(&url_b).await);

    let event = Said {
        chat_id: 7,
        text: "from a".into(),
    };
    assert!(a.broadcaster().broadcast(&event).await.unwrap());
    let payload = json!({ "chat_id": 7, "text": "from a" });
    assert_eq!(expect(&mut on_a, "said").await, payload);
    assert_eq!(expect(&mut on_b, "said").await, payload);

    let emitter = Broadcaster::redis_emitter(&config)
        .await
        .expect("emitter on the cluster");
    let event = Said {
        chat_id: 7,
        text: "from a job".into(),
    };
    assert!(emitter.broadcast(&event).await.unwrap());
    let payload = json!({ "chat_id": 7, "text": "from a job" });
    assert_eq!(expect(&mut on_a, "said").await, payload);
    assert_eq!(expect(&mut on_b, "said").await, payload);
    silent(&mut on_a).await;
    silent(&mut on_b).await;
}

#[tokio::test]
async fn an_unreachable_cluster_says_why() {
    let closed = free_port();
    let config = RedisConfig::cluster([format!("redis://127.0.0.1:{closed}")])
        .with_prefix("cluster-unreachable")
        .with_timeout(Duration::from_secs(1));
    let result = tokio::time::timeout(Duration::from_secs(15), Server::builder().build_redis(&config))
        .await
        .expect("the builder returned instead of hanging");
    let message = result.expect_err("no server without a cluster").to_string();
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains(&closed.to_string()), "{message}");
}

/// What building a cluster server on `node` alone fails with.
async fn cluster_startup_error(node: String) -> String {
    let config = RedisConfig::cluster([node])
        .with_prefix("cluster-unreachable")
        .with_timeout(Duration::from_secs(1));
    let result = tokio::time::timeout(Duration::from_secs(15), Server::builder().build_redis(&config))
        .await
        .expect("the builder returned instead of hanging");
    result.expect_err("no server without a cluster").to_string()
}

#[tokio::test]
async fn a_full_cluster_node_says_max_clients() {
    let redis = redis_server::RedisServer::start_with(&["--maxclients", "1"]);
    let _held = redis.hold_connection();
    let message = cluster_startup_error(format!("redis://127.0.0.1:{}", redis.port)).await;
    assert!(message.contains("max number of clients"), "{message}");
}

#[tokio::test]
async fn a_wrong_cluster_password_says_so() {
    let redis = redis_server::RedisServer::start_with(&["--requirepass", "right-password"]);
    let message = cluster_startup_error(format!("redis://:wrong-password@127.0.0.1:{}", redis.port)).await;
    let lower = message.to_lowercase();
    assert!(
        lower.contains("wrongpass") || lower.contains("invalid password"),
        "{message}"
    );
    assert!(!message.contains("wrong-password"), "{message}");
}

/// A client of `/kept` on `url` with `auth`.
async fn kept_client(url: &str, auth: serde_json::Value) -> Client {
    Client::builder(url)
        .namespace("/kept")
        .auth(auth)
        .connect()
        .await
        .expect("connects to /kept")
}

/// The `n` of the next `item`, and its arguments' count.
async fn item(client: &mut Client) -> (u64, usize) {
    let event = client.next_event(WAIT).await.expect("an item");
    assert_eq!(event.name, "item", "{event:?}");
    (event.args[0]["n"].as_u64().unwrap(), event.args.len())
}

/// History on a cluster: its keys in one slot per namespace, the script
/// publishing on a sharded channel. Broadcasts from a server and from an
/// emitter reach the other server once and in order, and a client resumes
/// on the other server with what it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_with_history_share_and_resume_on_a_cluster() {
    let cluster = Cluster::start();
    let config = cluster.config("cluster-kept");
    let ((url_a, a), (url_b, _b)) = (serve(&config).await, serve(&config).await);
    let mut reader = kept_client(&url_b, json!({ "token": "reader" })).await;
    join(&mut reader, "feed", json!({}), "feed").await;

    // A resumable client on A, in the feed.
    let mut away = kept_client(&url_a, json!({ "token": "away", fast_app::RESUME_AUTH: {} })).await;
    let session = away.next_event(WAIT).await.expect("fa_session");
    assert_eq!(session.name, fast_app::FA_SESSION);
    let token = session.args[0]["token"].clone();
    let at = away
        .emit_with_ack("join_feed", json!({}), WAIT)
        .await
        .expect("joined");
    away.disconnect().await.unwrap();

    for n in 1..=3 {
        assert!(a.broadcaster().broadcast(&Item { n }).await.unwrap());
    }
    let emitter = Broadcaster::redis_emitter(&config)
        .await
        .expect("emitter on the cluster");
    assert!(emitter.broadcast(&Item { n: 4 }).await.unwrap());
    for n in 1..=4 {
        assert_eq!(item(&mut reader).await, (n, 1));
    }
    silent(&mut reader).await;

    let rooms = json!([{ "key": "feed", "payload": {}, "epoch": at[0]["epoch"], "offset": at[0]["offset"] }]);
    let auth = json!({ "token": "away", fast_app::RESUME_AUTH: { "token": token, "rooms": rooms } });
    let mut back = kept_client(&url_b, auth).await;
    for n in 1..=4 {
        assert_eq!(item(&mut back).await, (n, 2), "missed, with its position");
    }
    let resumed = back.next_event(WAIT).await.expect("fa_resumed");
    assert_eq!(resumed.name, fast_app::FA_RESUMED);
    assert_eq!(
        resumed.args[0],
        json!({ "rooms": [{ "room": "feed", "key": "feed", "recovered": true }] })
    );
}

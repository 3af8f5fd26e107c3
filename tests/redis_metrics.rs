//! The Redis series of `fast_app::metrics`, against a private `redis-server`
//! per test (one is stopped and restarted): connected, reconnects, messages
//! received and dropped. Publish shortfalls: `tests/redis.rs`.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

#[path = "common/chat_app.rs"]
mod chat_app;

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use chat_app::{Said, said};
use common::scrape::Scrape;
use common::*;
use fast_app::metrics::Metrics;
use fast_app::prelude::*;
use fast_app::redis::RedisConfig;
use futures_util::future::join_all;
use redis_server::RedisServer;
use serde_json::json;
use socketio_test_client::Client;

fn metrics() -> Metrics {
    fast_app::metrics::install().expect("the recorder installs")
}

fn config(redis: &RedisServer, prefix: &str) -> RedisConfig {
    RedisConfig::new(redis.url())
        .with_prefix(prefix)
        .with_timeout(Duration::from_secs(1))
}

/// A Redis-mode server on a loopback port, and the URL of its clients.
async fn node(config: &RedisConfig) -> (Server, String) {
    let server = Server::builder()
        .install_broadcaster(false)
        .build_redis(config)
        .await
        .expect("redis-mode server builds");
    let url = serve_on_loopback(axum::Router::new().layer(server.layer())).await;
    (server, url)
}

async fn member(url: &str, name: &str) -> Client {
    let mut client = Client::builder(url)
        .auth(json!({ "token": name }))
        .connect()
        .await
        .expect("connects");
    join(&mut client, "chat", json!({ "chat_id": 1 }), "chat|1").await;
    client
}

/// Scrapes until `done` holds of the scrape (or fails after `within`).
async fn until(metrics: &Metrics, within: Duration, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + within;
    loop {
        let scrape = Scrape::parse(&metrics.render());
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "{what}; last scrape:\n{}", scrape.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_and_reconnects_follow_redis_going_away_and_coming_back() {
    let metrics = metrics();
    let mut redis = RedisServer::start();
    let config = config(&redis, "metrics-restart");
    let prefix = ("prefix", "metrics-restart");
    let (server, url) = node(&config).await;
    let emitter = Broadcaster::redis_emitter(&config)
        .await
        .expect("emitter connects");
    let mut alice = member(&url, "alice").await;
    assert!(emitter.broadcast(&said("before")).await.unwrap());
    assert_eq!(expect(&mut alice, "said").await["text"], "before");

    let m = Scrape::parse(&metrics.render());
    assert_eq!(
        m.value("fast_app_redis_connected", &[prefix]),
        2.0,
        "the server and the emitter"
    );
    assert!(m.value("fast_app_redis_messages_received_total", &[prefix]) >= 1.0);
    assert_eq!(m.value("fast_app_redis_reconnects_total", &[prefix]), 0.0);
    assert_eq!(m.value("fast_app_redis_messages_dropped_total", &[prefix]), 0.0);

    redis.stop();
    until(&metrics, WAIT, "both connections seen lost", |m| {
        m.get("fast_app_redis_connected", &[prefix]) == Some(0.0)
    })
    .await;

    redis.restart();
    // The server subscribes again by itself; the emitter's connection is
    // seen up at its next publish.
    let deadline = Instant::now() + Duration::from_secs(20);
    while emitter.broadcast(&said("after")).await.is_err() {
        assert!(Instant::now() < deadline, "the emitter did not publish again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = until(&metrics, Duration::from_secs(20), "both connections back", |m| {
        m.get("fast_app_redis_connected", &[prefix]) == Some(2.0)
    })
    .await;
    assert_eq!(m.value("fast_app_redis_reconnects_total", &[prefix]), 2.0);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_a_full_stream_buffer_drops_are_counted() {
    let metrics = metrics();
    let redis = RedisServer::start();
    // One message of room for the adapter: a burst overflows it.
    let config = config(&redis, "metrics-overflow").with_stream_buffer(1);
    let prefix = ("prefix", "metrics-overflow");
    let (_server, url) = node(&config).await;
    let _alice = member(&url, "alice").await;
    let emitter = Broadcaster::redis_emitter(&config)
        .await
        .expect("emitter connects");

    let events: Vec<Said> = (0..2000).map(|i| said(&i.to_string())).collect();
    let sent = join_all(events.iter().map(|event| emitter.broadcast(event).into_future())).await;
    assert!(sent.iter().all(|r| matches!(r, Ok(true))));

    let m = until(&metrics, WAIT, "every message received", |m| {
        m.get("fast_app_redis_messages_received_total", &[prefix]) >= Some(2000.0)
    })
    .await;
    let dropped = m.value("fast_app_redis_messages_dropped_total", &[prefix]);
    assert!(
        dropped > 0.0,
        "a burst of 2000 into a buffer of 1 dropped none:\n{}",
        m.text
    );
    assert_eq!(m.value("fast_app_redis_connected", &[prefix]), 2.0);
}

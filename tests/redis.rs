//! Fan-out through a real Redis: several servers, a publish-only emitter,
//! prefixes, and Redis going away and coming back.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use common::*;
use fast_app::ServerError;
use fast_app::prelude::*;
use fast_app::redis::RedisConfig;
use redis_server::RedisServer;
use serde_json::json;
use socketio_test_client::Client;

#[path = "common/chat_app.rs"]
mod chat_app;

use chat_app::said;

/// A Redis-mode server on a loopback port.
struct Node {
    url: String,
    server: fast_app::Server,
}

impl Node {
    async fn start(config: &RedisConfig) -> Self {
        let server = Server::builder()
            .install_broadcaster(false)
            .build_redis(config)
            .await
            .expect("redis-mode server builds");
        let url = serve_on_loopback(axum::Router::new().layer(server.layer())).await;
        Self { url, server }
    }

    /// A client in chat 1.
    async fn member(&self, name: &str) -> Client {
        let mut client = Client::builder(&self.url)
            .auth(json!({ "token": name }))
            .connect()
            .await
            .expect("connects");
        join(&mut client, "chat", json!({ "chat_id": 1 }), "chat|1").await;
        client
    }
}

fn config(redis: &RedisServer, prefix: &str) -> RedisConfig {
    RedisConfig::new(redis.url())
        .with_prefix(prefix)
        .with_timeout(Duration::from_secs(1))
}

async fn receives(client: &mut Client, text: &str) {
    assert_eq!(
        expect(client, "said").await,
        json!({ "chat_id": 1, "text": text })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_from_either_server_reaches_clients_on_both_once() {
    let redis = RedisServer::start();
    let config = config(&redis, "two-servers");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    assert!(a.server.broadcaster().broadcast(&said("from a")).await.unwrap());
    receives(&mut on_a, "from a").await;
    receives(&mut on_b, "from a").await;
    assert!(b.server.broadcaster().broadcast(&said("from b")).await.unwrap());
    receives(&mut on_a, "from b").await;
    receives(&mut on_b, "from b").await;
    silent(&mut on_a).await;
    silent(&mut on_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emitter_reaches_every_server_and_subscribes_to_nothing() {
    let redis = RedisServer::start();
    let config = config(&redis, "emitter");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    let channel = "emitter-request#/#";
    assert_eq!(redis.numsub(channel), 2, "the two servers");
    let emitter = Broadcaster::redis_emitter(&config)
        .await
        .expect("emitter connects");
    assert_eq!(redis.numsub(channel), 2, "the emitter subscribed to nothing");
    assert!(emitter.broadcast(&said("from a job")).await.unwrap());
    receives(&mut on_a, "from a job").await;
    receives(&mut on_b, "from a job").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_with_different_prefixes_do_not_see_each_other() {
    let redis = RedisServer::start();
    let (one, two) = (config(&redis, "app-one"), config(&redis, "app-two"));
    let (a, b) = (Node::start(&one).await, Node::start(&two).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    Broadcaster::redis_emitter(&one)
        .await
        .unwrap()
        .broadcast(&said("for app one"))
        .await
        .unwrap();
    receives(&mut on_a, "for app one").await;
    silent(&mut on_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_broadcasts_fail_in_bounded_time_and_delivery_resumes_after() {
    let mut redis = RedisServer::start();
    let config = config(&redis, "restart");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    assert!(a.server.broadcaster().broadcast(&said("before")).await.unwrap());
    receives(&mut on_a, "before").await;
    receives(&mut on_b, "before").await;

    redis.stop();
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        a.server.broadcaster().broadcast(&said("while down")),
    )
    .await
    .expect("broadcast returned instead of hanging");
    assert!(result.is_err(), "a failed publish is an error: {result:?}");
    eprintln!("broadcast failed after {:?} with Redis down", started.elapsed());
    // The server's own clients still got it, and everyone is still connected.
    receives(&mut on_a, "while down").await;
    assert!(on_a.is_connected() && on_b.is_connected());
    silent(&mut on_b).await;

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "delivery did not resume after Redis came back"
        );
        if a.server.broadcaster().broadcast(&said("after")).await.is_ok()
            && let Ok(event) = on_b.next_event(Duration::from_millis(500)).await
        {
            assert_eq!(event.args[0]["text"], json!("after"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both directions work again. (Retries that failed to publish were still
    // delivered to a's own client, so it may hold several "after".)
    assert!(
        b.server
            .broadcaster()
            .broadcast(&said("from b again"))
            .await
            .unwrap()
    );
    loop {
        let event = on_a
            .next_event_named("said", WAIT)
            .await
            .expect("a receives from b");
        match event.args[0]["text"].as_str() {
            Some("after") => continue,
            text => {
                assert_eq!(text, Some("from b again"));
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_missed_by_a_re_subscribing_server_are_counted() {
    let metrics = fast_app::metrics::install().expect("the recorder installs");
    let redis = RedisServer::start();
    let config = config(&redis, "shortfall");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    assert!(a.server.broadcaster().broadcast(&said("both")).await.unwrap());
    receives(&mut on_a, "both").await;
    receives(&mut on_b, "both").await;
    assert_eq!(fast_app::redis::publish_shortfalls("shortfall"), 0);

    // Keep B out while its subscriber connection is gone: nobody new gets
    // in (`maxclients`), and B's connection is killed (B started last).
    let mut control = redis.control();
    let subscribers = control.subscriber_ids();
    assert_eq!(subscribers.len(), 2, "one subscriber connection per server");
    assert_eq!(control.command(&["CONFIG", "SET", "maxclients", "1"]), "OK");
    let b_id = subscribers[1].to_string();
    assert_eq!(control.command(&["CLIENT", "KILL", "ID", &b_id]), "1");
    // Acknowledged, as before: the message was published, to A alone.
    assert!(a.server.broadcaster().broadcast(&said("lost")).await.unwrap());
    receives(&mut on_a, "lost").await;

    assert_eq!(control.command(&["CONFIG", "SET", "maxclients", "10000"]), "OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.numsub("shortfall-request#/#") < 2 {
        assert!(Instant::now() < deadline, "B did not subscribe again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The next publish reaches both again: the one B missed is counted.
    assert!(a.server.broadcaster().broadcast(&said("after")).await.unwrap());
    receives(&mut on_b, "after").await;
    assert_eq!(fast_app::redis::publish_shortfalls("shortfall"), 1);
    // ...and in the metrics, with the reconnect of B's connection.
    let scrape = common::scrape::Scrape::parse(&metrics.render());
    let prefix = [("prefix", "shortfall")];
    assert_eq!(
        scrape.value("fast_app_redis_publish_shortfalls_total", &prefix),
        1.0
    );
    assert_eq!(scrape.value("fast_app_redis_connected", &prefix), 2.0);
    assert_eq!(scrape.value("fast_app_redis_reconnects_total", &prefix), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_that_reach_every_server_count_no_shortfall() {
    let redis = RedisServer::start();
    let config = config(&redis, "no-shortfall");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let (mut on_a, mut on_b) = (a.member("alice").await, b.member("bob").await);
    for text in ["one", "two", "three"] {
        assert!(a.server.broadcaster().broadcast(&said(text)).await.unwrap());
        assert!(b.server.broadcaster().broadcast(&said(text)).await.unwrap());
        for client in [&mut on_a, &mut on_b] {
            receives(client, text).await;
            receives(client, text).await;
        }
    }
    assert_eq!(fast_app::redis::publish_shortfalls("no-shortfall"), 0);
}

#[tokio::test]
async fn starting_with_redis_unreachable_is_one_clear_error_naming_the_url() {
    let mut redis = RedisServer::start();
    redis.stop();
    let config = config(&redis, "down");
    let result = tokio::time::timeout(Duration::from_secs(15), Server::builder().build_redis(&config))
        .await
        .expect("the builder returned instead of hanging");
    match result {
        Err(ServerError::Redis { url, source }) => {
            assert!(url.contains(&redis.port.to_string()), "{url}");
            assert!(!source.to_string().is_empty());
        }
        Err(other) => panic!("expected a redis error, got {other}"),
        Ok(_) => panic!("built a server without Redis"),
    }
    let emitter = tokio::time::timeout(Duration::from_secs(15), Broadcaster::redis_emitter(&config))
        .await
        .expect("the emitter returned instead of hanging");
    assert!(matches!(emitter, Err(ServerError::Redis { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_startup_wait_a_server_waits_for_redis_to_come_up() {
    let mut redis = RedisServer::start();
    redis.stop();
    let config = config(&redis, "late").with_startup_wait(Duration::from_secs(20));
    let starting = tokio::spawn(async move { Node::start(&config).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!starting.is_finished(), "still waiting for Redis");
    redis.restart();
    let node = starting.await.expect("started once Redis was up");
    let mut member = node.member("late-alice").await;
    node.server.broadcaster().broadcast(&said("late")).await.unwrap();
    receives(&mut member, "late").await;
}

/// What building a server on `config` fails with, in Display form (what a
/// `main` that prints its error shows), within a bound.
async fn startup_error(config: &RedisConfig) -> String {
    let result = tokio::time::timeout(Duration::from_secs(15), Server::builder().build_redis(config))
        .await
        .expect("the builder returned instead of hanging");
    match result {
        Err(e @ ServerError::Redis { .. }) => e.to_string(),
        Err(other) => panic!("expected a redis error, got {other}"),
        Ok(_) => panic!("built a server without Redis"),
    }
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    let mut redis = RedisServer::start();
    redis.stop();
    let message = startup_error(&config(&redis, "refused")).await;
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains(&redis.port.to_string()), "{message}");
}

#[tokio::test]
async fn an_unresolvable_host_says_the_lookup_failed() {
    let config = RedisConfig::new("redis://no-such-host.invalid:6379").with_timeout(Duration::from_secs(1));
    let message = startup_error(&config).await;
    let lower = message.to_lowercase();
    assert!(
        lower.contains("no-such-host.invalid") && (lower.contains("resolve") || lower.contains("lookup")),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_password_says_so_and_is_not_shown() {
    let redis = RedisServer::start_with(&["--requirepass", "right-password"]);
    let url = format!("redis://:wrong-password@127.0.0.1:{}/14", redis.port);
    let message = startup_error(&RedisConfig::new(url).with_timeout(Duration::from_secs(1))).await;
    let lower = message.to_lowercase();
    assert!(
        lower.contains("wrongpass") || lower.contains("invalid password"),
        "{message}"
    );
    assert!(!message.contains("wrong-password"), "{message}");
}

#[tokio::test]
async fn a_full_redis_says_max_clients() {
    let redis = RedisServer::start_with(&["--maxclients", "1"]);
    let _held = redis.hold_connection();
    let message = startup_error(&config(&redis, "full")).await;
    assert!(message.contains("max number of clients"), "{message}");
}

#[tokio::test]
async fn the_emitter_reports_the_cause_too() {
    let mut redis = RedisServer::start();
    redis.stop();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        Broadcaster::redis_emitter(&config(&redis, "refused-emitter")),
    )
    .await
    .expect("the emitter returned instead of hanging");
    let message = result.expect_err("no emitter without Redis").to_string();
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_url_without_a_scheme_is_refused_without_showing_its_password() {
    let config = RedisConfig::new("user:secret@127.0.0.1:1").with_timeout(Duration::from_secs(1));
    let message = startup_error(&config).await;
    assert!(!message.contains("secret"), "{message}");
    assert!(message.contains("user:***@127.0.0.1:1"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_left_out_is_left_out_on_every_server_and_by_the_emitter() {
    let redis = RedisServer::start();
    let config = config(&redis, "except");
    let (a, b) = (Node::start(&config).await, Node::start(&config).await);
    let mut alice = a.member("alice").await;
    let (mut bob, mut carol) = (b.member("bob").await, b.member("carol").await);
    let (alice_id, carol_id) = (public_id(&mut alice).await, public_id(&mut carol).await);

    // From server A, leaving out a socket of server B; then one of A.
    let from_a = a.server.broadcaster();
    assert!(
        from_a
            .broadcast(&said("not carol"))
            .except(carol_id)
            .await
            .unwrap()
    );
    receives(&mut alice, "not carol").await;
    receives(&mut bob, "not carol").await;
    assert!(
        from_a
            .broadcast(&said("not alice"))
            .except(alice_id)
            .await
            .unwrap()
    );
    receives(&mut bob, "not alice").await;
    receives(&mut carol, "not alice").await;

    // A job's emitter, with the id its request carried.
    let emitter = Broadcaster::redis_emitter(&config).await.expect("emitter");
    assert!(
        emitter
            .broadcast(&said("from a job"))
            .except(alice_id)
            .await
            .unwrap()
    );
    receives(&mut bob, "from a job").await;
    receives(&mut carol, "from a job").await;
    for client in [&mut alice, &mut bob, &mut carol] {
        silent(client).await;
    }
}

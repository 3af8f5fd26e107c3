//! The chat example's `GET /metrics`, scraped after real clients connected,
//! joined, were refused and received broadcasts. One test in its own binary:
//! the recorder is the process', and these are its only series.

#[path = "../examples/chat/http.rs"]
mod http;
#[path = "../examples/chat/socketio.rs"]
#[allow(dead_code)]
mod socketio;

mod common;

use std::time::Instant;

use common::scrape::{Scrape, scrape};
use common::*;
use fast_app::Server;
use serde_json::json;
use socketio_test_client::Client;

const NS: (&str, &str) = ("namespace", "/");

#[tokio::test]
async fn the_chat_example_serves_its_metrics() {
    let metrics = fast_app::metrics::install().expect("the recorder installs");
    let again = fast_app::metrics::install().expect("installing again returns it");
    let server = Server::builder().build().await.expect("chat server builds");
    let url = serve_on_loopback(http::routes(&metrics).layer(server.layer())).await;
    let client = |name: &'static str| chat_user(&url, name);

    // A refused connection, two accepted, one of which goes away.
    assert_eq!(
        refusal(Client::builder(&url).connect().await),
        "No access token provided"
    );
    let mut alice = client("alice").await;
    let bob = client("bob").await;
    let bob_sid = bob.sid().to_owned();
    bob.disconnect().await.expect("bob leaves");

    // A join, a forbidden join, a payload that is no room, a leave.
    join_chat(&mut alice, 1, &["alice"]).await;
    alice.emit("join_chat", json!({ "chat_id": 101 })).await.unwrap();
    assert_eq!(
        expect(&mut alice, "error").await,
        json!({ "type": "forbidden", "room": "chat|101" })
    );
    alice
        .emit("join_chat", json!({ "chat_id": "one" }))
        .await
        .unwrap();
    assert_eq!(expect(&mut alice, "error").await["type"], "validation_error");

    // A broadcast sent (alice receives it), one skipped (an archived chat).
    let message = json!({ "user": "ops", "text": "maintenance" });
    let (status, body) = http_request(&url, "POST", "/chats/1/messages", &message).await;
    assert_eq!((status, body), (202, json!({ "sent": true })));
    assert_eq!(expect(&mut alice, "message_sent").await["text"], "maintenance");
    let archived = json!({ "title": "Old", "archived": true });
    let (status, body) = http_request(&url, "PUT", "/chats/1", &archived).await;
    assert_eq!((status, body), (202, json!({ "sent": false })));

    alice.emit("leave_chat", json!({ "chat_id": 1 })).await.unwrap();
    assert_eq!(expect(&mut alice, "left").await, json!({ "room": "chat|1" }));

    // Bob's disconnect is handled by the server in the background.
    let deadline = Instant::now() + WAIT;
    let metrics_now = loop {
        let (status, content_type, now) = scrape(&url, "/metrics").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        if now.get("fast_app_connections_open", &[NS]) == Some(1.0) || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let m: &Scrape = &metrics_now;

    assert_eq!(m.value("fast_app_connections_open", &[NS]), 1.0);
    assert_eq!(m.value("fast_app_connections_opened_total", &[NS]), 2.0);
    assert_eq!(m.value("fast_app_connections_refused_total", &[NS]), 1.0);

    let joins = |outcome| {
        m.value(
            "fast_app_room_joins_total",
            &[NS, ("room_key", "chat"), ("outcome", outcome)],
        )
    };
    assert_eq!(joins("joined"), 1.0);
    assert_eq!(joins("forbidden"), 1.0);
    assert_eq!(joins("validation_error"), 1.0);
    let leaves = |outcome| {
        m.value(
            "fast_app_room_leaves_total",
            &[NS, ("room_key", "chat"), ("outcome", outcome)],
        )
    };
    assert_eq!(leaves("left"), 1.0);
    assert_eq!(leaves("validation_error"), 0.0);
    let leave_forbidden = [NS, ("room_key", "chat"), ("outcome", "forbidden")];
    assert_eq!(
        m.get("fast_app_room_leaves_total", &leave_forbidden),
        None,
        "a leave is never forbidden"
    );
    assert_eq!(
        m.get(
            "fast_app_room_joins_total",
            &[NS, ("room_key", "user"), ("outcome", "joined")]
        ),
        None,
        "a room nobody asked to join has no series yet"
    );

    let broadcasts = |event, outcome| {
        m.value(
            "fast_app_broadcasts_total",
            &[("event", event), ("outcome", outcome)],
        )
    };
    assert_eq!(broadcasts("message_sent", "sent"), 1.0);
    assert_eq!(broadcasts("message_sent", "failed"), 0.0);
    assert_eq!(broadcasts("update_chat", "skipped"), 1.0);
    assert_eq!(broadcasts("update_chat", "sent"), 0.0);
    // Timed when sent, and only then; rendered as a histogram with buckets.
    let event = ("event", "message_sent");
    assert_eq!(
        m.value("fast_app_broadcast_duration_seconds_count", &[event]),
        1.0
    );
    assert_eq!(
        m.value(
            "fast_app_broadcast_duration_seconds_bucket",
            &[event, ("le", "+Inf")]
        ),
        1.0
    );
    let seconds = m.value("fast_app_broadcast_duration_seconds_sum", &[event]);
    assert!(seconds > 0.0 && seconds < 1.0, "{seconds}");
    assert_eq!(
        m.value(
            "fast_app_broadcast_duration_seconds_count",
            &[("event", "update_chat")]
        ),
        0.0
    );
    assert!(
        m.text
            .contains("# TYPE fast_app_broadcast_duration_seconds histogram")
    );
    assert!(m.text.contains("# HELP fast_app_broadcasts_total"));

    // Every name is fast-app's, and no socket id is in any of them.
    for line in m.text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        assert!(line.starts_with("fast_app_"), "{line}");
        assert!(!line.contains(alice.sid()) && !line.contains(&bob_sid), "{line}");
    }

    // The second install gave the same recorder.
    assert!(again.render().contains("fast_app_connections_opened_total"));
}

//! Allowed origins: a page of another origin is refused on both transports,
//! polling from an allowed one gets its CORS headers, clients that send no
//! `Origin` are served, and a server without the option accepts any origin.

mod common;

use common::*;
use fast_app::Server;
use fast_app::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use socketio_test_client::{Client, ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite;

// ---- the application under test -------------------------------------------------

#[namespace("/")]
#[rooms(ChatRoom)]
struct Root;

#[derive(Clone, Room, Deserialize, JsonSchema)]
struct ChatRoom {
    chat_id: u64,
}

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.example.net";
const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

async fn guarded() -> TestServer {
    // Written as an operator might: the case of the host and the default port do not matter.
    TestServer::start_with(Server::builder().allowed_origins(["HTTPS://App.Example.com:443/"])).await
}

/// A response read off the wire: status, headers (names lowercase), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} sent twice: {:?}", self.headers);
        value
    }
}

/// Sends one HTTP/1.1 request with `Origin: origin` (none if `None`).
async fn request(url: &str, method: &str, path: &str, origin: Option<&str>, body: &str) -> Reply {
    request_with(url, method, path, origin, "", body).await
}

/// [`request`], with `extra` header lines (each ending in `\r\n`).
async fn request_with(
    url: &str,
    method: &str,
    path: &str,
    origin: Option<&str>,
    extra: &str,
    body: &str,
) -> Reply {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("http connect");
    let origin = origin.map(|o| format!("origin: {o}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{origin}{extra}content-type: text/plain;charset=UTF-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("http write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("http read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines.next().expect("status line")[9..12]
        .parse()
        .expect("status code");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn assert_cors(reply: &Reply, origin: &str) {
    assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
    assert_eq!(reply.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        reply.header("vary").map(str::to_ascii_lowercase).as_deref(),
        Some("origin")
    );
}

/// The session id of a polling handshake's Engine.IO open packet.
fn sid(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "handshake: {}", reply.body);
    let open: serde_json::Value =
        serde_json::from_str(reply.body.strip_prefix('0').expect("an open packet")).unwrap();
    open["sid"].as_str().expect("sid").to_owned()
}

async fn websocket_from(url: &str, origin: &str) -> Result<Client, ClientError> {
    Client::builder(url).header("Origin", origin).connect().await
}

// ---- websocket ------------------------------------------------------------------

#[tokio::test]
async fn a_websocket_from_another_origin_is_refused_and_one_from_the_app_joins() {
    let server = guarded().await;

    match websocket_from(&server.url, EVIL).await {
        Err(ClientError::WebSocket(e)) => match *e {
            tungstenite::Error::Http(response) => assert_eq!(response.status(), 403),
            other => panic!("expected an HTTP refusal, got {other}"),
        },
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a websocket from {EVIL} connected"),
    }

    let mut client = websocket_from(&server.url, APP)
        .await
        .expect("the app's page connects");
    join(&mut client, "chat", json!({ "chat_id": 1 }), "chat|1").await;
}

// ---- polling ----------------------------------------------------------------------

#[tokio::test]
async fn polling_from_another_origin_is_refused() {
    let server = guarded().await;

    let reply = request(&server.url, "GET", HANDSHAKE, Some(EVIL), "").await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body, "origin not allowed\n");
    assert_eq!(reply.header("access-control-allow-origin"), None);

    // A session opened without an Origin cannot be driven from another page.
    let sid = sid(&request(&server.url, "GET", HANDSHAKE, None, "").await);
    let path = format!("{HANDSHAKE}&sid={sid}");
    let reply = request(&server.url, "POST", &path, Some(EVIL), "40").await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn polling_from_the_app_gets_the_cors_headers() {
    let server = guarded().await;

    let reply = request(&server.url, "GET", HANDSHAKE, Some(APP), "").await;
    let sid = sid(&reply);
    assert_cors(&reply, APP);

    let path = format!("{HANDSHAKE}&sid={sid}");
    let reply = request(&server.url, "POST", &path, Some(APP), "40").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    assert_cors(&reply, APP);
}

#[tokio::test]
async fn a_preflight_from_the_app_is_answered() {
    let server = guarded().await;

    let reply = request(&server.url, "OPTIONS", HANDSHAKE, Some(APP), "").await;
    assert_eq!(reply.status, 204);
    assert_cors(&reply, APP);
    assert_eq!(reply.header("access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(reply.header("access-control-allow-headers"), Some("content-type"));

    // A client's extra headers (socket.io-client's `extraHeaders`) are allowed.
    let asked = "access-control-request-headers: authorization, x-tenant\r\n";
    let reply = request_with(&server.url, "OPTIONS", HANDSHAKE, Some(APP), asked, "").await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("authorization, x-tenant")
    );

    let reply = request(&server.url, "OPTIONS", HANDSHAKE, Some(EVIL), "").await;
    assert_eq!(reply.status, 403);
}

// ---- clients without an Origin, servers without the option ------------------------

#[tokio::test]
async fn clients_that_send_no_origin_are_served() {
    let server = guarded().await;

    let reply = request(&server.url, "GET", HANDSHAKE, None, "").await;
    sid(&reply);
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let mut client = Client::connect(&server.url)
        .await
        .expect("a client without Origin connects");
    join(&mut client, "chat", json!({ "chat_id": 2 }), "chat|2").await;
}

#[tokio::test]
async fn without_the_option_any_origin_is_accepted() {
    let server = TestServer::start().await;

    let reply = request(&server.url, "GET", HANDSHAKE, Some(EVIL), "").await;
    sid(&reply);
    assert_eq!(reply.header("access-control-allow-origin"), None);

    let mut client = websocket_from(&server.url, EVIL)
        .await
        .expect("any origin connects");
    join(&mut client, "chat", json!({ "chat_id": 3 }), "chat|3").await;
}

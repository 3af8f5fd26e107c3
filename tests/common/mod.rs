//! Shared by the integration tests: a real server on a loopback port.

#![allow(dead_code)]

pub mod scrape;

use std::time::Duration;

use fast_app::{Server, ServerBuilder};
use serde_json::{Value, json};
use socketio_test_client::{Client, ClientError, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test listens for something that should not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// The user a test application's `connect` stores: its `auth.token`.
#[derive(Clone, Debug)]
pub struct User(pub String);

/// A `connect` that takes a non-empty `auth.token` as the user's name, and
/// refuses a client without one.
pub async fn authenticate(session: &fast_app::Session, auth: &Value) -> Result<(), fast_app::ConnectError> {
    match auth.get("token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => {
            session.insert(User(token.to_owned()));
            Ok(())
        }
        _ => Err(fast_app::ConnectError::new("No access token provided")),
    }
}

/// Serves `app` on `127.0.0.1:<free port>` in the background; returns its URL.
pub async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Serves `app` (which holds `server`'s layer) through `fast_app::serve`,
/// set up by `configure`, on `127.0.0.1:<free port>` until `stop` resolves.
/// Returns the address and the serving task.
pub async fn serve_until(
    server: &Server,
    app: axum::Router,
    configure: impl FnOnce(fast_app::Serve) -> fast_app::Serve,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let serve = configure(fast_app::serve(listener, app, server)).with_shutdown_signal(stop);
    (addr, tokio::spawn(serve.into_future()))
}

/// This test binary's namespaces on the in-process adapter, with a
/// broadcaster of their own (tests run in parallel in one process).
pub async fn build(builder: ServerBuilder) -> Server {
    builder
        .install_broadcaster(false)
        .build()
        .await
        .expect("server builds")
}

/// A server serving this test binary's namespaces on `127.0.0.1:<free port>`.
pub struct TestServer {
    pub url: String,
    pub server: Server,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Server::builder()).await
    }

    pub async fn start_with(builder: ServerBuilder) -> Self {
        let server = build(builder).await;
        let url = serve_on_loopback(axum::Router::new().layer(server.layer())).await;
        Self { url, server }
    }

    /// The same, served through `fast_app::serve` set up by `configure`.
    pub async fn serve_with(
        builder: ServerBuilder,
        configure: impl FnOnce(fast_app::Serve) -> fast_app::Serve,
    ) -> Self {
        let server = build(builder).await;
        let app = axum::Router::new().layer(server.layer());
        let (addr, _) = serve_until(&server, app, configure, std::future::pending()).await;
        let url = format!("http://{addr}");
        Self { url, server }
    }

    /// A client of namespace `ns` with `auth: {"token": token}`.
    pub async fn client_of(&self, ns: &str, token: &str) -> Client {
        Client::builder(&self.url)
            .namespace(ns)
            .auth(json!({ "token": token }))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{token} connects to {ns}: {e}"))
    }

    /// A client of `/` named `token`.
    pub async fn client(&self, token: &str) -> Client {
        self.client_of("/", token).await
    }
}

/// A user of the chat example, connected as `name` and welcomed: the
/// example's `connected` hook sends `welcome {"user": name}` first.
pub async fn chat_user(url: &str, name: &str) -> Client {
    let mut client = Client::builder(url)
        .auth(json!({ "token": name }))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{name} connects: {e}"));
    assert_eq!(expect(&mut client, "welcome").await, json!({ "user": name }));
    client
}

/// What the chat example's members see of user `name`.
pub fn chat_member(name: &str) -> Value {
    json!({ "id": name, "info": { "name": name } })
}

/// Joins chat `id` of the chat example, and checks `joined`, then
/// `presence_state` with `members` (sorted).
pub async fn join_chat(client: &mut Client, id: u64, members: &[&str]) {
    let members: Vec<Value> = members.iter().map(|name| chat_member(name)).collect();
    join_presence(
        client,
        "chat",
        json!({ "chat_id": id }),
        &format!("chat|{id}"),
        &members,
    )
    .await;
}

/// Joins presence room `room` through `join_<key>`, and checks `joined`,
/// then `presence_state` with `members`. A `presence_join` of one of those
/// members may come first, or between: the joiner is in the room from the
/// join on, and a member who joined just before is announced to it too.
pub async fn join_presence(client: &mut Client, key: &str, payload: Value, room: &str, members: &[Value]) {
    client
        .emit(&format!("join_{key}"), payload)
        .await
        .expect("emit join");
    for (name, body) in [
        ("joined", json!({ "room": room })),
        ("presence_state", json!({ "room": room, "members": members })),
    ] {
        let event = loop {
            let event = client
                .next_event(WAIT)
                .await
                .unwrap_or_else(|e| panic!("waiting for `{name}`: {e}"));
            let announced = event.name == "presence_join"
                && event
                    .args
                    .first()
                    .is_some_and(|a| a["room"] == room && members.contains(&a["member"]));
            if !announced {
                break event;
            }
        };
        assert_eq!(event.name, name, "unexpected event {event:?}");
        assert_eq!(event.args.first(), Some(&body));
    }
}

/// Checks that the next event is the chat example's `presence_join` (or
/// `presence_leave`, as `event`) of `name` in chat `id`.
pub async fn presence_event(client: &mut Client, event: &str, id: u64, name: &str) {
    assert_eq!(
        expect(client, event).await,
        json!({ "room": format!("chat|{id}"), "member": chat_member(name) })
    );
}

/// Asks the server for `client`'s public id (`socket_id`, with an
/// acknowledgement), and checks that the reply event says the same.
pub async fn public_id(client: &mut Client) -> fast_app::SocketId {
    let ack = client
        .emit_with_ack("socket_id", Value::Null, WAIT)
        .await
        .expect("socket_id is acknowledged");
    let body = ack.into_iter().next().unwrap_or(Value::Null);
    assert_eq!(
        expect(client, "socket_id").await,
        body,
        "event and acknowledgement"
    );
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a socket id: {body}"))
}

/// The next event, which must be `name`; returns its first argument.
pub async fn expect(client: &mut Client, name: &str) -> Value {
    let event = client
        .next_event(WAIT)
        .await
        .unwrap_or_else(|e| panic!("waiting for `{name}`: {e}"));
    assert_eq!(event.name, name, "unexpected event {event:?}");
    event.args.into_iter().next().unwrap_or(Value::Null)
}

/// Joins through `join_<key>` and checks the `joined` reply.
pub async fn join(client: &mut Client, key: &str, payload: Value, room: &str) {
    client
        .emit(&format!("join_{key}"), payload)
        .await
        .expect("emit join");
    assert_eq!(expect(client, "joined").await, json!({ "room": room }));
}

/// Asserts nothing arrives for a while.
pub async fn silent(client: &mut Client) {
    if let Err(event) = client.expect_silence(QUIET).await {
        panic!("expected silence, got {event:?}");
    }
}

/// The refusal message of a connect that must fail.
pub fn refusal(result: Result<Client, ClientError>) -> String {
    match result {
        Err(ClientError::Refused { message, .. }) => message,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the client connected"),
    }
}

pub fn event(name: &str, arg: Value) -> Event {
    Event {
        name: name.to_owned(),
        args: vec![arg],
    }
}

/// Sends one HTTP/1.1 request with a JSON body and returns the status code
/// and the JSON body of the answer (`Null` when it is not JSON).
pub async fn http_request(url: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let json = [("content-type", "application/json")];
    let (status, body) = http(url, method, path, &json, &body.to_string()).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Sends one HTTP/1.1 request with `headers` and `body` (as it is, e.g. a
/// polling packet) and returns the status code and body of the answer.
pub async fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("http connect");
    let headers: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("http write");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("an answer")
        .expect("http read");
    let response = String::from_utf8_lossy(&response);
    let status = response[9..12].parse().expect("status code");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, body.to_owned())
}

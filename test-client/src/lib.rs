//! A Socket.IO v5 client over Engine.IO v4, websocket transport only, for
//! tests and load generation against real servers.
//!
//! It answers the server's pings in the background, routes acknowledgements
//! to their waiters and queues every event without bound, so nothing a test
//! expects can be lost while it is not reading. A load generator can instead
//! take each event the moment it arrives, with [`ClientBuilder::on_event`].
//!
//! ```no_run
//! # async fn run() -> Result<(), socketio_test_client::ClientError> {
//! use std::time::Duration;
//! use serde_json::json;
//! use socketio_test_client::Client;
//!
//! let mut client = Client::builder("http://127.0.0.1:3000")
//!     .auth(json!({ "token": "alice" }))
//!     .connect()
//!     .await?;
//! client.emit("join_chat", json!({ "chat_id": 1 })).await?;
//! let joined = client.next_event(Duration::from_secs(5)).await?;
//! assert_eq!(joined.name, "joined");
//! # Ok(()) }
//! ```

pub mod protocol;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{self, HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use protocol::{Frame, Packet};

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The websocket failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The server broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused the namespace connection (`connect_error`).
    #[error("connection refused: {message}")]
    Refused {
        /// The refusal message.
        message: String,
        /// The refusal's `data`, if any.
        data: Option<Value>,
    },
    /// Nothing came in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// An event the server sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<Value>,
}

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>;

/// Where the connection's task puts each event it receives.
type OnEvent = Arc<dyn Fn(Event) + Send + Sync>;

/// A connection to one namespace of a Socket.IO server.
pub struct Client {
    ns: String,
    sid: String,
    out: mpsc::UnboundedSender<Message>,
    events: mpsc::UnboundedReceiver<Event>,
    _idle_queue: Option<mpsc::UnboundedSender<Event>>,
    acks: Acks,
    next_id: AtomicU64,
    connected: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// Options of a connection; [`ClientBuilder::connect`] opens it.
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    path: String,
    ns: String,
    auth: Option<Value>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    first: Vec<(String, Vec<Value>)>,
    on_event: Option<OnEvent>,
    local_addr: Option<IpAddr>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("path", &self.path)
            .field("namespace", &self.ns)
            .field("auth", &self.auth)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("emit_on_connect", &self.first)
            .field("on_event", &self.on_event.is_some())
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl ClientBuilder {
    /// Hands every event to `on_event` the moment it arrives, in the
    /// connection's own task, instead of queueing it: no second task, no
    /// channel, so a load generator can read the clock at arrival for
    /// thousands of connections. [`Client::next_event`] and its siblings
    /// then see no events (they time out).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), socketio_test_client::ClientError> {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use socketio_test_client::Client;
    ///
    /// let updates = Arc::new(AtomicU64::new(0));
    /// let counter = updates.clone();
    /// let client = Client::builder("http://127.0.0.1:3000")
    ///     .on_event(move |event| {
    ///         if event.name == "update_chat" {
    ///             counter.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_event(mut self, on_event: impl Fn(Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(on_event));
        self
    }

    /// An event to emit in the same instant the server accepts the
    /// connection, before `connect` returns, as `socket.io-client` flushes
    /// the emits it buffered while connecting.
    pub fn emit_on_connect(mut self, event: &str, data: Value) -> Self {
        self.first.push((event.to_owned(), vec![data]));
        self
    }

    /// The namespace to connect to (default `/`).
    pub fn namespace(mut self, ns: &str) -> Self {
        self.ns = ns.to_owned();
        self
    }

    /// The `auth` payload of the CONNECT packet.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Some(auth);
        self
    }

    /// A header of the websocket upgrade request, such as the `Origin` a
    /// browser would send; added to those the handshake needs.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The Engine.IO path (default `/socket.io/`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    /// How long the handshake may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The local address to connect from (`ws://` only; default: the one
    /// the system picks). A load generator on loopback can spread its
    /// connections over `127.0.0.2`, `127.0.0.3`, ...: each source address
    /// has its own range of ephemeral ports.
    pub fn local_addr(mut self, addr: IpAddr) -> Self {
        self.local_addr = Some(addr);
        self
    }

    fn ws_url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        let base = match base.split_once("://") {
            Some(("https" | "wss", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => format!("ws://{base}"),
        };
        format!("{base}{}?EIO=4&transport=websocket", self.path)
    }

    /// Opens the websocket and connects to the namespace. Returns as soon as
    /// the server accepts, so the caller can emit at once.
    pub async fn connect(self) -> Result<Client, ClientError> {
        tokio::time::timeout(self.timeout, self.handshake())
            .await
            .map_err(|_| ClientError::Timeout("the connection handshake"))?
    }

    /// The websocket upgrade request, with the extra headers.
    fn request(&self) -> Result<Request, ClientError> {
        let invalid = |e: http::Error| ClientError::from(Box::new(WsError::HttpFormat(e)));
        let mut request = self.ws_url().into_client_request().map_err(Box::new)?;
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.into()))?;
            let value = HeaderValue::from_str(value).map_err(|e| invalid(e.into()))?;
            request.headers_mut().append(name, value);
        }
        Ok(request)
    }

    /// The TCP connection to the server, from `local` (port chosen by the system).
    async fn tcp_from(&self, local: IpAddr, request: &Request) -> Result<TcpStream, ClientError> {
        let io = |e: std::io::Error| ClientError::from(Box::new(WsError::Io(e)));
        let uri = request.uri();
        if uri.scheme_str() != Some("ws") {
            return Err(ClientError::Protocol("a local address needs a ws:// URL".into()));
        }
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(|c| c == '[' || c == ']');
        let port = uri.port_u16().unwrap_or(80);
        let remote = tokio::net::lookup_host((host, port))
            .await
            .map_err(io)?
            .find(|addr| addr.is_ipv4() == local.is_ipv4())
            .ok_or_else(|| ClientError::Protocol(format!("{host} has no address like {local}")))?;
        let socket = if local.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io)?;
        socket.bind(SocketAddr::new(local, 0)).map_err(io)?;
        socket.connect(remote).await.map_err(io)
    }

    /// The websocket, from the local address if one is set.
    async fn websocket(&self) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, ClientError> {
        let request = self.request()?;
        let (ws, _) = match self.local_addr {
            None => tokio_tungstenite::connect_async(request).await,
            Some(local) => {
                let tcp = self.tcp_from(local, &request).await?;
                tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await
            }
        }
        .map_err(Box::new)?;
        Ok(ws)
    }

    async fn handshake(self) -> Result<Client, ClientError> {
        let mut ws = self.websocket().await?;
        let sid = loop {
            let text = match ws.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_))) | None => return Err(ClientError::Closed),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Box::new(e).into()),
            };
            match protocol::decode(&text).map_err(ClientError::Protocol)? {
                Frame::Open(_) => {
                    let connect = protocol::connect(&self.ns, self.auth.as_ref());
                    ws.send(Message::text(connect)).await.map_err(Box::new)?;
                }
                Frame::Ping(data) => ws
                    .send(Message::text(format!("3{data}")))
                    .await
                    .map_err(Box::new)?,
                Frame::Message(Packet::Connect { ns, sid }) if ns == self.ns => {
                    for (event, args) in &self.first {
                        let packet = protocol::event(&self.ns, None, event, args);
                        ws.send(Message::text(packet)).await.map_err(Box::new)?;
                    }
                    break sid;
                }
                Frame::Message(Packet::ConnectError { ns, message, data }) if ns == self.ns => {
                    return Err(ClientError::Refused { message, data });
                }
                Frame::Close => return Err(ClientError::Closed),
                _ => {}
            }
        };
        let (out, outgoing) = mpsc::unbounded_channel();
        let (incoming, events) = mpsc::unbounded_channel();
        // With a callback the queue stays empty, open while the client lives.
        let (on_event, idle_queue): (OnEvent, _) = match self.on_event {
            Some(on_event) => (on_event, Some(incoming)),
            None => (Arc::new(move |event| drop(incoming.send(event))), None),
        };
        let acks = Acks::default();
        let connected = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn(run(
            ws,
            self.ns.clone(),
            outgoing,
            on_event,
            acks.clone(),
            connected.clone(),
        ));
        Ok(Client {
            ns: self.ns,
            sid,
            out,
            events,
            _idle_queue: idle_queue,
            acks,
            next_id: AtomicU64::new(0),
            connected,
            task,
        })
    }
}

/// Owns the websocket: writes what the client queues, answers pings, and
/// routes what arrives, until either side closes.
async fn run<S>(
    mut ws: S,
    ns: String,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    on_event: OnEvent,
    acks: Acks,
    connected: Arc<AtomicBool>,
) where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    loop {
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                match protocol::decode(&text) {
                    Ok(Frame::Ping(data)) if ws.send(Message::text(format!("3{data}"))).await.is_err() => break,
                    Ok(Frame::Close) => break,
                    Ok(Frame::Message(Packet::Disconnect { ns: from })) if from == ns => break,
                    Ok(Frame::Message(Packet::Event { ns: from, name, args, .. })) if from == ns => {
                        on_event(Event { name, args });
                    }
                    Ok(Frame::Message(Packet::Ack { ns: from, id, args })) if from == ns => {
                        let waiter = acks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                        if let Some(waiter) = waiter {
                            let _ = waiter.send(args);
                        }
                    }
                    // Other namespaces, noops, and malformed frames are not ours to act on.
                    _ => {}
                }
            }
            message = outgoing.recv() => {
                let Some(message) = message else { break };
                let closing = matches!(message, Message::Close(_));
                if ws.send(message).await.is_err() || closing {
                    break;
                }
            }
        }
    }
    connected.store(false, Ordering::SeqCst);
    // Dropping the waiters wakes everyone who waits for an answer.
    acks.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

impl Client {
    /// Connects to namespace `/` of `base_url` (`http://host:port`) without auth.
    pub async fn connect(base_url: &str) -> Result<Client, ClientError> {
        Self::builder(base_url).connect().await
    }

    /// Options for a connection to `base_url` (`http://host:port` or `ws://host:port`).
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            path: "/socket.io/".to_owned(),
            ns: "/".to_owned(),
            auth: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            first: Vec::new(),
            on_event: None,
            local_addr: None,
        }
    }

    /// The Socket.IO session id the server assigned.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The namespace this client is connected to.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Whether the connection is still open.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    fn send(&self, text: String) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::Closed);
        }
        self.out
            .send(Message::text(text))
            .map_err(|_| ClientError::Closed)
    }

    /// Emits `event` with one argument.
    pub async fn emit(&self, event: &str, data: Value) -> Result<(), ClientError> {
        self.emit_args(event, vec![data]).await
    }

    /// Emits `event` with any number of arguments.
    pub async fn emit_args(&self, event: &str, args: Vec<Value>) -> Result<(), ClientError> {
        self.send(protocol::event(&self.ns, None, event, &args))
    }

    /// Emits `event` asking for an acknowledgement, and returns its arguments.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        data: Value,
        timeout: Duration,
    ) -> Result<Vec<Value>, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        if let Err(e) = self.send(protocol::event(&self.ns, Some(id), event, &[data])) {
            self.acks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(args)) => Ok(args),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                self.acks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                Err(ClientError::Timeout("an acknowledgement"))
            }
        }
    }

    /// The next event the server sent (acknowledgements go to their waiters).
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Event, ClientError> {
        match tokio::time::timeout(timeout, self.events.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout("an event")),
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn next_event_named(&mut self, name: &str, timeout: Duration) -> Result<Event, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_event(left).await?;
            if event.name == name {
                return Ok(event);
            }
        }
    }

    /// `Ok` if no event arrives within `window`, else the event that did.
    pub async fn expect_silence(&mut self, window: Duration) -> Result<(), Event> {
        match tokio::time::timeout(window, self.events.recv()).await {
            Ok(Some(event)) => Err(event),
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// The events already received, without waiting.
    pub fn try_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }

    /// Sends a raw Engine.IO text frame, e.g. a malformed packet.
    pub async fn send_raw(&self, frame: &str) -> Result<(), ClientError> {
        self.send(frame.to_owned())
    }

    /// Sends a binary websocket frame: an attachment of the binary packet
    /// sent before it (Engine.IO v4 sends attachments as they are).
    pub async fn send_binary(&self, data: Vec<u8>) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::Closed);
        }
        self.out
            .send(Message::binary(data))
            .map_err(|_| ClientError::Closed)
    }

    /// Leaves the namespace (`41`) and closes the websocket.
    pub async fn disconnect(self) -> Result<(), ClientError> {
        self.send(protocol::disconnect(&self.ns))?;
        let _ = self.out.send(Message::Close(None));
        let _ = tokio::time::timeout(Duration::from_secs(2), self.wait_closed()).await;
        Ok(())
    }

    async fn wait_closed(&self) {
        while !self.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespace", &self.ns)
            .field("sid", &self.sid)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The callback's error type is tungstenite's, not ours to shrink.
    #[allow(clippy::result_large_err)]
    #[tokio::test]
    async fn extra_headers_reach_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut seen = None;
            let _ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, res| {
                seen = req.headers().get("origin").cloned();
                Ok(res)
            })
            .await;
            seen
        });
        // The server closes after the upgrade, without Engine.IO's open packet.
        let result = Client::builder(&url)
            .header("Origin", "https://app.example.com")
            .timeout(Duration::from_millis(300))
            .connect()
            .await;
        assert!(result.is_err());
        assert_eq!(server.await.unwrap().unwrap(), "https://app.example.com");
    }

    #[test]
    fn an_invalid_header_is_an_error() {
        let builder = Client::builder("http://127.0.0.1:1").header("bad name", "x");
        assert!(matches!(builder.request(), Err(ClientError::WebSocket(_))));
    }
}

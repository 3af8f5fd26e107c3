//! The tower layer that serves Socket.IO on an axum `Router`.
//!
//! It is socketioxide's layer behind one step: the head of a Socket.IO
//! request (URI and header values) is copied out of the connection's read
//! buffer before socketioxide sees it. hyper parses a request head without
//! copying, so its URI and header values point into the 8-16 kB buffer the
//! connection read it into (so does the clone of the URI axum's router keeps
//! in the request's extensions), and engineioxide keeps the head of the
//! request that opened a session for as long as the session lives: without
//! the copy, every connected client pins a whole read buffer for a few
//! hundred bytes.
//!
//! When the server has allowed origins, the same step refuses a Socket.IO
//! request whose `Origin` is not one of them, and answers the CORS of
//! polling (see [`ServerBuilder::allowed_origins`]).
//!
//! [`ServerBuilder::allowed_origins`]: crate::ServerBuilder::allowed_origins

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use futures_util::future::{self, Either, FutureExt, Join, Map, Ready};
use socketioxide::layer::SocketIoLayer;
use tower_layer::Layer;
use tower_service::Service;

use crate::adapter::{Erased, LayerFamily, ServerAdapter, ServiceFamily};

/// The layer [`Server::layer`](crate::Server::layer) returns: add it to an
/// axum `Router` with `.layer(server.layer())`.
///
/// It holds everything it serves: the [`Server`](crate::Server) it came
/// from may be dropped once the layer is in the router.
#[derive(Clone)]
pub struct ServerLayer {
    inner: Erased<LayerFamily>,
    path: SocketIoPath,
    origins: Option<AllowedOrigins>,
}

impl ServerLayer {
    pub(crate) fn new<A: ServerAdapter>(
        inner: SocketIoLayer<A>,
        path: impl AsRef<str>,
        origins: Option<AllowedOrigins>,
    ) -> Self {
        Self {
            inner: A::erase(inner),
            path: SocketIoPath(path.as_ref().into()),
            origins,
        }
    }
}

/// The path Socket.IO is served at: the server's `req_path`.
#[derive(Clone, Debug)]
struct SocketIoPath(Arc<str>);

impl SocketIoPath {
    /// Whether socketioxide serves `uri`: its path is the Socket.IO path or
    /// below it (`/socket.io-admin` is not), by socketioxide's own rule.
    fn serves(&self, uri: &Uri) -> bool {
        let path = &*self.0;
        uri.path()
            .strip_prefix(path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || path.ends_with('/'))
    }
}

impl<S: Clone> Layer<S> for ServerLayer {
    type Service = CompactHead<Erased<ServiceFamily<S>>>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.inner.layer(inner);
        CompactHead {
            inner,
            path: self.path.clone(),
            origins: self.origins.clone(),
        }
    }
}

/// The origins a server accepts Socket.IO requests from, each in the form
/// a browser sends: `scheme://host[:port]`, lowercase, default port left out.
#[derive(Clone, Debug)]
pub(crate) struct AllowedOrigins(Arc<[String]>);

impl AllowedOrigins {
    pub(crate) fn new<I: IntoIterator<Item = impl Into<String>>>(origins: I) -> Self {
        Self(origins.into_iter().map(|o| normalize(&o.into())).collect())
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        let origin = origin.as_bytes();
        self.0.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
    }
}

/// `origin` as a browser serializes it (`HTTPS://App.example.com:443/` is
/// `https://app.example.com`); what does not parse as one is kept as
/// written, lowercase, and matches only that exact header.
fn normalize(origin: &str) -> String {
    match url::Url::parse(origin).map(|url| url.origin()) {
        Ok(origin @ url::Origin::Tuple(..)) => origin.ascii_serialization(),
        _ => {
            tracing::warn!(origin, "fast-app: allowed origin is not `scheme://host[:port]`");
            origin.trim_end_matches('/').to_ascii_lowercase()
        }
    }
}

/// A service that hands `S` Socket.IO requests whose head owns its memory
/// (see [`ServerLayer`]), after checking their `Origin` when the server has
/// allowed origins; other requests pass through untouched.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct CompactHead<S> {
    inner: S,
    path: SocketIoPath,
    origins: Option<AllowedOrigins>,
}

/// The future of an allowed request's response: `S`'s, joined with the
/// origin it is for, then given its CORS headers. A `fn` pointer names the
/// step that adds them, so the type needs neither a box nor a hand-written
/// future.
type Allowed<F, RB, E> = Map<
    Join<F, Ready<Option<HeaderValue>>>,
    fn((Result<Response<RB>, E>, Option<HeaderValue>)) -> Result<Response<Body>, E>,
>;

/// Responses are in axum's [`Body`]: engineioxide's body type is private
/// (from outside, only its empty body can be made), and a refusal says why.
/// It costs nothing: axum's router puts every response in a `Body` anyway,
/// and does not wrap one that already is.
impl<S, B, RB> Service<Request<B>> for CompactHead<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    RB: HttpBody<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, Allowed<S::Future, RB, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !self.path.serves(req.uri()) {
            return self.forward(req, None);
        }
        let origin = match &self.origins {
            Some(origins) => match req.headers().get(header::ORIGIN) {
                Some(origin) if !origins.allows(origin) => {
                    tracing::debug!(?origin, "fast-app: refused a request from an origin not allowed");
                    return Either::Left(future::ready(Ok(forbidden())));
                }
                Some(origin) if req.method() == Method::OPTIONS => {
                    let asked = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS);
                    return Either::Left(future::ready(Ok(preflight(origin, asked))));
                }
                // Allowed, or no `Origin`: not a browser's page.
                origin => origin.cloned(),
            },
            None => None,
        };
        self.forward(compact_head(req), origin)
    }
}

impl<S> CompactHead<S> {
    /// Hands `req` to `S`; its response gets the CORS headers of `origin`.
    fn forward<B, RB>(
        &mut self,
        req: Request<B>,
        origin: Option<HeaderValue>,
    ) -> <Self as Service<Request<B>>>::Future
    where
        S: Service<Request<B>, Response = Response<RB>>,
        RB: HttpBody<Data = Bytes> + Send + 'static,
        RB::Error: Into<BoxError>,
    {
        let finish: fn(_) -> _ = with_cors::<RB, S::Error>;
        let response = self.inner.call(req);
        Either::Right(future::join(response, future::ready(origin)).map(finish))
    }
}

/// The refusal of a request from an origin the server does not allow.
fn forbidden() -> Response<Body> {
    let mut res = Response::new(Body::from("origin not allowed\n"));
    *res.status_mut() = StatusCode::FORBIDDEN;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

/// The answer to a CORS preflight from an allowed origin: polling sends
/// its packets with `POST` and `content-type: text/plain;charset=UTF-8`,
/// and a client's `extraHeaders` (an `authorization`, say) are what the
/// browser asks for: the headers asked for are allowed, as the origin is.
fn preflight(origin: &HeaderValue, asked: Option<&HeaderValue>) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    add_cors(res.headers_mut(), origin.clone());
    let headers = res.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        asked
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("content-type")),
    );
    res
}

/// `res` in a [`Body`], with the CORS headers of `origin` if it has one.
fn with_cors<RB, E>(
    (res, origin): (Result<Response<RB>, E>, Option<HeaderValue>),
) -> Result<Response<Body>, E>
where
    RB: HttpBody<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    let mut res = res?.map(Body::new);
    if let Some(origin) = origin {
        add_cors(res.headers_mut(), origin);
    }
    Ok(res)
}

/// Lets the page of `origin` read the response, cookies included.
fn add_cors(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// `req` (a Socket.IO request) with its URI and header values copied into
/// allocations of their own.
fn compact_head<B>(req: Request<B>) -> Request<B> {
    let (mut parts, body) = req.into_parts();
    let original_is_uri =
        matches!(parts.extensions.get::<OriginalUri>(), Some(OriginalUri(o)) if *o == parts.uri);
    copy_head(&mut parts.uri, &mut parts.headers);
    // axum's router keeps its own clone of the URI, which engineioxide keeps
    // too: the same URI shares the copy, another one gets its own.
    if let Some(OriginalUri(original)) = parts.extensions.get_mut::<OriginalUri>() {
        *original = match original_is_uri {
            true => parts.uri.clone(),
            false => copy_uri(original),
        };
    }
    Request::from_parts(parts, body)
}

/// Moves the URI and every header value into one buffer of their own: one
/// allocation per request, each part a slice of it. Names are copied by
/// hyper already.
fn copy_head(uri: &mut Uri, headers: &mut HeaderMap) {
    let text = uri_text(uri);
    let uri_len = text.len();
    let size = uri_len + headers.values().map(HeaderValue::len).sum::<usize>();
    let mut buffer = Vec::with_capacity(size);
    buffer.extend_from_slice(text.as_bytes());
    drop(text);
    for value in headers.values() {
        buffer.extend_from_slice(value.as_bytes());
    }
    let buffer = Bytes::from(buffer);
    // Parsing what was a valid URI or value cannot fail; keep the original if it somehow does.
    if let Ok(copy) = Uri::from_maybe_shared(buffer.slice(..uri_len)) {
        *uri = copy;
    }
    let mut at = uri_len;
    for value in headers.values_mut() {
        let end = at + value.len();
        if let Ok(mut copy) = HeaderValue::from_maybe_shared(buffer.slice(at..end)) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
        at = end;
    }
}

/// The URI as the request line had it: origin-form without formatting.
fn uri_text(uri: &Uri) -> std::borrow::Cow<'_, str> {
    match (uri.scheme(), uri.authority(), uri.path_and_query()) {
        (None, None, Some(path)) => path.as_str().into(),
        _ => uri.to_string().into(),
    }
}

fn copy_uri(uri: &Uri) -> Uri {
    // Parsing what was a valid URI cannot fail; keep the original if it somehow does.
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head parsed the way hyper parses one: every part a slice of one buffer.
    fn head_in_buffer(buffer: &Bytes) -> Request<()> {
        let text = std::str::from_utf8(buffer).unwrap();
        let at = |part: &str| {
            let start = text.find(part).unwrap();
            buffer.slice(start..start + part.len())
        };
        let mut req = Request::builder()
            .uri(Uri::from_maybe_shared(at("/socket.io/?EIO=4&transport=websocket")).unwrap())
            .body(())
            .unwrap();
        let uri = req.uri().clone();
        req.extensions_mut().insert(OriginalUri(uri));
        let headers = req.headers_mut();
        headers.append("cookie", HeaderValue::from_maybe_shared(at("a=1")).unwrap());
        headers.append("x-token", HeaderValue::from_maybe_shared(at("first")).unwrap());
        headers.append("x-token", HeaderValue::from_maybe_shared(at("second")).unwrap());
        req
    }

    #[test]
    fn socket_io_heads_stop_pointing_into_the_read_buffer() {
        let buffer = Bytes::from(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\ncookie: a=1\r\n\
             x-token: first\r\nx-token: second\r\n\r\n",
        );
        let inside = |p: *const u8| buffer.as_ptr_range().contains(&p);
        let original = head_in_buffer(&buffer);
        assert!(inside(original.headers()["cookie"].as_bytes().as_ptr()));

        let copied = compact_head(original);
        assert_eq!(copied.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(copied.headers()["cookie"], "a=1");
        let tokens: Vec<_> = copied.headers().get_all("x-token").iter().collect();
        assert_eq!(tokens, ["first", "second"]);
        for value in copied.headers().values() {
            assert!(
                !inside(value.as_bytes().as_ptr()),
                "{value:?} still in the buffer"
            );
        }
        let OriginalUri(original) = copied.extensions().get::<OriginalUri>().unwrap();
        for uri in [copied.uri(), original] {
            let path = uri.path_and_query().unwrap().as_str();
            assert!(!inside(path.as_ptr()), "{uri} is still in the buffer");
        }
    }

    #[test]
    fn origins_compare_as_browsers_send_them() {
        let origins = AllowedOrigins::new(["HTTPS://App.Example.com:443/", "http://localhost:5173"]);
        let allows = |origin: &'static str| origins.allows(&HeaderValue::from_static(origin));
        assert!(allows("https://app.example.com"));
        assert!(allows("https://APP.example.com"));
        assert!(allows("http://localhost:5173"));
        for other in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://app.example.com.evil.net",
            "https://evil.net",
            "http://localhost:3000",
            "null",
        ] {
            assert!(!allows(other), "{other} allowed");
        }
    }

    #[test]
    fn the_socket_io_path_covers_its_subpaths_only() {
        let uri = |text: &'static str| Uri::from_static(text);
        let default = SocketIoPath("/socket.io".into());
        assert!(default.serves(&uri("/socket.io")));
        assert!(default.serves(&uri("/socket.io/?EIO=4&transport=polling")));
        assert!(!default.serves(&uri("/socket.io-admin/")));
        assert!(!default.serves(&uri("/chats/1")));
        let custom = SocketIoPath("/realtime/".into());
        assert!(custom.serves(&uri("/realtime/?EIO=4&transport=websocket")));
        assert!(!custom.serves(&uri("/socket.io/?EIO=4&transport=websocket")));
    }
}

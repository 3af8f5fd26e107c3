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

use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, Request, Uri};
use socketioxide::layer::SocketIoLayer;
use tower_layer::Layer;
use tower_service::Service;

use crate::adapter::{Erased, LayerFamily, ServerAdapter, ServiceFamily};

/// The path socketioxide serves (its default, which fast-app keeps).
const SOCKET_IO_PATH: &str = "/socket.io";

/// The layer [`Server::layer`](crate::Server::layer) returns: add it to an
/// axum `Router` with `.layer(server.layer())`.
///
/// It holds everything it serves: the [`Server`](crate::Server) it came
/// from may be dropped once the layer is in the router.
#[derive(Clone)]
pub struct ServerLayer {
    inner: Erased<LayerFamily>,
}

impl ServerLayer {
    pub(crate) fn new<A: ServerAdapter>(inner: SocketIoLayer<A>) -> Self {
        Self {
            inner: A::erase(inner),
        }
    }
}

impl<S: Clone> Layer<S> for ServerLayer {
    type Service = CompactHead<Erased<ServiceFamily<S>>>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = self.inner.layer(inner);
        CompactHead { inner }
    }
}

/// A service that hands `S` Socket.IO requests whose head owns its memory
/// (see [`ServerLayer`]); other requests pass through untouched.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct CompactHead<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CompactHead<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.inner.call(compact_head(req))
    }
}

/// `req` with its URI and header values copied into allocations of their
/// own, when it is a Socket.IO request.
fn compact_head<B>(req: Request<B>) -> Request<B> {
    if !req.uri().path().starts_with(SOCKET_IO_PATH) {
        return req;
    }
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
    fn other_requests_pass_through() {
        let req = Request::builder().uri("/chats/1").body(()).unwrap();
        assert_eq!(compact_head(req).uri(), "/chats/1");
    }
}

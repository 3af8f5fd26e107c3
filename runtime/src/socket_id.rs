//! A socket's public id: what a client shows so that a broadcast it caused
//! can skip it ("to others"), in an HTTP header or a job's payload.
//!
//! socketioxide's own socket id is the Engine.IO session id, with which
//! anyone can post packets on the polling transport in the client's name:
//! it must not travel. The public id is a separate random value, made when
//! the client first asks for it (`socket_id`), and it is never a session id.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{InvalidSocketId, SocketIdRejection};

/// The HTTP header a client's requests carry its [`SocketId`] in, as
/// Laravel Echo's clients send it.
pub const SOCKET_ID_HEADER: &str = "x-socket-id";

/// The prefix of the room each socket that asked for its id is in. No room
/// of `#[derive(Room)]` starts with `#`.
const ROOM_PREFIX: &str = "#socket|";

/// A socket's public id: 32 lowercase hex digits, random, made by the server
/// when the client asks for it with `socket_id`.
///
/// It says which socket a broadcast should skip
/// ([`Broadcast::except`](crate::Broadcast::except)), and nothing more: it is
/// not the Engine.IO session id, and no request is served for it. An axum
/// handler reads it from the [`SOCKET_ID_HEADER`] header as an extractor:
/// `SocketId` (a request without it is refused, `400`) or `Option<SocketId>`
/// (absent: `None`; malformed: `400`).
///
/// ```
/// use fast_app::SocketId;
/// let id: SocketId = "0123456789abcdef0123456789abcdef".parse().unwrap();
/// assert_eq!(id.to_string(), "0123456789abcdef0123456789abcdef");
/// assert!("not-an-id".parse::<SocketId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketId(u128);

impl SocketId {
    /// A new random id.
    pub(crate) fn random() -> Self {
        Self(rand::random())
    }

    /// The room of the socket with this id: broadcasts skip it.
    pub(crate) fn room(&self) -> String {
        format!("{ROOM_PREFIX}{self}")
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({self})")
    }
}

impl FromStr for SocketId {
    type Err = InvalidSocketId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match (text.len(), digits) {
            (32, true) => u128::from_str_radix(text, 16)
                .map(Self)
                .map_err(|_| InvalidSocketId),
            _ => Err(InvalidSocketId),
        }
    }
}

impl Serialize for SocketId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SocketId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl IntoResponse for SocketIdRejection {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}

impl<S: Sync> OptionalFromRequestParts<S> for SocketId {
    type Rejection = SocketIdRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        match parts.headers.get(SOCKET_ID_HEADER) {
            None => Ok(None),
            Some(value) => {
                let text = value.to_str().map_err(|_| InvalidSocketId)?;
                Ok(Some(text.trim().parse()?))
            }
        }
    }
}

impl<S: Sync> FromRequestParts<S> for SocketId {
    type Rejection = SocketIdRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state)
            .await?
            .ok_or(SocketIdRejection::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_read_back_from_their_text() {
        let (a, b) = (SocketId::random(), SocketId::random());
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 32);
        assert_eq!(a.to_string().parse::<SocketId>(), Ok(a));
        assert_eq!(a.room(), format!("#socket|{a}"));
    }

    #[test]
    fn only_32_lowercase_hex_digits_are_an_id() {
        for text in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789ABCDEF0123456789ABCDEF",
            "+123456789abcdef0123456789abcdef",
            "AbCdEfGhIjKlMnOp",
        ] {
            assert_eq!(text.parse::<SocketId>(), Err(InvalidSocketId), "{text:?}");
        }
    }

    #[tokio::test]
    async fn the_header_is_optional_but_must_be_an_id_when_present() {
        async fn extract(header: Option<&str>) -> Result<Option<SocketId>, SocketIdRejection> {
            let mut request = axum::http::Request::builder();
            if let Some(header) = header {
                request = request.header("X-Socket-ID", header);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            <SocketId as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &()).await
        }
        let id = SocketId::random();
        assert_eq!(extract(Some(&id.to_string())).await, Ok(Some(id)));
        assert_eq!(extract(None).await, Ok(None));
        assert_eq!(
            extract(Some("abc")).await,
            Err(SocketIdRejection::Invalid(InvalidSocketId))
        );
    }
}

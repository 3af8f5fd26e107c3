//! Resume tokens: who a connection was, signed by the server.
//!
//! A token is `<hex of {"u": user, "s": public id, "t": issued at (ms)}>.<hex of
//! its HMAC-SHA256>`. It names the user it was issued to, so a session of
//! another user cannot use it, and the old connection's public id, so that
//! what was broadcast `except` that connection is not replayed to it.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::now_ms;
use crate::socket_id::SocketId;

/// Signs and checks tokens with one secret.
pub(crate) struct Tokens {
    secret: Vec<u8>,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user it was issued to.
    #[serde(rename = "u")]
    pub user: String,
    /// The public id of the connection it was issued to.
    #[serde(rename = "s")]
    pub socket: SocketId,
    /// When, in milliseconds since the Unix epoch.
    #[serde(rename = "t")]
    pub issued: u64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the resume token is malformed or was not signed by this server")]
    Forged,
    #[error("the resume token was issued to another user")]
    OtherUser,
    #[error("the resume token is older than the resume window")]
    Expired,
}

impl Tokens {
    /// Tokens signed with `secret`.
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
    }

    /// A token for `user`'s connection `socket`, issued now.
    pub fn issue(&self, user: &str, socket: SocketId) -> String {
        let claims = Claims {
            user: user.to_owned(),
            socket,
            issued: now_ms(),
        };
        let body = serde_json::to_vec(&claims).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&body);
        format!(
            "{}.{}",
            hex::encode(&body),
            hex::encode(mac.finalize().into_bytes())
        )
    }

    /// The claims of `token`, if this server signed it for `user` within `window`.
    pub fn check(&self, token: &str, user: &str, window: Duration) -> Result<Claims, Refused> {
        let (body, signature) = token.split_once('.').ok_or(Refused::Forged)?;
        let body = hex::decode(body).map_err(|_| Refused::Forged)?;
        let signature = hex::decode(signature).map_err(|_| Refused::Forged)?;
        let mut mac = self.mac();
        mac.update(&body);
        mac.verify_slice(&signature).map_err(|_| Refused::Forged)?;
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| Refused::Forged)?;
        if claims.user != user {
            return Err(Refused::OtherUser);
        }
        if u128::from(now_ms().saturating_sub(claims.issued)) > window.as_millis() {
            return Err(Refused::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(120);

    #[test]
    fn a_token_holds_for_its_user_only_and_not_once_altered() {
        let tokens = Tokens::new(b"secret".to_vec());
        let id = SocketId::random();
        let token = tokens.issue("alice", id);
        let claims = tokens.check(&token, "alice", WINDOW).unwrap();
        assert_eq!((claims.user.as_str(), claims.socket), ("alice", id));
        assert_eq!(tokens.check(&token, "bob", WINDOW), Err(Refused::OtherUser));

        // Claims rewritten for bob, with alice's signature.
        let (_, signature) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{signature}",
            hex::encode(
                serde_json::to_vec(&Claims {
                    user: "bob".into(),
                    socket: id,
                    issued: now_ms()
                })
                .unwrap()
            )
        );
        assert_eq!(tokens.check(&forged, "bob", WINDOW), Err(Refused::Forged));
        assert_eq!(tokens.check("garbage", "alice", WINDOW), Err(Refused::Forged));
        // Another server's secret.
        assert_eq!(
            Tokens::new(b"other".to_vec()).check(&token, "alice", WINDOW),
            Err(Refused::Forged)
        );
    }

    #[test]
    fn a_token_older_than_the_window_is_refused() {
        let tokens = Tokens::new(b"secret".to_vec());
        let claims = Claims {
            user: "alice".into(),
            socket: SocketId::random(),
            issued: now_ms() - 200_000,
        };
        let body = serde_json::to_vec(&claims).unwrap();
        let mut mac = tokens.mac();
        mac.update(&body);
        let token = format!(
            "{}.{}",
            hex::encode(&body),
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(tokens.check(&token, "alice", WINDOW), Err(Refused::Expired));
        assert!(tokens.check(&token, "alice", Duration::from_secs(300)).is_ok());
    }
}

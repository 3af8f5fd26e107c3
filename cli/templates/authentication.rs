//! Who is connecting: the `connect` function of the namespaces.

use fast_app::prelude::*;
use serde_json::Value;

/// The authenticated user, stored in each socket's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Who the user is. Fill in what your rooms' guards need.
    pub id: String,
}

/// Reads `auth.token` and stores the user in the session; a missing token
/// refuses the connection (the client receives `connect_error`).
///
/// Replace the body with a real check of the token (a session lookup, a
/// JWT verification...).
pub async fn authenticate(session: &Session, auth: &Value) -> Result<(), ConnectError> {
    let token = match auth.get("token").and_then(Value::as_str) {
        Some(token) if !token.trim().is_empty() => token.trim(),
        _ => return Err(ConnectError::new("No access token provided")),
    };
    session.insert(User { id: token.to_owned() });
    Ok(())
}

/// The user of a session, if it was authenticated.
pub fn current_user(session: &Session) -> Option<User> {
    session.get::<User>()
}

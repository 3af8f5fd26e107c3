//! Rooms: identity, name, and the join policy.

use std::fmt::{self, Write as _};
use std::future::Future;

use crate::error::{InvalidRoomName, ValidationError};
use crate::presence::Member;
use crate::session::Session;

/// The separator between a room's key and its identifiers: `chat|42`.
pub const SEPARATOR: char = '|';

/// A room clients join and events target. Implement it with `#[derive(Room)]`.
///
/// The derive fills every item from the struct and its `#[room(...)]`
/// attribute: the key (struct name in snake case without `_room`), the name
/// (`key|field|field...`), and the join policy (`extract`, `can_join`,
/// `on_join`, `on_leave`), and presence when asked (`presence = path`).
/// Hand-written impls work too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a room",
    label = "not a room",
    note = "derive it: `#[derive(Room)]` on `{Self}`, with `#[room(...)]` for its key and policy"
)]
pub trait Room: Sized + Send + Sync + 'static {
    /// The room's key: the `K` of the client events `join_K` / `leave_K` and
    /// the first segment of the room's name.
    const KEY: &'static str;

    /// Writes the identifiers after the key, one [`RoomName::push`] each.
    fn write_name(&self, name: &mut RoomName) -> Result<(), InvalidRoomName>;

    /// The room's name, `key|id|...`.
    ///
    /// ```
    /// # use fast_app::{Room, RoomName, Session, ValidationError, InvalidRoomName};
    /// struct ChatRoom { chat_id: u64 }
    /// impl Room for ChatRoom {
    ///     const KEY: &'static str = "chat";
    ///     fn write_name(&self, name: &mut RoomName) -> Result<(), InvalidRoomName> {
    ///         name.push(&self.chat_id)
    ///     }
    ///     async fn extract(_: &Session, _: serde_json::Value) -> Result<Self, ValidationError> {
    ///         Err(ValidationError::new("not joinable"))
    ///     }
    /// }
    /// assert_eq!(ChatRoom { chat_id: 42 }.name().unwrap(), "chat|42");
    /// ```
    fn name(&self) -> Result<String, InvalidRoomName> {
        let mut name = RoomName::new(Self::KEY);
        self.write_name(&mut name)?;
        Ok(name.into_string())
    }

    /// Builds the room a client asks to join or leave from its payload.
    fn extract(
        session: &Session,
        payload: serde_json::Value,
    ) -> impl Future<Output = Result<Self, ValidationError>> + Send;

    /// Whether the session may join this room. Default: allow.
    fn can_join(&self, session: &Session) -> impl Future<Output = bool> + Send {
        let _ = session;
        async { true }
    }

    /// Runs after the socket joined the room.
    fn on_join(&self, session: &Session) -> impl Future<Output = ()> + Send {
        let _ = session;
        async {}
    }

    /// Runs after the socket left the room.
    fn on_leave(&self, session: &Session) -> impl Future<Output = ()> + Send {
        let _ = session;
        async {}
    }

    /// Whether the room keeps presence: its joiners get `presence_state`,
    /// its members `presence_join` and `presence_leave`. Default: no.
    const PRESENCE: bool = false;

    /// What the room's members see of the joining session's user, in a
    /// room that keeps presence; `None` joins without showing a member.
    /// Default: `None`.
    fn member(&self, session: &Session) -> impl Future<Output = Option<Member>> + Send {
        let _ = session;
        async { None }
    }

    /// How many events each room of this type keeps for clients that resume
    /// (`#[room(history = N)]`; see "Resume" in the guide). Default: none.
    const HISTORY: usize = 0;

    /// The names of the identifiers [`write_name`](Room::write_name) writes,
    /// in order: the parameters of the room's channel in the client contract
    /// (`chat|{chat_id}`). Default: none.
    const FIELDS: &'static [&'static str] = &[];

    /// The JSON Schema of the join payload a client sends, for the client
    /// contract. Default: any JSON value.
    fn join_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let _ = generator;
        schemars::Schema::default()
    }
}

/// A room name under construction: `key`, then `|value` per identifier.
///
/// ```
/// use fast_app::RoomName;
///
/// let mut name = RoomName::new("chat");
/// name.push(&42).unwrap();
/// assert_eq!(name.as_str(), "chat|42");
/// assert!(name.push(&"a|b").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct RoomName {
    key: &'static str,
    buf: String,
}

impl RoomName {
    /// Starts a name with the room's key.
    pub fn new(key: &'static str) -> Self {
        let mut buf = String::with_capacity(key.len() + 16);
        buf.push_str(key);
        Self { key, buf }
    }

    /// Appends `|value`, refusing a value whose text contains the separator.
    pub fn push(&mut self, value: &(impl fmt::Display + ?Sized)) -> Result<(), InvalidRoomName> {
        let start = self.buf.len() + 1;
        self.buf.push(SEPARATOR);
        // Writing into a String cannot fail; a Display impl that errors is a bug of that impl.
        let _ = write!(self.buf, "{value}");
        if self.buf[start..].contains(SEPARATOR) {
            let value = self.buf[start..].to_owned();
            self.buf.truncate(start - 1);
            return Err(InvalidRoomName { key: self.key, value });
        }
        Ok(())
    }

    /// The name so far.
    pub fn as_str(&self) -> &str {
        &self.buf
    }

    /// The finished name.
    pub fn into_string(self) -> String {
        self.buf
    }
}

//! What the macros check the items they are given against.
//!
//! Generated code calls each function named in an attribute through the
//! trait of its expected shape ([`CanJoin`] for `can_join = path`, [`Connect`]
//! for `connect = path`, ...), and reads a room's fields or an event's
//! payload through [`RoomPayload`] and [`AsPayload`] (or [`SelfPayload`]), and
//! its fields' text through [`RoomSegment`]. A mistake is then one
//! compile error on the user's token, in words that quote the valid form;
//! these names appear in those errors. Nothing here is meant to be
//! implemented or called by hand.

mod payload;
mod signatures;
mod target;

pub use payload::{
    AsPayload, AsSelfPayload, NotSendSync, NotSendSyncKind, NotSerialize, NotSerializeKind, Probe, ProbeAny,
    ProbeReady, ProbeSerialize, Ready, ReadyKind,
};
pub use signatures::{
    AsyncFn2, BoxFuture, CanJoin, Connect, ConnectOutput, Connected, Disconnect, Extract, ExtractOutput,
    Handlers, OnJoin, OnLeave, ShowMember,
};
pub use target::{Nothing, OtherSplit, ProbeOther, ProbeRoom, RoomSplit, ServedTarget, TargetProbe};

use crate::error::ValidationError;

/// A room with fields read from the join payload: one that derives
/// `Deserialize`. Generated code calls it as `<Self as RoomPayload>`, so a
/// room without `Deserialize` (and without `extract`) is one error, here.
#[diagnostic::on_unimplemented(
    message = "room `{Self}` cannot be read from a join payload: it does not implement `Deserialize`",
    label = "its fields come from the join payload",
    note = "derive it: `#[derive(Room, Deserialize)]` on `{Self}`",
    note = "or build the room from the session and the raw payload with `#[room(extract = path)]`, where `path` is `async fn(&Session, serde_json::Value) -> Result<{Self}, E>`"
)]
pub trait RoomPayload: Sized {
    /// The room the payload describes; see `__private::deserialize_room`.
    fn from_payload(payload: serde_json::Value, expected: &'static str) -> Result<Self, ValidationError>;
}

#[diagnostic::do_not_recommend]
impl<R: serde::de::DeserializeOwned> RoomPayload for R {
    fn from_payload(payload: serde_json::Value, expected: &'static str) -> Result<Self, ValidationError> {
        crate::__private::deserialize_room(payload, expected)
    }
}

/// An event that can be its own payload.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as its own payload: it does not implement `Serialize`",
    label = "the default payload is the event itself",
    note = "derive `Serialize` for `{Self}`, or give the payload with `#[broadcast(as = ...)]`"
)]
pub trait SelfPayload {
    /// The event, as its payload.
    fn as_payload(&self) -> impl serde::Serialize + Send + Sync + '_;
}

#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + Sync> SelfPayload for T {
    fn as_payload(&self) -> impl serde::Serialize + Send + Sync + '_ {
        self
    }
}

/// A room field: its `Display` text is a segment of the room's name.
#[diagnostic::on_unimplemented(
    message = "room field of type `{Self}` must implement `Display`: a room's name is its key and each field's text",
    label = "`{Self}` does not implement `Display`",
    note = "implement `std::fmt::Display` for `{Self}`, or use a field type that has it (integers, `String`, ...): `ChatRoom {{ chat_id: 42 }}` is named `chat|42`"
)]
pub trait RoomSegment {
    /// Appends `|text` to `name`.
    fn push_to(&self, name: &mut crate::RoomName) -> Result<(), crate::InvalidRoomName>;
}

#[diagnostic::do_not_recommend]
impl<T: std::fmt::Display + ?Sized> RoomSegment for T {
    fn push_to(&self, name: &mut crate::RoomName) -> Result<(), crate::InvalidRoomName> {
        name.push(self)
    }
}

/// A type listed in `#[rooms(...)]`: it must be a room. Generated code names
/// the room as `<T as ListedRoom>::Room`, so a non-room is one error on the
/// listing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a room",
    label = "not a room",
    note = "derive it: `#[derive(Room)]` on `{Self}`, with `#[room(...)]` for its key and policy"
)]
pub trait ListedRoom {
    /// The room itself.
    type Room: crate::Room;
}

#[diagnostic::do_not_recommend]
impl<R: crate::Room> ListedRoom for R {
    type Room = R;
}

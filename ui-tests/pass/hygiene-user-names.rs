//! User functions and items named after every local the expansions use
//! (`session`, `auth`, `reason`, `payload`, `name`, `socket`, `targets`,
//! `value`, `room`, `future`, and the hook tables' `__fast_app_session` and
//! `__fast_app_socket`), for every attribute key, and constants named
//! like them: generated code never shadows a user's path. The same for the
//! client contract's registration: its locals (`generator`, `reaches`, and
//! `self` renamed in `as`), the runtime items it names (`EventDef`, `Reach`,
//! `payload_schema`), and `self`/`Self` in `as` expressions it moves out of
//! the event's methods.
#![allow(non_snake_case)]

use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;
use fast_app::socketioxide::socket::DisconnectReason;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

async fn auth(session: &Session, auth: &serde_json::Value) -> Result<(), ConnectError> {
    let _ = (session, auth);
    Ok(())
}

async fn reason(session: &Session, reason: DisconnectReason) {
    let _ = (session, reason);
}

fn socket<A: Adapter>(socket: &SocketRef<A>) {
    socket.on("ping", async || {});
}

async fn __fast_app_session<A: Adapter>(session: &Session, socket: &SocketRef<A>) {
    let _ = (session, socket);
}

#[namespace("/", connect = auth, connected = __fast_app_session, disconnect = reason, handlers = socket)]
#[rooms(ChatRoom, MemberRoom, UnitRoom, EmptyRoom, TupleRoom)]
pub struct GlobalNamespace;

mod other {
    use super::*;

    pub async fn session(session: &Session, auth: &serde_json::Value) -> Result<(), String> {
        let _ = (session, auth);
        Ok(())
    }

    pub async fn payload(session: &Session, reason: DisconnectReason) {
        let _ = (session, reason);
    }

    pub fn name<A: Adapter>(socket: &SocketRef<A>) {
        let _ = socket;
    }

    pub async fn __fast_app_socket<A: Adapter>(session: &Session, socket: &SocketRef<A>) {
        let _ = (session, socket);
    }

    #[namespace("/other", connect = session, connected = __fast_app_socket, disconnect = payload, handlers = name)]
    #[rooms(OtherRoom)]
    pub struct OtherNamespace;

    #[derive(Room, Deserialize)]
    #[room(extract = auth, can_join = reason, on_join = socket, on_leave = targets)]
    pub struct OtherRoom {
        pub id: u64,
    }

    async fn auth(session: &Session, payload: serde_json::Value) -> Result<OtherRoom, ValidationError> {
        let _ = (session, payload);
        Ok(OtherRoom { id: 1 })
    }
    async fn reason(room: &OtherRoom, session: &Session) -> bool {
        let _ = (room, session);
        true
    }
    async fn socket(room: &OtherRoom, session: &Session) {
        let _ = (room, session);
    }
    async fn targets(room: &OtherRoom, session: &Session) {
        let _ = (room, session);
    }
}

/// Constants named like the locals: a binding with a constant's name would be
/// read as a pattern matching that constant.
#[allow(non_upper_case_globals, dead_code)]
mod constants {
    use super::*;

    const session: u8 = 0;
    const auth: u8 = 0;
    const reason: u8 = 0;
    const payload: u8 = 0;
    const name: u8 = 0;
    const targets: u8 = 0;
    const value: u8 = 0;
    const socket: u8 = 0;
    const room: u8 = 0;
    const other: u8 = 0;
    const reaches: u8 = 0;
    const this: u8 = 0;

    async fn connect(_session: &Session, _auth: &serde_json::Value) -> Result<(), ConnectError> {
        Ok(())
    }
    async fn disconnect(_session: &Session, _reason: DisconnectReason) {}
    fn handlers<A: Adapter>(_socket: &SocketRef<A>) {}
    async fn connected<A: Adapter>(_session: &Session, _socket: &SocketRef<A>) {}
    async fn guard(_room: &ConstRoom, _session: &Session) -> bool {
        true
    }

    #[namespace("/constants", connect = connect, connected = connected, disconnect = disconnect, handlers = handlers)]
    #[rooms(ConstRoom)]
    pub struct ConstNamespace;

    #[derive(Room, Deserialize, JsonSchema)]
    #[room(can_join = guard, on_join = Self::hook, on_leave = Self::hook)]
    pub struct ConstRoom {
        pub id: u64,
    }

    impl ConstRoom {
        async fn hook(&self, _session: &Session) {}
    }

    #[derive(BroadcastEvent)]
    #[broadcast(on = ConstRoom { id: 1 }, as = value)]
    pub struct ConstEvent;
}

#[derive(Room, Deserialize, JsonSchema)]
#[room(can_join = session, on_join = name, on_leave = room, presence = member)]
pub struct ChatRoom {
    pub chat_id: u64,
}

async fn session(room: &ChatRoom, session: &Session) -> bool {
    let _ = (room, session);
    true
}

async fn name(room: &ChatRoom, session: &Session) {
    let _ = (room, session);
}

async fn room(room: &ChatRoom, session: &Session) {
    let _ = (room, session);
}

async fn member(room: &ChatRoom, session: &Session) -> Option<Member> {
    let _ = (room, session);
    Some(Member::new(1, serde_json::Value::Null))
}

#[derive(Room)]
#[room(extract = payload, can_join = future, on_join = value, on_leave = value)]
pub struct MemberRoom {
    pub name: String,
}

async fn payload(session: &Session, payload: serde_json::Value) -> Result<MemberRoom, String> {
    let _ = (session, payload);
    Ok(MemberRoom { name: "me".into() })
}

async fn future(room: &MemberRoom, session: &Session) -> bool {
    let _ = (room, session);
    true
}

async fn value(room: &MemberRoom, session: &Session) {
    let _ = (room, session);
}

#[derive(Room)]
pub struct UnitRoom;

#[derive(Room)]
pub struct EmptyRoom {}

#[derive(Room)]
pub struct TupleRoom();

fn targets() -> ChatRoom {
    ChatRoom { chat_id: 1 }
}

fn value_of() -> u8 {
    1
}

#[derive(Serialize, JsonSchema)]
pub struct Body {
    pub n: u8,
}

#[derive(BroadcastEvent)]
#[broadcast(on = targets(), rooms = [ChatRoom], as = Body { n: value_of() }, when = value_of() > 0)]
pub struct Update;

#[derive(BroadcastEvent, Serialize, JsonSchema)]
#[broadcast(on = [targets(), targets()], rooms = [ChatRoom])]
pub struct Twice;

/// A user type named like the runtime's `Reach`.
#[derive(Serialize, JsonSchema)]
pub struct Reach {
    pub room: u64,
}

/// A user type named like the runtime's `EventDef`.
#[derive(Serialize, JsonSchema)]
pub struct EventDef {
    pub name: &'static str,
}

fn generator() -> u64 {
    1
}

fn reaches() -> ChatRoom {
    ChatRoom { chat_id: generator() }
}

fn this() -> bool {
    true
}

fn payload_schema(room: u64) -> Reach {
    Reach { room }
}

fn payload_schema_of() -> EventDef {
    EventDef { name: "contract" }
}

fn __fast_app_generator() -> u64 {
    2
}

fn __fast_app_self() -> u64 {
    3
}

fn __fast_app_reaches() -> ChatRoom {
    ChatRoom { chat_id: 4 }
}

#[derive(BroadcastEvent)]
#[broadcast(
    on = [reaches(), __fast_app_reaches()],
    rooms = [ChatRoom],
    as = payload_schema(generator() + __fast_app_generator() + __fast_app_self()),
    when = this(),
)]
pub struct ContractNames;

/// `self` beside the user's names, `self::` paths left as they are.
#[derive(BroadcastEvent)]
#[broadcast(on = reaches(), rooms = [ChatRoom, "lobby"], as = self::payload_schema(self.id + generator()), when = this())]
pub struct ContractSelf {
    pub id: u64,
}

/// `self` inside a macro call of `as`.
#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = serde_json::json!({ "id": self.id, "by": payload_schema_of().name }))]
pub struct SelfInMacro {
    pub id: u64,
}

/// `Self::` in `as`.
#[derive(BroadcastEvent)]
#[broadcast(on = "lobby", as = Self::payload(self))]
pub struct SelfPath {
    pub id: u64,
}

impl SelfPath {
    fn payload(&self) -> Reach {
        Reach { room: self.id }
    }
}

/// A prelude name taken by a user type: the registration's list is a
/// `::std::vec::Vec`.
mod shadowed_prelude {
    use super::*;

    #[allow(dead_code)]
    struct Vec;

    #[derive(BroadcastEvent, Serialize, JsonSchema)]
    #[broadcast(on = reaches(), rooms = [ChatRoom, "lobby"])]
    pub struct Shadowed;
}

fn main() {}

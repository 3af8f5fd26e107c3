//! User functions and items named after every local the expansions use
//! (`session`, `auth`, `reason`, `payload`, `name`, `socket`, `targets`,
//! `value`, `room`, `future`, and the hook tables' `__fast_app_session` and
//! `__fast_app_socket`), for every attribute key, and constants named
//! like them: generated code never shadows a user's path.
#![allow(non_snake_case)]

use fast_app::prelude::*;
use fast_app::socketioxide::adapter::Adapter;
use fast_app::socketioxide::extract::SocketRef;
use fast_app::socketioxide::socket::DisconnectReason;
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

    #[derive(Room, Deserialize)]
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

#[derive(Room, Deserialize)]
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

#[derive(Serialize)]
pub struct Body {
    pub n: u8,
}

#[derive(BroadcastEvent)]
#[broadcast(on = targets(), as = Body { n: value_of() }, when = value_of() > 0)]
pub struct Update;

#[derive(BroadcastEvent, Serialize)]
#[broadcast(on = [targets(), targets()])]
pub struct Twice;

fn main() {}

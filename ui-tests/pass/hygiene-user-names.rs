//! User functions and items named after every local the expansions use
//! (`session`, `auth`, `reason`, `payload`, `name`, `socket`, `targets`,
//! `value`, `room`, `future`), for every attribute key: generated code never
//! shadows a user's path.
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

#[namespace("/", connect = auth, disconnect = reason, handlers = socket)]
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

    #[namespace("/other", connect = session, disconnect = payload, handlers = name)]
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

#[derive(Room, Deserialize)]
#[room(can_join = session, on_join = name, on_leave = room)]
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

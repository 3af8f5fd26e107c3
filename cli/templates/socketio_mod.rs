//! The Socket.IO side of the application: namespaces, rooms and broadcast
//! events, declared with fast-app.
//!
//! Add rooms and events with `fast-app make room ChatRoom` and
//! `fast-app make broadcast_event UpdateChat`; regenerate the client
//! contract (contract/) with
//! `FAST_APP_CONTRACT=overwrite cargo test client_contract`.

pub mod common;
pub mod events;
pub mod namespaces;
pub mod rooms;
pub mod server;

#[cfg(test)]
mod contract;

//! Socket.IO namespaces: each lists the rooms it serves.

pub mod global_namespace;

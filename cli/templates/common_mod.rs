//! Helpers shared by namespaces and rooms.

pub mod authentication;

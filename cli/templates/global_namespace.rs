//! The default namespace, `/`.

use fast_app::prelude::*;

use crate::socketio::common::authentication::authenticate;

/// The `/` namespace. List the rooms it serves in `#[rooms(...)]`, e.g.
/// `#[rooms(ChatRoom, UserRoom)]` after `use crate::socketio::rooms::...;`.
#[namespace("/", connect = authenticate)]
#[rooms()]
pub struct GlobalNamespace;

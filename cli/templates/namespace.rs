//! The `__path__` namespace.

use fast_app::prelude::*;

use crate::socketio::common::authentication::authenticate;

/// The `__path__` namespace. List the rooms it serves in `#[rooms(...)]`.
#[namespace("__path__", connect = authenticate)]
#[rooms()]
pub struct __Name__;

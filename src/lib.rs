#![doc = include_str!("../docs/guide.md")]

pub use fast_app_macros::{BroadcastEvent, Room, namespace, rooms};
pub use fast_app_runtime::*;

/// The DSL in one import: `use fast_app::prelude::*;`.
pub mod prelude {
    pub use fast_app_macros::{BroadcastEvent, Room, namespace, rooms};
    pub use fast_app_runtime::{
        BroadcastEvent, Broadcaster, ConnectError, Room, Server, Session, Targets, ValidationError, broadcast,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use fast_app_runtime::__private::*;
}

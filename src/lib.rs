#![doc = concat!(
    include_str!("../docs/guide/1-overview.md"), "\n",
    include_str!("../docs/guide/2-events.md"), "\n",
    include_str!("../docs/guide/3-rooms.md"), "\n",
    include_str!("../docs/guide/4-namespaces.md"), "\n",
    include_str!("../docs/guide/5-serving.md"), "\n",
    include_str!("../docs/guide/6-metrics.md"), "\n",
    include_str!("../docs/guide/7-typed-clients.md"),
)]

// Each DSL item's page carries its section of the guide: one source for both.
#[doc = include_str!("../docs/guide/2-events.md")]
pub use fast_app_macros::BroadcastEvent;
#[doc = include_str!("../docs/guide/3-rooms.md")]
pub use fast_app_macros::Room;
#[doc = include_str!("../docs/guide/4-namespaces.md")]
pub use fast_app_macros::{namespace, rooms};
pub use fast_app_runtime::*;

/// The DSL in one import: `use fast_app::prelude::*;`.
pub mod prelude {
    pub use fast_app_macros::{BroadcastEvent, Room, namespace, rooms};
    pub use fast_app_runtime::{
        BroadcastEvent, Broadcaster, ConnectError, Member, Room, Server, Session, Targets, ValidationError,
        broadcast,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use fast_app_runtime::__private::*;
}

//! Broadcast events: `fast-app make broadcast_event UpdateChat` adds one here.

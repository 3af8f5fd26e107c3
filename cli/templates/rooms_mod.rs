//! Rooms: `fast-app make room ChatRoom` adds one here.

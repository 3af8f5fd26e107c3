//! The `on = ...` value of an event: a room value that no namespace serves
//! is reported as such, naming the room; anything else that is not a target
//! is reported by [`IntoTargets`](crate::IntoTargets).
//!
//! Generated code probes the value's type by autoref specialization: a
//! [`Room`] goes to [`ServedTarget`], anything else to `IntoTargets`, and
//! the half that is not there is [`Nothing`], which both take as a no-op:
//!
//! ```text
//! let (room, other) = (&&TargetProbe::of(&value)).probe().split(value);
//! <_ as ServedTarget>::add_served(room, &mut targets);
//! <_ as IntoTargets>::add_to(other, &mut targets);
//! ```

use std::marker::PhantomData;

use crate::namespace::ServedRoom;
use crate::room::Room;
use crate::targets::{IntoTargets, Targets};

/// The type of an `on = ...` value, for probing.
pub struct TargetProbe<T>(PhantomData<fn() -> T>);

impl<T> TargetProbe<T> {
    /// The probe of `value`'s type.
    pub fn of(_value: &T) -> Self {
        Self(PhantomData)
    }
}

/// Picked when the value is a room.
pub trait ProbeRoom {
    /// The splitter.
    fn probe(&self) -> RoomSplit;
}

impl<R: Room> ProbeRoom for &TargetProbe<R> {
    fn probe(&self) -> RoomSplit {
        RoomSplit
    }
}

/// Picked for any other value.
pub trait ProbeOther {
    /// The splitter.
    fn probe(&self) -> OtherSplit;
}

impl<T> ProbeOther for TargetProbe<T> {
    fn probe(&self) -> OtherSplit {
        OtherSplit
    }
}

/// Splits a room value: the room, and no other targets.
pub struct RoomSplit;

impl RoomSplit {
    /// `(value, nothing)`.
    pub fn split<R>(self, value: R) -> (R, Nothing) {
        (value, Nothing)
    }
}

/// Splits any other value: no room, and the value.
pub struct OtherSplit;

impl OtherSplit {
    /// `(no room, value)`.
    pub fn split<T>(self, value: T) -> (Nothing, T) {
        (Nothing, value)
    }
}

/// The half of a probed value that is not there: no room, no targets. Free:
/// a room value costs what it cost without the probe.
pub struct Nothing;

#[doc(hidden)]
#[diagnostic::do_not_recommend]
impl IntoTargets for Nothing {
    fn add_to(self, _: &mut Targets) {}
}

/// A room value in `on = ...`: a target once a namespace serves it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not served by any namespace, so it cannot be a broadcast target",
    label = "no namespace lists `{Self}` in `#[rooms(...)]`",
    note = "add `{Self}` to `#[rooms(...)]` on the namespace that should serve it, e.g. `#[namespace(\"/\")] #[rooms({Self})]`"
)]
pub trait ServedTarget {
    /// Adds the room's target.
    fn add_served(self, targets: &mut Targets);
}

#[diagnostic::do_not_recommend]
impl<R: Room + ServedRoom> ServedTarget for R {
    fn add_served(self, targets: &mut Targets) {
        targets.push_served(&self);
    }
}

#[diagnostic::do_not_recommend]
impl ServedTarget for Nothing {
    fn add_served(self, _: &mut Targets) {}
}

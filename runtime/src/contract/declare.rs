//! What `#[derive(BroadcastEvent)]` registers for the client contract, and
//! the checks its generated code goes through.

use std::future::Future;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::namespace::ServedRoom;
use crate::room::Room;

/// Makes the JSON Schema of a payload, its named types added to the generator.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// A broadcast event as `#[derive(BroadcastEvent)]` registers it. Built by
/// `EventDef::new`.
pub struct EventDef {
    pub(crate) name: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) payload: SchemaFn,
    pub(crate) reaches: fn() -> Vec<Reach>,
}

impl EventDef {
    /// The registration of event `type_name`, sent as `name` with the payload
    /// `payload` describes, to the rooms `reaches` lists.
    pub const fn new(
        name: &'static str,
        type_name: &'static str,
        payload: SchemaFn,
        reaches: fn() -> Vec<Reach>,
    ) -> Self {
        Self {
            name,
            type_name,
            payload,
            reaches,
        }
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The event type's name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

inventory::collect!(EventDef);

/// A room an event can be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Every room of a room type, on the namespace that serves it.
    Room {
        /// The namespace's path.
        namespace: &'static str,
        /// The room type's key.
        key: &'static str,
    },
    /// A room of `/` named by a string.
    Named(&'static str),
}

impl Reach {
    /// The rooms of type `R`.
    pub const fn room<R: Room + ServedRoom>() -> Self {
        Self::Room {
            namespace: R::NAMESPACE,
            key: R::KEY,
        }
    }
}

/// A type named in `on = ...`, probed for the contract: a served room is
/// reached; anything else adds nothing here (an unserved room is reported
/// by the `on` check, once).
pub struct RoomProbe<R>(PhantomData<fn() -> R>);

impl<R> RoomProbe<R> {
    /// The probe of `R`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// Picked for a served room.
pub trait ProbeServedRoom {
    /// The room type's reach.
    fn reach(&self) -> Option<Reach>;
}

impl<R: Room + ServedRoom> ProbeServedRoom for &RoomProbe<R> {
    fn reach(&self) -> Option<Reach> {
        Some(Reach::room::<R>())
    }
}

/// Picked for any other type.
pub trait ProbeUnservedRoom {
    /// Nothing.
    fn reach(&self) -> Option<Reach>;
}

impl<R> ProbeUnservedRoom for RoomProbe<R> {
    fn reach(&self) -> Option<Reach> {
        None
    }
}

/// A payload the client contract can describe: one with a JSON Schema.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no JSON Schema, so the client contract cannot describe it",
    label = "the client contract needs the JSON Schema of this payload",
    note = "derive it next to `Serialize` (or `Deserialize` for a room): `#[derive(schemars::JsonSchema)]` on `{Self}`, with `schemars = \"1\"` in your dependencies"
)]
pub trait ContractPayload {
    /// The payload's schema.
    fn schema(generator: &mut SchemaGenerator) -> Schema;
}

#[diagnostic::do_not_recommend]
impl<T: JsonSchema + ?Sized> ContractPayload for T {
    fn schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// The schema of payload type `T`.
pub fn payload_schema<T: ContractPayload + ?Sized>(generator: &mut SchemaGenerator) -> Schema {
    T::schema(generator)
}

/// The schema of what `as = ...` evaluates to: `payload` is that
/// expression as a closure of the event, never called.
pub fn payload_schema_of<E: 'static, F, Fut>(payload: F, generator: &mut SchemaGenerator) -> Schema
where
    F: FnOnce(&'static E) -> Fut,
    Fut: Future,
    Fut::Output: ContractPayload,
{
    let _ = payload;
    <Fut::Output as ContractPayload>::schema(generator)
}

//! The `as = ...` payload of an event: one error, in fast-app's words, when
//! it cannot be broadcast.
//!
//! A payload must implement `Serialize` and be `Send` and `Sync`. Generated
//! code probes the value's type by autoref specialization, picking the first
//! of [`ProbeReady`], [`ProbeSerialize`], [`ProbeAny`] whose bounds hold, and
//! wraps the value in [`Ready`], [`NotSendSync`] or [`NotSerialize`]. Only
//! [`Ready`] implements [`AsPayload`], the one assertion: a payload that fails
//! is one error on the `as` expression, and the wrappers implement
//! `Serialize + Send + Sync` themselves, so the event's return type adds none.
//!
//! ```text
//! let value = <as expression>;
//! let kind = (&&&Probe::of(&value)).probe();
//! <_ as AsPayload>::into_payload(kind.wrap(value))
//! ```

use std::marker::PhantomData;

use serde::{Serialize, Serializer};

/// The type of a payload, for probing.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// The probe of `value`'s type.
    pub fn of(_value: &T) -> Self {
        Self(PhantomData)
    }
}

/// Picked when the payload is `Serialize + Send + Sync`.
pub trait ProbeReady {
    /// The wrapper maker.
    fn probe(&self) -> ReadyKind;
}

impl<T: Serialize + Send + Sync> ProbeReady for &&Probe<T> {
    fn probe(&self) -> ReadyKind {
        ReadyKind
    }
}

/// Picked when the payload is `Serialize` but not `Send` or not `Sync`.
pub trait ProbeSerialize {
    /// The wrapper maker.
    fn probe(&self) -> NotSendSyncKind;
}

impl<T: Serialize> ProbeSerialize for &Probe<T> {
    fn probe(&self) -> NotSendSyncKind {
        NotSendSyncKind
    }
}

/// Picked when the payload does not implement `Serialize`.
pub trait ProbeAny {
    /// The wrapper maker.
    fn probe(&self) -> NotSerializeKind;
}

impl<T> ProbeAny for Probe<T> {
    fn probe(&self) -> NotSerializeKind {
        NotSerializeKind
    }
}

/// Wraps a ready payload.
pub struct ReadyKind;

impl ReadyKind {
    /// The payload, ready.
    pub fn wrap<T>(self, value: T) -> Ready<T> {
        Ready(value)
    }
}

/// Wraps a payload that cannot cross threads.
pub struct NotSendSyncKind;

impl NotSendSyncKind {
    /// A stand-in; it never compiles into a program (see [`AsPayload`]).
    pub fn wrap<T>(self, value: T) -> NotSendSync<T> {
        drop(value);
        NotSendSync(PhantomData)
    }
}

/// Wraps a payload that does not serialize.
pub struct NotSerializeKind;

impl NotSerializeKind {
    /// A stand-in; it never compiles into a program (see [`AsPayload`]).
    pub fn wrap<T>(self, value: T) -> NotSerialize<T> {
        drop(value);
        NotSerialize(PhantomData)
    }
}

/// A payload that serializes and crosses threads: serialized as the value itself.
pub struct Ready<T>(T);

impl<T: Serialize> Serialize for Ready<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A payload of type `T` that is not `Send` or not `Sync`.
pub struct NotSendSync<T>(PhantomData<fn() -> T>);

/// A payload of type `T` that does not implement `Serialize`.
pub struct NotSerialize<T>(PhantomData<fn() -> T>);

impl<T> Serialize for NotSendSync<T> {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "unreachable: this payload does not compile",
        ))
    }
}

impl<T> Serialize for NotSerialize<T> {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "unreachable: this payload does not compile",
        ))
    }
}

/// A payload `broadcast` can send; only [`Ready`] is one.
#[diagnostic::on_unimplemented(
    message = "this `as` payload cannot be broadcast: it must implement `Serialize` and be `Send` and `Sync`",
    label = "`Serialize + Send + Sync` is required here",
    note = "a payload is serialized once and sent from any task: derive `Serialize` for it (`#[derive(Serialize)]`), and hold no `Rc`, `Cell` or `RefCell` in it"
)]
pub trait AsPayload {
    /// The payload.
    fn into_payload(self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Serialize + Send + Sync> AsPayload for Ready<T> {
    fn into_payload(self) -> Self {
        self
    }
}

/// An event that is its own payload: only a [`Ready`] reference to it is one.
#[diagnostic::on_unimplemented(
    message = "`{E}` cannot be sent as its own payload: it must implement `Serialize` and be `Sync`",
    label = "the default payload is the event itself",
    note = "derive `Serialize` for `{E}`, or give the payload with `#[broadcast(as = ...)]`"
)]
pub trait AsSelfPayload<E: ?Sized> {
    /// The payload.
    fn into_payload(self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: ?Sized, T: Serialize + Send + Sync> AsSelfPayload<E> for Ready<T> {
    fn into_payload(self) -> Self {
        self
    }
}

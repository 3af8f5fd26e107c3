//! Where a broadcast goes: rooms, each in a namespace.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::error::InvalidRoomName;
use crate::namespace::ServedRoom;
use crate::room::Room;

/// The namespace of plain room strings.
pub const DEFAULT_NAMESPACE: &str = "/";

/// One room of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The namespace path, e.g. `/`.
    pub namespace: Cow<'static, str>,
    /// The room name, e.g. `chat|42`.
    pub room: String,
}

impl Target {
    /// A room of a given namespace, for rooms that are not `#[derive(Room)]` types.
    pub fn new(namespace: impl Into<Cow<'static, str>>, room: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            room: room.into(),
        }
    }
}

/// The rooms a broadcast goes to, built from anything that is [`IntoTargets`].
///
/// `on = ...` converts its value with [`Targets::from_value`]; build a
/// `Targets` yourself to mix kinds:
///
/// ```
/// use fast_app::{Target, Targets};
///
/// let targets = Targets::new()
///     .with("lobby")
///     .with(vec!["news".to_string()])
///     .with(Target::new("/admin", "audit"));
/// let rooms: Vec<_> = targets.iter().map(|t| (&*t.namespace, t.room.as_str())).collect();
/// assert_eq!(rooms, [("/", "lobby"), ("/", "news"), ("/admin", "audit")]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    // Most events go to one room: keep it inline, no allocation.
    list: SmallVec<[Target; 1]>,
    invalid: Vec<InvalidRoomName>,
}

impl Targets {
    /// No targets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Converts any target value.
    pub fn from_value(value: impl IntoTargets) -> Self {
        let mut targets = Self::new();
        value.add_to(&mut targets);
        targets
    }

    /// Adds `value`'s targets.
    pub fn with(mut self, value: impl IntoTargets) -> Self {
        value.add_to(&mut self);
        self
    }

    /// Adds `value`'s targets in place.
    pub fn push(&mut self, value: impl IntoTargets) {
        value.add_to(self);
    }

    /// Adds a room of the default namespace `/`.
    pub fn push_room(&mut self, room: impl Into<String>) {
        self.list.push(Target::new(DEFAULT_NAMESPACE, room));
    }

    /// Adds a room value under the namespace that serves it; a room whose
    /// identifiers cannot form a name is kept as an error for `broadcast` to report.
    pub fn push_served<R: Room + ServedRoom>(&mut self, room: &R) {
        match room.name() {
            Ok(name) => self.list.push(Target::new(R::NAMESPACE, name)),
            Err(e) => self.invalid.push(e),
        }
    }

    /// The targets, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.list.iter()
    }

    /// How many targets there are (duplicates included).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there is no target.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Room values whose names were refused.
    pub fn invalid(&self) -> &[InvalidRoomName] {
        &self.invalid
    }

    /// The one target, when there is exactly one and no refused room value.
    pub(crate) fn into_single(self) -> Result<Target, Self> {
        if self.list.len() == 1 && self.invalid.is_empty() {
            return Ok(self.list.into_iter().next().expect("one target"));
        }
        Err(self)
    }

    /// The targets grouped per namespace, each room once, in first-seen order,
    /// with the refused room values.
    pub(crate) fn into_groups(self) -> (Vec<Group>, Vec<InvalidRoomName>) {
        let mut groups: Vec<Group> = Vec::new();
        for Target { namespace, room } in self.list {
            let index = match groups.iter().position(|g| g.namespace == namespace) {
                Some(index) => index,
                None => {
                    groups.push(Group {
                        namespace,
                        rooms: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let rooms = &mut groups[index].rooms;
            if !rooms.contains(&room) {
                rooms.push(room);
            }
        }
        (groups, self.invalid)
    }
}

/// The rooms of one namespace a broadcast goes to: one emit.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) namespace: Cow<'static, str>,
    /// Each room once, in target order.
    pub(crate) rooms: Vec<String>,
}

/// A value `on = ...` accepts: a room name, a served room, or collections of those.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a broadcast target",
    label = "not a broadcast target",
    note = "a target is a room name (`&str`, `String`), a `#[derive(Room)]` value, an `Option`, `Vec`, array or slice of those, or a `Targets` value that mixes them",
    note = "a room becomes a target once a namespace lists it in `#[rooms(...)]`"
)]
pub trait IntoTargets {
    /// Appends this value's targets.
    fn add_to(self, targets: &mut Targets);
}

#[diagnostic::do_not_recommend]
impl<R: Room + ServedRoom> IntoTargets for R {
    fn add_to(self, targets: &mut Targets) {
        targets.push_served(&self);
    }
}

impl IntoTargets for &str {
    fn add_to(self, targets: &mut Targets) {
        targets.push_room(self);
    }
}

impl IntoTargets for String {
    fn add_to(self, targets: &mut Targets) {
        targets.push_room(self);
    }
}

impl IntoTargets for &String {
    fn add_to(self, targets: &mut Targets) {
        targets.push_room(self.as_str());
    }
}

impl IntoTargets for Cow<'_, str> {
    fn add_to(self, targets: &mut Targets) {
        targets.push_room(self.into_owned());
    }
}

impl IntoTargets for Target {
    fn add_to(self, targets: &mut Targets) {
        targets.list.push(self);
    }
}

impl IntoTargets for Targets {
    fn add_to(self, targets: &mut Targets) {
        targets.list.extend(self.list);
        targets.invalid.extend(self.invalid);
    }
}

impl<T: IntoTargets> IntoTargets for Option<T> {
    fn add_to(self, targets: &mut Targets) {
        if let Some(value) = self {
            value.add_to(targets);
        }
    }
}

impl<T: IntoTargets> IntoTargets for Vec<T> {
    fn add_to(self, targets: &mut Targets) {
        for value in self {
            value.add_to(targets);
        }
    }
}

impl<T: IntoTargets, const N: usize> IntoTargets for [T; N] {
    fn add_to(self, targets: &mut Targets) {
        for value in self {
            value.add_to(targets);
        }
    }
}

impl<T: IntoTargets + Clone> IntoTargets for &[T] {
    fn add_to(self, targets: &mut Targets) {
        for value in self {
            value.clone().add_to(targets);
        }
    }
}

impl<T: IntoTargets + Clone> IntoTargets for &Vec<T> {
    fn add_to(self, targets: &mut Targets) {
        self.as_slice().add_to(targets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_valid_target_is_single_and_anything_else_is_not() {
        let one = Targets::from_value("lobby");
        assert_eq!(one.into_single(), Ok(Target::new("/", "lobby")));
        let two = Targets::new().with("lobby").with("news");
        assert_eq!(two.clone().into_single(), Err(two));
        assert!(Targets::new().into_single().is_err());
        // A refused room value must reach `broadcast` as an error, so the
        // target beside it does not make the broadcast single.
        let mut refused = Targets::from_value("lobby");
        refused.invalid.push(crate::error::InvalidRoomName {
            key: "chat",
            value: "a|b".into(),
        });
        assert_eq!(refused.clone().into_single(), Err(refused));
    }

    #[test]
    fn targets_group_per_namespace_with_each_room_once() {
        let targets = Targets::new()
            .with("lobby")
            .with(Target::new("/admin", "audit"))
            .with("lobby")
            .with("news");
        let (groups, invalid) = targets.into_groups();
        assert!(invalid.is_empty());
        let groups: Vec<_> = groups.iter().map(|g| (&*g.namespace, g.rooms.clone())).collect();
        assert_eq!(
            groups,
            [
                ("/", vec!["lobby".to_string(), "news".to_string()]),
                ("/admin", vec!["audit".to_string()])
            ]
        );
    }
}

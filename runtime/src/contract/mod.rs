//! The client contract: what a program's namespaces, rooms and events look
//! like on the wire, as TypeScript for socket.io-client, JSON Schema and
//! AsyncAPI 3.0, made from the same declarations the server runs.
//!
//! ```no_run
//! # fn main() -> Result<(), fast_app::contract::ContractError> {
//! // In a test of the crate that declares the namespaces: checks the
//! // checked-in contract, or rewrites it with FAST_APP_CONTRACT=overwrite.
//! fast_app::contract::Contract::of_program()?
//!     .titled(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
//!     .sync(concat!(env!("CARGO_MANIFEST_DIR"), "/contract"))?;
//! # Ok(())
//! # }
//! ```

mod asyncapi;
mod declare;
mod files;
mod protocol;
mod render;
mod typescript;

use std::collections::BTreeMap;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::registry::{self, NamespaceDef};

#[doc(hidden)]
pub use declare::{
    ContractPayload, ProbeServedRoom, ProbeUnservedRoom, RoomProbe, payload_schema, payload_schema_of,
};
pub use declare::{EventDef, Reach, SchemaFn};
pub use files::{CONTRACT_ENV, ContractError};

/// The client contract of a program: every namespace linked into it, its
/// rooms, and every broadcast event that reaches them.
#[derive(Debug, Clone)]
pub struct Contract {
    title: String,
    version: String,
    namespaces: Vec<Ns>,
    /// Every named type, by TypeScript name: the definitions of the payloads'
    /// schemas (`$ref`s point at `#/definitions/<name>`).
    definitions: BTreeMap<String, Value>,
}

/// A namespace as the contract describes it.
#[derive(Debug, Clone)]
struct Ns {
    path: &'static str,
    type_name: &'static str,
    rooms: Vec<RoomInfo>,
    /// The events that reach its rooms, by wire name.
    events: Vec<EventInfo>,
    /// Whether one of its rooms keeps presence.
    presence: bool,
    /// Whether one of its rooms keeps history, for resuming clients.
    history: bool,
}

#[derive(Debug, Clone)]
struct RoomInfo {
    key: &'static str,
    type_name: &'static str,
    fields: &'static [&'static str],
    presence: bool,
    history: usize,
    /// The join payload's schema: a `$ref` or an inline schema.
    join: Value,
}

#[derive(Debug, Clone)]
struct EventInfo {
    name: &'static str,
    type_name: &'static str,
    payload: Value,
    /// The channels it is sent on: room keys, or names of rooms of `/`.
    rooms: Vec<Channel>,
}

/// A room pattern an event is sent to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    /// Every room of the room type with this key.
    Key(&'static str),
    /// One room by name.
    Named(&'static str),
}

impl Contract {
    /// The contract of every namespace and event linked into this program
    /// (see [`namespaces`](crate::registry::namespaces) for what is linked).
    pub fn of_program() -> Result<Self, ContractError> {
        let namespaces = registry::namespaces()?;
        let events: Vec<&'static EventDef> = inventory::iter::<EventDef>.into_iter().collect();
        Self::of(&namespaces, &events)
    }

    /// Names the application in the AsyncAPI document (`info.title` and
    /// `info.version`). Default: `fast-app application`, `0.0.0`.
    pub fn titled(mut self, title: impl Into<String>, version: impl Into<String>) -> Self {
        self.title = title.into();
        self.version = version.into();
        self
    }

    pub(crate) fn of(
        namespaces: &[&'static NamespaceDef],
        events: &[&'static EventDef],
    ) -> Result<Self, ContractError> {
        let settings = SchemaSettings::draft07();
        // What the server sends, as serde writes it; what it reads, as serde reads it.
        let mut sent = settings.clone().for_serialize().into_generator();
        let mut read = settings.for_deserialize().into_generator();

        let mut events: Vec<&EventDef> = events.to_vec();
        events.sort_by_key(|e| (e.name, e.type_name));
        let mut contract = Contract {
            title: "fast-app application".to_owned(),
            version: "0.0.0".to_owned(),
            namespaces: Vec::new(),
            definitions: BTreeMap::new(),
        };
        let mut payloads = Vec::new();
        for event in &events {
            payloads.push(((event.payload)(&mut sent).to_value(), (event.reaches)()));
        }
        for def in namespaces {
            let rooms = def
                .rooms
                .iter()
                .map(|room| RoomInfo {
                    key: room.key,
                    type_name: room.type_name,
                    fields: room.fields,
                    presence: room.presence,
                    history: room.history,
                    join: (room.join_schema)(&mut read).to_value(),
                })
                .collect::<Vec<_>>();
            let mut ns = Ns {
                path: def.path,
                type_name: def.type_name,
                presence: rooms.iter().any(|r| r.presence),
                history: rooms.iter().any(|r| r.history > 0),
                rooms,
                events: Vec::new(),
            };
            for (event, (payload, reaches)) in events.iter().zip(&payloads) {
                let mut channels: Vec<Channel> = reaches
                    .iter()
                    .filter_map(|reach| match *reach {
                        Reach::Room { namespace, key } if namespace == def.path => Some(Channel::Key(key)),
                        Reach::Named(name) if def.path == crate::DEFAULT_NAMESPACE => {
                            Some(Channel::Named(name))
                        }
                        _ => None,
                    })
                    .collect();
                if channels.is_empty() {
                    continue;
                }
                channels.sort();
                channels.dedup();
                if let Some(other) = ns.events.iter().find(|e| e.name == event.name) {
                    return Err(ContractError::DuplicateEvent {
                        namespace: def.path,
                        name: event.name,
                        first: other.type_name,
                        second: event.type_name,
                    });
                }
                ns.events.push(EventInfo {
                    name: event.name,
                    type_name: event.type_name,
                    payload: payload.clone(),
                    rooms: channels,
                });
            }
            contract.namespaces.push(ns);
        }
        contract.definitions = merge(&mut sent, &mut read, &mut contract.namespaces);
        let history = contract.namespaces.iter().any(|ns| ns.history);
        protocol::define(&mut contract.definitions, history)?;
        contract.name_payloads()?;
        Ok(contract)
    }

    /// Gives every payload a name: a payload schema that is not a reference
    /// to a named type becomes the type `<Type>Payload` (`LobbyRoomPayload`).
    fn name_payloads(&mut self) -> Result<(), ContractError> {
        let mut named = |type_name: &str, schema: &mut Value| -> Result<(), ContractError> {
            if ref_name(schema).is_some() {
                return Ok(());
            }
            let name = format!("{type_name}Payload");
            match self.definitions.get(&name) {
                Some(existing) if existing != schema => return Err(ContractError::NameTaken { name }),
                Some(_) => {}
                None => {
                    self.definitions.insert(name.clone(), schema.clone());
                }
            }
            *schema = serde_json::json!({ "$ref": format!("{DEFINITIONS}{name}") });
            Ok(())
        };
        for ns in &mut self.namespaces {
            for room in &mut ns.rooms {
                named(room.type_name, &mut room.join)?;
            }
            for event in &mut ns.events {
                named(event.type_name, &mut event.payload)?;
            }
        }
        Ok(())
    }
}

/// The named types of both directions in one map. A type read differently
/// from how it is written (a `#[serde(default)]` field is optional only when
/// read) keeps its name for what the server sends, and is `<Name>Input` for
/// what it reads, with the join payloads' `$ref`s renamed to match.
fn merge(
    sent: &mut SchemaGenerator,
    read: &mut SchemaGenerator,
    namespaces: &mut [Ns],
) -> BTreeMap<String, Value> {
    let mut definitions: BTreeMap<String, Value> = sent.take_definitions(true).into_iter().collect();
    let read: Map<String, Value> = read.take_definitions(true);
    let renamed: BTreeMap<String, String> = read
        .iter()
        .filter(|(name, schema)| definitions.get(*name).is_some_and(|s| s != *schema))
        .map(|(name, _)| (name.clone(), format!("{name}Input")))
        .collect();
    for (name, mut schema) in read {
        rename_refs(&mut schema, &renamed);
        let name = renamed.get(&name).cloned().unwrap_or(name);
        definitions.insert(name, schema);
    }
    for ns in namespaces {
        for room in &mut ns.rooms {
            rename_refs(&mut room.join, &renamed);
        }
    }
    definitions
}

/// Points every `#/definitions/<old>` reference in `schema` at its new name.
fn rename_refs(schema: &mut Value, renamed: &BTreeMap<String, String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "$ref"
                    && let Some(target) = value.as_str().and_then(|r| r.strip_prefix(DEFINITIONS))
                    && let Some(new) = renamed.get(target)
                {
                    *value = Value::String(format!("{DEFINITIONS}{new}"));
                } else {
                    rename_refs(value, renamed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renamed)),
        _ => {}
    }
}

/// Where schemars puts the named types of draft-07 schemas.
const DEFINITIONS: &str = "#/definitions/";

/// The definition a schema is a bare reference to, if it is one.
fn ref_name(schema: &Value) -> Option<&str> {
    let map = schema.as_object()?;
    (map.len() == 1).then_some(())?;
    map.get("$ref")?.as_str()?.strip_prefix(DEFINITIONS)
}

impl Ns {
    /// The room of `key`.
    fn room(&self, key: &str) -> Option<&RoomInfo> {
        self.rooms.iter().find(|r| r.key == key)
    }
}

impl Channel {
    /// The channel's address: `chat|{chat_id}`, or the room's name.
    fn address(&self, ns: &Ns) -> String {
        match *self {
            Channel::Key(key) => {
                let mut address = key.to_owned();
                for field in ns.room(key).map_or(&[][..], |r| r.fields) {
                    address.push(crate::SEPARATOR);
                    address.push_str(&format!("{{{field}}}"));
                }
                address
            }
            Channel::Named(name) => name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::namespace::{Namespace, ServedRoom};
    use crate::registry::RoomEntry;
    use crate::{InvalidRoomName, Room, RoomName, Session, ValidationError};

    struct Root;
    impl Namespace for Root {
        const PATH: &'static str = "/";
    }
    struct Admin;
    impl Namespace for Admin {
        const PATH: &'static str = "/admin";
    }

    /// A room whose payload reads a defaulted field: `ChatRoomInput` when read.
    #[derive(Serialize, Deserialize, JsonSchema)]
    struct ChatRoom {
        chat_id: u64,
        #[serde(default)]
        archived: bool,
    }
    impl Room for ChatRoom {
        const KEY: &'static str = "chat";
        const FIELDS: &'static [&'static str] = &["chat_id"];
        fn write_name(&self, name: &mut RoomName) -> Result<(), InvalidRoomName> {
            name.push(&self.chat_id)
        }
        async fn extract(_: &Session, _: Value) -> Result<Self, ValidationError> {
            Err(ValidationError::new("unused"))
        }
        fn join_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
            generator.subschema_for::<Self>()
        }
    }
    impl ServedRoom for ChatRoom {
        const NAMESPACE: &'static str = "/";
    }

    struct AuditRoom;
    impl Room for AuditRoom {
        const KEY: &'static str = "audit";
        fn write_name(&self, _: &mut RoomName) -> Result<(), InvalidRoomName> {
            Ok(())
        }
        async fn extract(_: &Session, _: Value) -> Result<Self, ValidationError> {
            Ok(AuditRoom)
        }
    }
    impl ServedRoom for AuditRoom {
        const NAMESPACE: &'static str = "/admin";
    }

    #[derive(Serialize, JsonSchema)]
    struct Note {
        text: String,
    }

    static ROOT: NamespaceDef =
        NamespaceDef::of::<Root>("Root", &[RoomEntry::of::<ChatRoom>("ChatRoom")], None);
    static ADMIN: NamespaceDef =
        NamespaceDef::of::<Admin>("Admin", &[RoomEntry::of::<AuditRoom>("AuditRoom")], None);

    static EVERYWHERE: EventDef = EventDef::new("note", "Everywhere", payload_schema::<Note>, || {
        vec![
            Reach::room::<ChatRoom>(),
            Reach::room::<AuditRoom>(),
            Reach::Named("lobby"),
        ]
    });
    static CHAT_STATE: EventDef =
        EventDef::new("chat_state", "ChatState", payload_schema::<ChatRoom>, || {
            vec![Reach::room::<ChatRoom>()]
        });
    static ANY: EventDef = EventDef::new("any", "Any", payload_schema::<Value>, || {
        vec![Reach::Named("lobby")]
    });
    static SAME_NAME: EventDef = EventDef::new("note", "SameName", payload_schema::<Note>, || {
        vec![Reach::room::<ChatRoom>()]
    });

    fn contract(events: &[&'static EventDef]) -> Result<Contract, ContractError> {
        Contract::of(&[&ROOT, &ADMIN], events)
    }

    #[test]
    fn an_event_is_in_each_namespace_it_reaches_with_its_channels() {
        let contract = contract(&[&EVERYWHERE, &ANY]).unwrap();
        let root = &contract.namespaces[0];
        let note = root.events.iter().find(|e| e.name == "note").unwrap();
        assert_eq!(note.rooms, [Channel::Key("chat"), Channel::Named("lobby")]);
        assert_eq!(Channel::Key("chat").address(root), "chat|{chat_id}");
        let admin = &contract.namespaces[1];
        let names: Vec<_> = admin.events.iter().map(|e| (e.name, e.rooms.clone())).collect();
        assert_eq!(
            names,
            [("note", vec![Channel::Key("audit")])],
            "a named room is a room of `/` only"
        );
        let ts = contract.typescript();
        assert!(
            ts.contains("export interface AdminServerToClientEvents {"),
            "{ts}"
        );
        assert!(ts.contains("  note: (payload: Note) => void;"), "{ts}");
        assert!(
            ts.contains("export interface ServerToClientEvents extends RootServerToClientEvents {}"),
            "{ts}"
        );
        assert!(!ts.contains("presence_state"), "no room keeps presence: {ts}");
        assert!(
            ts.contains("  any: (payload: AnyPayload) => void;"),
            "an inline payload is named: {ts}"
        );
        assert!(ts.contains("export type AnyPayload = unknown;"), "{ts}");
        assert!(ts.contains("  join_audit: (payload: AuditRoomPayload, ack: (reply: JoinedReply | ErrorReply) => void) => void;"), "{ts}");
    }

    #[test]
    fn a_type_read_otherwise_than_written_is_two_types() {
        let contract = contract(&[&CHAT_STATE]).unwrap();
        let sent = &contract.definitions["ChatRoom"];
        let read = &contract.definitions["ChatRoomInput"];
        assert_eq!(sent["required"], serde_json::json!(["chat_id", "archived"]));
        assert_eq!(
            read["required"],
            serde_json::json!(["chat_id"]),
            "a defaulted field is optional when read"
        );
        assert_eq!(
            contract.namespaces[0].rooms[0].join["$ref"],
            "#/definitions/ChatRoomInput"
        );
        let schemas = contract.schemas();
        let join = &schemas["schemas/client-to-server/join_chat.json"];
        assert_eq!(join["$ref"], "#/definitions/ChatRoomInput");
        assert!(
            join["definitions"].get("ChatRoomInput").is_some(),
            "standalone: {join}"
        );
        assert!(schemas.contains_key("schemas/admin/server-to-client/joined.json"));
    }

    #[test]
    fn two_events_of_one_name_in_one_namespace_are_refused() {
        let err = contract(&[&EVERYWHERE, &SAME_NAME]).unwrap_err();
        assert!(
            matches!(
                err,
                ContractError::DuplicateEvent {
                    namespace: "/",
                    name: "note",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_payload_type_named_like_a_protocol_type_is_refused() {
        #[derive(Serialize, JsonSchema)]
        struct JoinedReply {
            at: u64,
        }
        static CLASH: EventDef = EventDef::new("clash", "Clash", payload_schema::<JoinedReply>, || {
            vec![Reach::Named("lobby")]
        });
        let err = contract(&[&CLASH]).unwrap_err();
        assert!(
            matches!(err, ContractError::ReservedType { name: "JoinedReply" }),
            "{err}"
        );
    }

    #[test]
    fn check_names_what_is_missing_changed_or_no_longer_generated() {
        let contract = contract(&[&EVERYWHERE]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = contract.check(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("index.ts (missing)") && err.contains("FAST_APP_CONTRACT=overwrite"),
            "{err}"
        );

        contract.write(dir.path()).unwrap();
        contract.check(dir.path()).unwrap();

        std::fs::write(dir.path().join("index.ts"), "// edited\n").unwrap();
        std::fs::write(dir.path().join("schemas/server-to-client/gone.json"), "{}").unwrap();
        let err = contract.check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("index.ts (changed)"), "{err}");
        assert!(
            err.contains("schemas/server-to-client/gone.json (no longer generated)"),
            "{err}"
        );

        contract.write(dir.path()).unwrap();
        assert!(!dir.path().join("schemas/server-to-client/gone.json").exists());
        contract.check(dir.path()).unwrap();
    }
}

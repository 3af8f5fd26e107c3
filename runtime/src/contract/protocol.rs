//! The join protocol's own payloads, as the contract names them: what
//! `runtime/src/protocol.rs` and the presence module send.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ContractError;

/// `joined` / the acknowledgement of `join_K`.
pub(super) const JOINED: &str = "JoinedReply";
/// `left` / the acknowledgement of `leave_K`.
pub(super) const LEFT: &str = "LeftReply";
/// `error`, and the acknowledgement of a refused request.
pub(super) const ERROR: &str = "ErrorReply";
/// `socket_id` / its acknowledgement.
pub(super) const SOCKET_ID: &str = "SocketIdReply";
/// A member of a presence room.
pub(super) const MEMBER: &str = "PresenceMember";
/// `presence_state`.
pub(super) const STATE: &str = "PresenceState";
/// `presence_join`.
pub(super) const JOIN: &str = "PresenceJoin";
/// `presence_leave`.
pub(super) const LEAVE: &str = "PresenceLeave";
/// `fa_session`.
pub(super) const RESUME_SESSION: &str = "ResumeSession";
/// `fa_resumed`.
pub(super) const RESUMED: &str = "ResumeOutcome";
/// The last argument of an event to a room with history, for resumable clients.
pub(super) const OFFSETS: &str = "HistoryOffsets";

/// Adds the protocol's types to `definitions`; a program type of the same
/// name is an error, not a silent replacement.
pub(super) fn define(definitions: &mut BTreeMap<String, Value>, history: bool) -> Result<(), ContractError> {
    let room = |description: &str| json!({ "type": "string", "description": description });
    let reply = |description: &str| {
        json!({
            "description": description,
            "type": "object",
            "properties": { "room": room("The room's name, e.g. `chat|1`.") },
            "required": ["room"],
        })
    };
    let error = |kind: &str, field: &str, description: &str| {
        json!({
            "type": "object",
            "properties": { "type": { "type": "string", "const": kind }, field: { "type": "string" } },
            "required": ["type", field],
            "description": description,
        })
    };
    let change = |description: &str| {
        json!({
            "description": description,
            "type": "object",
            "properties": { "room": room("The room's name."), "member": { "$ref": format!("#/definitions/{MEMBER}") } },
            "required": ["room", "member"],
        })
    };
    let position = json!({
        "type": "object",
        "properties": {
            "epoch": { "type": "string", "description": "The room's history epoch: 16 hexadecimal digits." },
            "offset": { "type": "integer", "minimum": 0, "description": "The number of the room's last event in that epoch." },
        },
        "required": ["epoch", "offset"],
    });
    let mut joined = reply(
        "A join done: the room joined. In a room with history, a resumable connection also gets its position there: it has seen nothing before it.",
    );
    joined["properties"]["epoch"] = position["properties"]["epoch"].clone();
    joined["properties"]["offset"] = position["properties"]["offset"].clone();
    let types = [
        (JOINED, joined),
        (LEFT, reply("A leave done: the room left.")),
        (
            ERROR,
            json!({
                "description": "A request refused, or presence not available.",
                "oneOf": [
                    error("validation_error", "msg", "The payload does not describe a room; `msg` says why."),
                    error("forbidden", "room", "The room's guard refused the join."),
                    error("presence_unavailable", "room", "Joined, but the room's members could not be read."),
                ],
            }),
        ),
        (
            SOCKET_ID,
            json!({
                "description": "The connection's public id, for broadcasts that leave it out (`X-Socket-ID`).",
                "type": "object",
                "properties": { "id": { "type": "string", "description": "32 hexadecimal digits." } },
                "required": ["id"],
            }),
        ),
        (
            MEMBER,
            json!({
                "description": "A user in a room that keeps presence.",
                "type": "object",
                "properties": {
                    "id": { "type": "string", "description": "The user's id: one member per user, whatever its connections." },
                    "info": { "description": "What the room's `presence` function shows of the user." },
                },
                "required": ["id", "info"],
            }),
        ),
        (
            STATE,
            json!({
                "description": "Every member of a room, sent to its joiner after `joined`.",
                "type": "object",
                "properties": {
                    "room": room("The room's name."),
                    "members": { "type": "array", "items": { "$ref": format!("#/definitions/{MEMBER}") } },
                },
                "required": ["room", "members"],
            }),
        ),
        (
            RESUME_SESSION,
            json!({
                "description": "A resumable connection's token: what its next connection sends in `auth.fa_resume.token`.",
                "type": "object",
                "properties": { "token": { "type": "string" } },
                "required": ["token"],
            }),
        ),
        (
            RESUMED,
            json!({
                "description": "What a resume restored, after the missed events.",
                "type": "object",
                "properties": {
                    "rooms": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "room": { "type": "string", "description": "The room, when it was joined again." },
                                "key": { "type": "string" },
                                "recovered": { "type": "boolean", "description": "Whether every event the room was sent meanwhile was sent again; if not, refetch." },
                                "error": { "$ref": format!("#/definitions/{ERROR}") },
                            },
                            "required": ["key", "recovered"],
                        },
                    },
                    "error": { "type": "string", "description": "Why nothing was restored: the token was refused." },
                },
                "required": ["rooms"],
            }),
        ),
        (
            OFFSETS,
            json!({
                "description": "An event's positions in the rooms with history it was sent to: its last argument, for resumable connections.",
                "type": "object",
                "properties": { "fa_offsets": { "type": "object", "additionalProperties": position } },
                "required": ["fa_offsets"],
            }),
        ),
        (JOIN, change("A user's first connection joined the room.")),
        (LEAVE, change("A user's last connection left the room.")),
    ];
    // The resume protocol's types, where a room keeps history.
    let resume = [RESUME_SESSION, RESUMED, OFFSETS];
    for (name, schema) in types
        .into_iter()
        .filter(|(name, _)| history || !resume.contains(name))
    {
        if definitions.insert(name.to_owned(), schema).is_some() {
            return Err(ContractError::ReservedType { name });
        }
    }
    Ok(())
}

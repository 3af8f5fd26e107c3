//! Engine.IO v4 / Socket.IO v5 text packets: encoding and decoding.

use serde_json::Value;

/// A Socket.IO packet the server sent. `ns` is its namespace in every variant.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Packet {
    /// CONNECT accepted, with the session id.
    Connect { ns: String, sid: String },
    /// The server closed the namespace connection.
    Disconnect { ns: String },
    /// An event; `id` is set when the server asks for an acknowledgement.
    Event {
        ns: String,
        id: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    /// The answer to the acknowledgement request `id`.
    Ack { ns: String, id: u64, args: Vec<Value> },
    /// CONNECT refused, with the server's message and data.
    ConnectError {
        ns: String,
        message: String,
        data: Option<Value>,
    },
}

/// An Engine.IO packet the server sent, on a text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The handshake: sid, ping interval and timeout...
    Open(Value),
    /// The server closes the connection.
    Close,
    /// A heartbeat to answer with a pong carrying the same data.
    Ping(String),
    /// An answer to a ping.
    Pong,
    /// A Socket.IO packet.
    Message(Packet),
    /// Nothing.
    Noop,
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<Frame, String> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or("empty frame")?;
    let rest = chars.as_str();
    match kind {
        '0' => serde_json::from_str(rest)
            .map(Frame::Open)
            .map_err(|e| format!("open packet: {e}")),
        '1' => Ok(Frame::Close),
        '2' => Ok(Frame::Ping(rest.to_owned())),
        '3' => Ok(Frame::Pong),
        '4' => decode_socketio(rest).map(Frame::Message),
        '6' => Ok(Frame::Noop),
        other => Err(format!("unknown engine.io packet type {other:?}")),
    }
}

fn decode_socketio(text: &str) -> Result<Packet, String> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or("empty socket.io packet")?;
    let mut rest = chars.as_str();
    let ns = if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        let ns = rest[..end].to_owned();
        rest = rest.get(end + 1..).unwrap_or("");
        ns
    } else {
        "/".to_owned()
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = match digits {
        0 => None,
        _ => Some(
            rest[..digits]
                .parse::<u64>()
                .map_err(|e| format!("ack id: {e}"))?,
        ),
    };
    let body = &rest[digits..];
    let json = |what: &str| -> Result<Value, String> {
        serde_json::from_str(body).map_err(|e| format!("{what} payload {body:?}: {e}"))
    };
    match kind {
        '0' => {
            let payload = json("connect")?;
            let sid = payload["sid"].as_str().ok_or("connect without sid")?.to_owned();
            Ok(Packet::Connect { ns, sid })
        }
        '1' => Ok(Packet::Disconnect { ns }),
        '2' => {
            let Value::Array(mut items) = json("event")? else {
                return Err("event payload is not an array".into());
            };
            if items.is_empty() {
                return Err("event without a name".into());
            }
            let Value::String(name) = items.remove(0) else {
                return Err("event name is not a string".into());
            };
            Ok(Packet::Event {
                ns,
                id,
                name,
                args: items,
            })
        }
        '3' => {
            let Value::Array(args) = json("ack")? else {
                return Err("ack payload is not an array".into());
            };
            Ok(Packet::Ack {
                ns,
                id: id.ok_or("ack without id")?,
                args,
            })
        }
        '4' => {
            let payload = json("connect_error")?;
            let message = match &payload {
                Value::String(s) => s.clone(),
                other => other["message"].as_str().unwrap_or_default().to_owned(),
            };
            let data = payload.get("data").cloned();
            Ok(Packet::ConnectError { ns, message, data })
        }
        '5' | '6' => Err("binary packets are not supported by this client".into()),
        other => Err(format!("unknown socket.io packet type {other:?}")),
    }
}

fn ns_prefix(ns: &str) -> String {
    if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    }
}

/// `40[/ns,][auth]`.
pub fn connect(ns: &str, auth: Option<&Value>) -> String {
    let auth = auth.map(Value::to_string).unwrap_or_default();
    format!("40{}{auth}", ns_prefix(ns))
}

/// `41[/ns,]`.
pub fn disconnect(ns: &str) -> String {
    format!("41{}", ns_prefix(ns))
}

/// `42[/ns,][id]["name",args...]`.
pub fn event(ns: &str, id: Option<u64>, name: &str, args: &[Value]) -> String {
    let mut items = Vec::with_capacity(args.len() + 1);
    items.push(Value::String(name.to_owned()));
    items.extend_from_slice(args);
    let id = id.map(|id| id.to_string()).unwrap_or_default();
    format!("42{}{id}{}", ns_prefix(ns), Value::Array(items))
}

/// `43[/ns,]id[args...]`.
pub fn ack(ns: &str, id: u64, args: &[Value]) -> String {
    format!("43{}{id}{}", ns_prefix(ns), Value::Array(args.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_packets() {
        assert_eq!(connect("/", None), "40");
        assert_eq!(
            connect("/admin", Some(&json!({ "token": "x" }))),
            r#"40/admin,{"token":"x"}"#
        );
        assert_eq!(
            event("/", None, "join", &[json!({ "a": 1 })]),
            r#"42["join",{"a":1}]"#
        );
        assert_eq!(event("/admin", Some(7), "e", &[]), r#"42/admin,7["e"]"#);
        assert_eq!(ack("/", 3, &[json!(1)]), "433[1]");
        assert_eq!(disconnect("/admin"), "41/admin,");
    }

    #[test]
    fn decodes_packets() {
        assert_eq!(decode("2").unwrap(), Frame::Ping(String::new()));
        assert_eq!(
            decode(r#"40{"sid":"abc"}"#).unwrap(),
            Frame::Message(Packet::Connect {
                ns: "/".into(),
                sid: "abc".into()
            })
        );
        assert_eq!(
            decode(r#"42/admin,["joined",{"room":"a"},2]"#).unwrap(),
            Frame::Message(Packet::Event {
                ns: "/admin".into(),
                id: None,
                name: "joined".into(),
                args: vec![json!({ "room": "a" }), json!(2)]
            })
        );
        assert_eq!(
            decode(r#"4312["ok"]"#).unwrap(),
            Frame::Message(Packet::Ack {
                ns: "/".into(),
                id: 12,
                args: vec![json!("ok")]
            })
        );
        assert_eq!(
            decode(r#"44{"message":"nope"}"#).unwrap(),
            Frame::Message(Packet::ConnectError {
                ns: "/".into(),
                message: "nope".into(),
                data: None
            })
        );
        assert_eq!(
            decode("41/x,").unwrap(),
            Frame::Message(Packet::Disconnect { ns: "/x".into() })
        );
        assert!(decode("42[1]").is_err());
        assert!(decode("4").is_err());
        assert!(decode("").is_err());
    }
}

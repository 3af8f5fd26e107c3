//! TypeScript from JSON Schema.
//!
//! Turns the draft-07 schemas that `schemars` writes for serde types into
//! TypeScript types that describe the JSON on the wire. Validation keywords
//! (`format`, `minimum`, `maxItems`, ...) have no TypeScript form and are
//! ignored.

use serde_json::{Map, Value};

/// A TypeScript type expression for `schema`.
pub(crate) fn type_of(schema: &Value) -> String {
    render(schema, 0).text()
}

/// `export type Name = ...;` for a named schema, with its description as a
/// JSDoc comment, ending with a newline.
pub(crate) fn declaration(name: &str, schema: &Value) -> String {
    let doc = schema.get("description").and_then(Value::as_str);
    let doc = doc.map(|text| jsdoc(text, "")).unwrap_or_default();
    format!("{doc}export type {} = {};\n", identifier(name), type_of(schema))
}

/// The TypeScript identifier for a definition name: characters outside
/// `[A-Za-z0-9_$]` become `_`, and a leading digit gets a `_` in front.
pub(crate) fn identifier(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if word_char(c) { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Whether `c` may appear in a TypeScript identifier (ASCII only).
fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// A type being built, kept as a tree so that unions and intersections can
/// be flattened, deduplicated and parenthesized correctly.
#[derive(Clone, PartialEq)]
enum Ty {
    /// Anything that needs no parentheses: names, literals, objects, arrays.
    One(String),
    Union(Vec<Ty>),
    Inter(Vec<Ty>),
}

impl Ty {
    fn one(text: impl Into<String>) -> Ty {
        Ty::One(text.into())
    }

    fn text(&self) -> String {
        let (members, separator) = match self {
            Ty::One(text) => return text.clone(),
            Ty::Union(members) => (members, " | "),
            Ty::Inter(members) => (members, " & "),
        };
        let texts: Vec<String> = members.iter().map(|ty| ty.paren(true)).collect();
        texts.join(separator)
    }

    /// The text, in parentheses if it is a union or, unless `inter_ok`, an
    /// intersection.
    fn paren(&self, inter_ok: bool) -> String {
        match self {
            Ty::One(text) => text.clone(),
            Ty::Inter(_) if inter_ok => self.text(),
            _ => format!("({})", self.text()),
        }
    }
}

fn union(types: impl IntoIterator<Item = Ty>) -> Ty {
    join(types, false)
}

fn intersection(types: impl IntoIterator<Item = Ty>) -> Ty {
    join(types, true)
}

/// Joins types with `|`, or `&` if `inter`: nested joins of the same kind are
/// flattened, repeats and the neutral member dropped, and the absorbing member
/// (`unknown` in a union, `never` in an intersection) wins alone.
fn join(types: impl IntoIterator<Item = Ty>, inter: bool) -> Ty {
    let (neutral, absorbing) = if inter {
        ("unknown", "never")
    } else {
        ("never", "unknown")
    };
    let mut kept: Vec<Ty> = Vec::new();
    for ty in types {
        let members = match ty {
            Ty::Inter(inner) if inter => inner,
            Ty::Union(inner) if !inter => inner,
            ty => vec![ty],
        };
        for ty in members {
            if ty.text() == absorbing {
                return ty;
            }
            if ty.text() != neutral && !kept.contains(&ty) {
                kept.push(ty);
            }
        }
    }
    match kept.len() {
        0 => Ty::one(neutral),
        1 => kept.remove(0),
        _ if inter => Ty::Inter(kept),
        _ => Ty::Union(kept),
    }
}

/// Renders `schema`; `depth` is the indentation level of multi-line objects.
fn render(schema: &Value, depth: usize) -> Ty {
    let map = match schema {
        Value::Bool(false) => return Ty::one("never"),
        Value::Object(map) => map,
        _ => return Ty::one("unknown"),
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        return Ty::One(reference_name(reference));
    }
    let mut parts = Vec::new();
    if let Some(value) = map.get("const") {
        parts.push(literal(value));
    } else if let Some(Value::Array(values)) = map.get("enum") {
        parts.push(union(values.iter().map(literal)));
    } else {
        match map.get("type") {
            Some(Value::String(name)) => parts.push(typed(map, name, depth)),
            Some(Value::Array(names)) => {
                let names = names.iter().filter_map(Value::as_str);
                parts.push(union(names.map(|name| typed(map, name, depth))));
            }
            _ if has_any(map, &["properties", "additionalProperties", "patternProperties"]) => {
                parts.push(object(map, depth));
            }
            _ if has_any(map, &["items", "prefixItems"]) => parts.push(array(map, depth)),
            _ => {}
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(schemas)) = map.get(key) {
            let types = schemas.iter().map(|schema| render(schema, depth));
            parts.push(if key == "allOf" {
                intersection(types)
            } else {
                union(types)
            });
        }
    }
    // OpenAPI 3.0 marks optional values with `nullable` instead of a `null` type.
    match map.get("nullable") {
        Some(Value::Bool(true)) => union([intersection(parts), Ty::one("null")]),
        _ => intersection(parts),
    }
}

/// Whether `map` has any of `keys`.
fn has_any(map: &Map<String, Value>, keys: &[&str]) -> bool {
    keys.iter().any(|key| map.contains_key(*key))
}

/// The type named by a `$ref`: the last segment of its JSON pointer.
fn reference_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    identifier(&last.replace("~1", "/").replace("~0", "~"))
}

/// A literal type; JSON text is also valid TypeScript type syntax.
fn literal(value: &Value) -> Ty {
    Ty::One(value.to_string())
}

/// The type of `map` read as the JSON type `name`.
fn typed(map: &Map<String, Value>, name: &str, depth: usize) -> Ty {
    match name {
        "string" => Ty::one("string"),
        "number" | "integer" => Ty::one("number"),
        "boolean" => Ty::one("boolean"),
        "null" => Ty::one("null"),
        "object" => object(map, depth),
        "array" => array(map, depth),
        _ => Ty::one("unknown"),
    }
}

/// `T[]`, or a tuple `[A, B]` for `items` as a list (draft-07) or `prefixItems`.
fn array(map: &Map<String, Value>, depth: usize) -> Ty {
    let tuple = match (map.get("prefixItems"), map.get("items")) {
        (Some(Value::Array(items)), _) | (None, Some(Value::Array(items))) => items,
        (_, Some(item)) => return Ty::One(format!("{}[]", render(item, depth).paren(false))),
        _ => return Ty::one("unknown[]"),
    };
    let items: Vec<String> = tuple.iter().map(|item| render(item, depth).text()).collect();
    Ty::One(format!("[{}]", items.join(", ")))
}

/// An object type: a multi-line type literal for `properties`, an index
/// signature for `additionalProperties` and `patternProperties`.
fn object(map: &Map<String, Value>, depth: usize) -> Ty {
    let mut index = Vec::new();
    match map.get("additionalProperties") {
        Some(Value::Bool(false)) => {}
        Some(schema) => index.push(render(schema, depth)),
        None => {}
    }
    if let Some(Value::Object(patterns)) = map.get("patternProperties") {
        index.extend(patterns.values().map(|schema| render(schema, depth)));
    }
    let properties = match map.get("properties") {
        Some(Value::Object(properties)) if !properties.is_empty() => properties,
        _ => {
            let index = (!index.is_empty()).then(|| format!("{{ [key: string]: {} }}", union(index).text()));
            return match (index, map.get("additionalProperties")) {
                (Some(index), _) => Ty::One(index),
                (None, Some(Value::Bool(false))) => Ty::one("Record<string, never>"),
                // Only flattened enums: the combinators say it all.
                (None, _) if has_any(map, &["anyOf", "oneOf", "allOf"]) => Ty::one("unknown"),
                (None, _) => Ty::one("{ [key: string]: unknown }"),
            };
        }
    };
    let required: Vec<&str> = match map.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let pad = "  ".repeat(depth + 1);
    let mut text = String::from("{\n");
    // With an index signature (a flattened map beside named fields), every
    // property's type must fit the signature's: it is widened to them all.
    let mut widened = index.clone();
    for (name, schema) in properties {
        if let Some(doc) = schema.get("description").and_then(Value::as_str) {
            text.push_str(&jsdoc(doc, &pad));
        }
        let optional = if required.contains(&name.as_str()) {
            ""
        } else {
            widened.push(Ty::one("undefined"));
            "?"
        };
        let ty = render(schema, depth + 1);
        text.push_str(&format!(
            "{pad}{}{optional}: {};\n",
            property_key(name),
            ty.text()
        ));
        widened.push(ty);
    }
    if !index.is_empty() {
        text.push_str(&format!("{pad}[key: string]: {};\n", union(widened).text()));
    }
    text.push_str(&"  ".repeat(depth));
    text.push('}');
    Ty::One(text)
}

/// A property name, quoted as a JSON string unless it is an identifier.
fn property_key(name: &str) -> String {
    let mut chars = name.chars();
    if chars.next().is_some_and(|c| word_char(c) && !c.is_ascii_digit()) && chars.all(word_char) {
        name.to_owned()
    } else {
        Value::from(name).to_string()
    }
}

/// A JSDoc comment at indentation `pad`, ending with a newline.
fn jsdoc(text: &str, pad: &str) -> String {
    let text = text.trim().replace("*/", "*\\/");
    if !text.contains('\n') {
        return format!("{pad}/** {text} */\n");
    }
    let mut out = format!("{pad}/**\n");
    for line in text.lines() {
        let line = line.trim_end();
        let sep = if line.is_empty() { "" } else { " " };
        out.push_str(&format!("{pad} *{sep}{line}\n"));
    }
    out.push_str(&format!("{pad} */\n"));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use schemars::JsonSchema;
    use schemars::generate::SchemaSettings;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    /// The declaration of `T` as schemars describes it with `settings`.
    fn declare<T: JsonSchema>(settings: SchemaSettings) -> String {
        let root = settings.into_generator().root_schema_for::<T>();
        declaration(&T::schema_name(), root.as_value())
    }

    fn output<T: JsonSchema>() -> String {
        declare::<T>(SchemaSettings::draft07().for_serialize())
    }

    /// Asserts that serde reads `json` as a `T` and writes it back unchanged.
    fn round_trips<T: Serialize + DeserializeOwned>(json: &str) {
        let value: T = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), json);
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct User {
        name: String,
    }

    /// A chat room.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Chat {
        /// The chat's id.
        chat_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        owner: Option<User>,
        #[serde(rename = "last-seen")]
        last_seen: (i32, String),
        rgb: [u8; 3],
        members: HashMap<String, User>,
        by_id: BTreeMap<u32, bool>,
        extra: serde_json::Value,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Point(f64, f64);

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Name(String);

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Ping;

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(transparent)]
    struct Users {
        list: Vec<User>,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    enum External {
        Quit,
        Say(String),
        Move { x: i32 },
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Internal {
        Joined { user: User },
        Left(User),
        Gone,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        Quit,
        Say(String),
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(untagged)]
    enum Untagged {
        Number(i32),
        Named { name: String },
        Maybe(Option<User>),
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Color {
        Red,
        Green,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Flat {
        id: i32,
        #[serde(flatten)]
        user: User,
        #[serde(flatten)]
        rest: HashMap<String, i32>,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct FlatEnum {
        id: i32,
        #[serde(flatten)]
        action: External,
    }

    #[test]
    fn struct_on_the_output_side() {
        let expected = r#"/** A chat room. */
export type Chat = {
  byId: { [key: string]: boolean };
  /** The chat's id. */
  chatId: number;
  extra: unknown;
  "last-seen": [number, string];
  members: { [key: string]: User };
  owner: User | null;
  rgb: number[];
  tags: string[];
  title?: string | null;
};
"#;
        assert_eq!(output::<Chat>(), expected);
    }

    #[test]
    fn defaults_and_options_are_optional_on_the_input_side() {
        let chat = declare::<Chat>(SchemaSettings::draft07().for_deserialize());
        let fields = "  owner?: User | null;\n  rgb: number[];\n  tags?: string[];\n";
        assert!(chat.contains(fields), "{chat}");
        // Sent without `tags`, `owner` and `title`; echoed with the first two.
        let sent = r#"{"chatId":1,"last-seen":[2,"x"],"rgb":[1,2,3],"members":{},"byId":{},"extra":{}}"#;
        let chat: Chat = serde_json::from_str(sent).unwrap();
        let echoed = r#"{"chatId":1,"tags":[],"owner":null,"last-seen":[2,"x"],"rgb":[1,2,3],"members":{},"byId":{},"extra":{}}"#;
        assert_eq!(serde_json::to_string(&chat).unwrap(), echoed);
        round_trips::<Chat>(&echoed.replace(r#""byId":{}"#, r#""byId":{"7":true}"#));
    }

    #[test]
    fn tuple_newtype_unit_and_transparent_structs() {
        // `Users` is transparent: schemars names it after `Vec<User>` and inlines it where used.
        let expected = r#"export type Point = [number, number];
export type Name = string;
export type Ping = null;
export type Array_of_User = User[];
"#;
        let all = output::<Point>() + &output::<Name>() + &output::<Ping>() + &output::<Users>();
        assert_eq!(all, expected);
        round_trips::<(Point, Name, Ping, Users)>(r#"[[1.5,2.0],"n",null,[{"name":"a"}]]"#);
    }

    #[test]
    fn enum_representations() {
        let expected = r#"export type External = "Quit" | {
  Say: string;
} | {
  Move: {
    x: number;
  };
};
export type Internal = {
  type: "joined";
  user: User;
} | {
  type: "left";
} & User | {
  type: "gone";
};
export type Adjacent = {
  t: "Quit";
} | {
  c: string;
  t: "Say";
};
export type Untagged = number | {
  name: string;
} | User | null;
export type Color = "red" | "green";
"#;
        let all = output::<External>() + &output::<Internal>() + &output::<Adjacent>();
        assert_eq!(all + &output::<Untagged>() + &output::<Color>(), expected);
        round_trips::<External>(r#""Quit""#);
        round_trips::<External>(r#"{"Move":{"x":1}}"#);
        round_trips::<Internal>(r#"{"type":"left","name":"a"}"#);
        round_trips::<Internal>(r#"{"type":"gone"}"#);
        round_trips::<Adjacent>(r#"{"t":"Quit"}"#);
        round_trips::<Adjacent>(r#"{"t":"Say","c":"hi"}"#);
        round_trips::<Untagged>("null");
        round_trips::<Vec<Color>>(r#"["red","green"]"#);
    }

    #[test]
    fn flattened_fields() {
        // The map's entries sit beside the named fields: one index
        // signature wide enough for both, or `id` and `name` would be `never`.
        let expected = r#"export type Flat = {
  id: number;
  name: string;
  [key: string]: number | string;
};
"#;
        assert_eq!(output::<Flat>(), expected);
        round_trips::<Flat>(r#"{"id":1,"name":"a","x":2}"#);

        // A flattened unit variant is written as `"Quit": null`, not as a bare string.
        let expected = r#"export type FlatEnum = {
  id: number;
} & ({
  Say: string;
} | {
  Move: {
    x: number;
  };
} | {
  Quit: null;
});
"#;
        assert_eq!(output::<FlatEnum>(), expected);
        round_trips::<FlatEnum>(r#"{"id":1,"Quit":null}"#);
        round_trips::<FlatEnum>(r#"{"id":1,"Say":"s"}"#);
    }

    #[test]
    fn hand_written_schemas() {
        assert_eq!(identifier("Wrapper<i32>"), "Wrapper_i32_");
        assert_eq!(identifier("2d"), "_2d");
        let union = json!({"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "string"}]});
        // Pairs of schema and type; the last two are what schemars writes for
        // `HashMap<u32, String>` and for a struct whose only field is a flattened enum.
        let cases = json!([
            [{"$ref": "#/components/schemas/a~1b~0c"}, "a_b_c"],
            [true, "unknown"], [{}, "unknown"], [false, "never"],
            [{"const": "say \"hi\""}, "\"say \\\"hi\\\"\""],
            [{"enum": [1, true, null, 1]}, "1 | true | null"],
            [{"type": ["integer", "null"], "format": "uint64"}, "number | null"],
            [{"type": "array", "items": union}, "(string | number)[]"],
            [{"allOf": [{"$ref": "#/definitions/A"}, union]}, "A & (string | number)"],
            [{"prefixItems": [{"type": "string"}, true]}, "[string, unknown]"],
            [{"type": "object", "additionalProperties": false}, "Record<string, never>"],
            [{"type": "object"}, "{ [key: string]: unknown }"],
            [{"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": true}, "A | null"],
            [{"type": "object", "additionalProperties": false, "patternProperties": {"^\\d+$": {"type": "string"}}},
                "{ [key: string]: string }"],
            [{"type": "object", "oneOf": [{"$ref": "#/definitions/A"}, {"type": "null"}]}, "A | null"],
        ]);
        for case in cases.as_array().unwrap() {
            assert_eq!(type_of(&case[0]), case[1], "{}", case[0]);
        }
        let inner =
            json!({"description": "Nested.", "properties": {"a": {"type": "null"}}, "required": ["a"]});
        let described = json!({"description": "Line one.\n\nCloses */ early.", "type": "object", "properties": {"in ner": inner}});
        let expected = r#"/**
 * Line one.
 *
 * Closes *\/ early.
 */
export type Doc = {
  /** Nested. */
  "in ner"?: {
    a: null;
  };
};
"#;
        assert_eq!(declaration("Doc", &described), expected);
    }
}

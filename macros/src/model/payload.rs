//! What a room's join payload looks like, as serde reads the struct:
//! `{"chat_id": <integer>, "name": <string>}`. Read from syntax only, for
//! the validation error a client receives; it is a description, not a schema.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutyKebabCase, ToShoutySnakeCase, ToUpperCamelCase};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Fields, GenericArgument, Lit, Meta, PathArguments, Token, Type};

/// The payload `fields` describe, with the struct's `attrs` (for
/// `#[serde(rename_all = "...")]` and `#[serde(transparent)]`).
pub fn describe(attrs: &[Attribute], fields: &Fields) -> String {
    let container = Serde::of(attrs);
    match fields {
        Fields::Named(named) => {
            let read: Vec<_> = named.named.iter().filter(|f| !Serde::of(&f.attrs).skip).collect();
            if container.transparent && read.len() == 1 {
                return kind(&read[0].ty);
            }
            let entries: Vec<String> = read
                .iter()
                .map(|f| {
                    let serde = Serde::of(&f.attrs);
                    if serde.flatten {
                        return "...".to_owned();
                    }
                    let ident = syn::ext::IdentExt::unraw(f.ident.as_ref().expect("named field")).to_string();
                    let key = serde
                        .rename
                        .unwrap_or_else(|| rename_field(&ident, container.rename_all.as_deref()));
                    format!("{key:?}: {}", kind(&f.ty))
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Fields::Unnamed(unnamed) => {
            // serde reads a newtype as its field, and any other tuple struct as an array.
            if unnamed.unnamed.len() == 1 {
                return kind(&unnamed.unnamed[0].ty);
            }
            let kinds: Vec<String> = unnamed
                .unnamed
                .iter()
                .filter(|f| !Serde::of(&f.attrs).skip)
                .map(|f| kind(&f.ty))
                .collect();
            format!("[{}]", kinds.join(", "))
        }
        Fields::Unit => "{}".to_owned(),
    }
}

/// The JSON kind of a field's type: `<integer>`, `[<string>]`, `<boolean> or null`...
pub fn kind(ty: &Type) -> String {
    match ty {
        Type::Reference(r) => kind(&r.elem),
        Type::Paren(p) => kind(&p.elem),
        Type::Group(g) => kind(&g.elem),
        Type::Slice(s) => format!("[{}]", kind(&s.elem)),
        Type::Array(a) => format!("[{}]", kind(&a.elem)),
        Type::Tuple(t) if t.elems.is_empty() => "null".to_owned(),
        Type::Tuple(t) => {
            let kinds: Vec<String> = t.elems.iter().map(kind).collect();
            format!("[{}]", kinds.join(", "))
        }
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return VALUE.to_owned();
            };
            let args: Vec<&Type> = match &last.arguments {
                PathArguments::AngleBracketed(a) => a
                    .args
                    .iter()
                    .filter_map(|arg| match arg {
                        GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let name = last.ident.to_string();
            match (name.as_str(), args.as_slice()) {
                (
                    "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
                    | "isize",
                    [],
                ) => "<integer>".to_owned(),
                (n, []) if n.starts_with("NonZero") => "<integer>".to_owned(),
                ("NonZero", [_]) => "<integer>".to_owned(),
                ("f32" | "f64", []) => "<number>".to_owned(),
                ("bool", []) => "<boolean>".to_owned(),
                ("String" | "str" | "char", []) => "<string>".to_owned(),
                ("Cow", [inner]) => kind(inner),
                ("Box" | "Rc" | "Arc", [inner]) => kind(inner),
                ("Option", [inner]) => format!("{} or null", kind(inner)),
                ("Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "SmallVec", [inner, ..]) => {
                    format!("[{}]", kind(inner))
                }
                _ => VALUE.to_owned(),
            }
        }
        _ => VALUE.to_owned(),
    }
}

const VALUE: &str = "<value>";

/// What `#[serde(...)]` says about deserializing a struct or a field.
#[derive(Default)]
struct Serde {
    rename: Option<String>,
    rename_all: Option<String>,
    skip: bool,
    flatten: bool,
    transparent: bool,
}

impl Serde {
    fn of(attrs: &[Attribute]) -> Self {
        let mut serde = Serde::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            // serde reports malformed attributes itself; unreadable ones are ignored here.
            let Ok(metas) = attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else {
                continue;
            };
            for meta in metas {
                let path = meta.path();
                if path.is_ident("skip") || path.is_ident("skip_deserializing") {
                    serde.skip = true;
                } else if path.is_ident("flatten") {
                    serde.flatten = true;
                } else if path.is_ident("transparent") {
                    serde.transparent = true;
                } else if path.is_ident("rename") {
                    serde.rename = deserialize_name(&meta).or(serde.rename);
                } else if path.is_ident("rename_all") {
                    serde.rename_all = deserialize_name(&meta).or(serde.rename_all);
                }
            }
        }
        serde
    }
}

/// `rename = "x"`, or the `deserialize = "x"` of `rename(serialize = "..", deserialize = "x")`.
fn deserialize_name(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) => lit_str(&nv.value),
        Meta::List(list) => {
            let inner = list
                .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()?;
            inner.iter().find_map(|m| match m {
                Meta::NameValue(nv) if nv.path.is_ident("deserialize") => lit_str(&nv.value),
                _ => None,
            })
        }
        Meta::Path(_) => None,
    }
}

fn lit_str(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value()),
        _ => None,
    }
}

/// A snake_case field name under `#[serde(rename_all = rule)]`, as serde renames it.
fn rename_field(field: &str, rule: Option<&str>) -> String {
    match rule {
        Some("lowercase") => field.to_ascii_lowercase(),
        Some("UPPERCASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => field.to_upper_camel_case(),
        Some("camelCase") => field.to_lower_camel_case(),
        Some("SCREAMING_SNAKE_CASE") => field.to_shouty_snake_case(),
        Some("kebab-case") => field.to_kebab_case(),
        Some("SCREAMING-KEBAB-CASE") => field.to_shouty_kebab_case(),
        // `snake_case`, no rule, or one serde itself rejects.
        _ => field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{DeriveInput, parse_quote};

    fn of(input: DeriveInput) -> String {
        match &input.data {
            syn::Data::Struct(s) => describe(&input.attrs, &s.fields),
            _ => unreachable!(),
        }
    }

    #[test]
    fn named_fields_by_kind() {
        let input: DeriveInput = parse_quote! {
            struct ChatRoom { chat_id: u64, name: String, score: f64, open: bool, tags: Vec<String>, pair: [u8; 2] }
        };
        assert_eq!(
            of(input),
            r#"{"chat_id": <integer>, "name": <string>, "score": <number>, "open": <boolean>, "tags": [<string>], "pair": [<integer>]}"#
        );
    }

    #[test]
    fn strings_options_references_and_unknowns() {
        let input: DeriveInput = parse_quote! {
            struct R<'a> { a: &'a str, b: Cow<'a, str>, c: char, d: Option<u32>, e: Option<Vec<bool>>, f: Uuid, g: &'a [i8], h: std::string::String }
        };
        assert_eq!(
            of(input),
            r#"{"a": <string>, "b": <string>, "c": <string>, "d": <integer> or null, "e": [<boolean>] or null, "f": <value>, "g": [<integer>], "h": <string>}"#
        );
    }

    #[test]
    fn serde_renames_and_skips() {
        let input: DeriveInput = parse_quote! {
            #[serde(rename_all = "camelCase")]
            struct R {
                chat_id: u64,
                #[serde(rename = "Topic")] topic: String,
                #[serde(skip)] cache: u8,
                #[serde(skip_deserializing)] other: u8,
                #[serde(rename(serialize = "s", deserialize = "d"))] both: bool,
                r#type: u8,
            }
        };
        assert_eq!(
            of(input),
            r#"{"chatId": <integer>, "Topic": <string>, "d": <boolean>, "type": <integer>}"#
        );
    }

    #[test]
    fn every_rename_all_rule() {
        let cases = [
            ("lowercase", "chat_id"),
            ("UPPERCASE", "CHAT_ID"),
            ("PascalCase", "ChatId"),
            ("camelCase", "chatId"),
            ("snake_case", "chat_id"),
            ("SCREAMING_SNAKE_CASE", "CHAT_ID"),
            ("kebab-case", "chat-id"),
            ("SCREAMING-KEBAB-CASE", "CHAT-ID"),
        ];
        for (rule, expected) in cases {
            assert_eq!(rename_field("chat_id", Some(rule)), expected, "{rule}");
        }
        let input: DeriveInput = parse_quote! {
            #[serde(rename_all(serialize = "UPPERCASE", deserialize = "kebab-case"))]
            struct R { chat_id: u64 }
        };
        assert_eq!(of(input), r#"{"chat-id": <integer>}"#);
    }

    #[test]
    fn tuple_structs_as_serde_reads_them() {
        assert_eq!(
            of(parse_quote!(
                struct R(u64);
            )),
            "<integer>"
        );
        assert_eq!(
            of(parse_quote!(
                struct R(u32, String);
            )),
            "[<integer>, <string>]"
        );
        assert_eq!(
            of(parse_quote!(
                #[serde(transparent)]
                struct R {
                    id: Option<String>,
                }
            )),
            "<string> or null"
        );
    }
}

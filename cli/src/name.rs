//! Names given on the command line: checked, then spelled for Rust.

use heck::{ToPascalCase, ToSnakeCase};

use crate::project::Error;

/// A type name and its module name: `ChatRoom` and `chat_room`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub type_name: String,
    pub module: String,
}

/// Accepts `ChatRoom` or `chat_room`; refuses what cannot be a Rust type and module name.
pub fn parse(input: &str) -> Result<Name, Error> {
    let invalid = |why: &str| Error::InvalidName {
        name: input.to_owned(),
        why: why.to_owned(),
    };
    if input.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !input.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(
            "use letters, digits and `_` only, as in `ChatRoom` or `chat_room`",
        ));
    }
    if input.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid("it must not start with a digit"));
    }
    let name = Name {
        type_name: input.to_pascal_case(),
        module: input.to_snake_case(),
    };
    if name.type_name.is_empty() || name.module.is_empty() {
        return Err(invalid("it has no letters"));
    }
    for ident in [&name.type_name, &name.module] {
        if syn::parse_str::<syn::Ident>(ident).is_err() || ident == "Self" || ident == "self" {
            return Err(invalid(&format!("`{ident}` is a Rust keyword")));
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_and_snake_case_name_the_same_thing() {
        let expected = Name {
            type_name: "ChatRoom".into(),
            module: "chat_room".into(),
        };
        assert_eq!(parse("ChatRoom").unwrap(), expected);
        assert_eq!(parse("chat_room").unwrap(), expected);
    }

    #[test]
    fn refuses_what_is_not_an_identifier() {
        for bad in [
            "",
            "9lives",
            "chat-room",
            "chat room",
            "_",
            "type",
            "Self",
            "crate",
            "fn",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}

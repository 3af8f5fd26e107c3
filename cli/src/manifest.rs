//! Adds the dependencies the generated code needs to Cargo.toml.

use toml_edit::{DocumentMut, InlineTable, Item, Value};

use crate::project::Error;
use crate::source::FastApp;

/// One dependency line to add.
pub struct Dependency {
    pub name: &'static str,
    pub spec: Value,
}

/// The dependencies of the generated code, `fast-app` as `fast_app` says.
pub fn needed(fast_app: &FastApp) -> Vec<Dependency> {
    let fast_app = match fast_app {
        FastApp::Path { dir, .. } => {
            let mut table = InlineTable::new();
            table.insert("path", dir.display().to_string().into());
            Value::InlineTable(table)
        }
        FastApp::Version(version) => version.as_str().into(),
    };
    let with_features = |version: &str, features: &[&str]| {
        let mut table = InlineTable::new();
        table.insert("version", version.into());
        let mut list = toml_edit::Array::new();
        features.iter().for_each(|f| list.push(*f));
        table.insert("features", Value::Array(list));
        Value::InlineTable(table)
    };
    vec![
        Dependency {
            name: "fast-app",
            spec: fast_app,
        },
        Dependency {
            name: "axum",
            spec: "0.8".into(),
        },
        Dependency {
            name: "tokio",
            spec: with_features("1", &["full"]),
        },
        Dependency {
            name: "serde",
            spec: with_features("1", &["derive"]),
        },
        Dependency {
            name: "serde_json",
            spec: "1".into(),
        },
        // The JSON Schema of payloads, for the client contract.
        Dependency {
            name: "schemars",
            spec: "1".into(),
        },
    ]
}

/// `manifest` with the missing `deps` added, and the lines that were added.
pub fn add(manifest: &str, deps: &[Dependency]) -> Result<(String, Vec<String>), Error> {
    let mut doc: DocumentMut = manifest.parse().map_err(|e| Error::Manifest(format!("{e}")))?;
    let table = doc
        .entry("dependencies")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| Error::Manifest("[dependencies] is not a table".into()))?;
    let mut added = Vec::new();
    for dep in deps {
        if !table.contains_key(dep.name) {
            table.insert(dep.name, Item::Value(dep.spec.clone()));
            added.push(format!("{} = {}", dep.name, dep.spec.to_string().trim()));
        }
    }
    Ok((doc.to_string(), added))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;

    #[test]
    fn adds_only_what_is_missing_and_keeps_the_rest() {
        let manifest = "[package]\nname = \"app\" # mine\n\n[dependencies]\nserde = \"1.0.100\"\nschemars = { version = \"1.2\", features = [\"uuid1\"] }\n";
        let (out, added) = add(
            manifest,
            &needed(&FastApp::Path {
                dir: PathBuf::from("/x/fast-app"),
                checkout: true,
            }),
        )
        .unwrap();
        assert!(out.contains("name = \"app\" # mine"));
        assert!(out.contains("serde = \"1.0.100\""), "kept the user's serde");
        assert!(
            out.contains("schemars = { version = \"1.2\", features = [\"uuid1\"] }"),
            "kept the user's schemars"
        );
        assert!(out.contains("fast-app = { path = \"/x/fast-app\" }"));
        assert_eq!(added.len(), 4, "{added:?}");
        let (again, added) = add(&out, &needed(&FastApp::Version("0.1.0".into()))).unwrap();
        assert_eq!(again, out, "nothing twice");
        assert!(added.is_empty());
    }

    #[test]
    fn the_published_crate_is_a_version_requirement() {
        let (out, added) = add(
            "[package]\nname = \"app\"\n",
            &needed(&FastApp::Version("0.1.0".into())),
        )
        .unwrap();
        assert!(out.contains("fast-app = \"0.1.0\""), "{out}");
        assert_eq!(added[0], "fast-app = \"0.1.0\"");
        assert!(
            out.contains("schemars = \"1\""),
            "the client contract's schemas: {out}"
        );
        assert_eq!(added.last().unwrap(), "schemars = \"1\"");
    }
}

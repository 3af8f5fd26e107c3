//! The contract's files: writing them, and checking checked-in ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::{fs, io};

use super::Contract;
use crate::error::RegistryError;

/// The environment variable that makes [`Contract::sync`] write the
/// contract instead of checking it: `FAST_APP_CONTRACT=overwrite`.
pub const CONTRACT_ENV: &str = "FAST_APP_CONTRACT";

/// Why the contract could not be made, written or confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The registry cannot be served, so it has no contract.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Two event types of one namespace share a wire name.
    #[error(
        "namespace `{namespace}`: events `{first}` and `{second}` are both sent as `{name}`, so clients could not tell their payloads apart; give one a distinct `#[broadcast(name = \"...\")]`"
    )]
    DuplicateEvent {
        /// The namespace's path.
        namespace: &'static str,
        /// The shared wire name.
        name: &'static str,
        /// The first event type.
        first: &'static str,
        /// The second event type.
        second: &'static str,
    },
    /// A payload type has the name of one of the protocol's own types.
    #[error(
        "a payload type is named `{name}`, like the join protocol's own type in the contract; rename it, e.g. with `#[schemars(rename = \"...\")]`"
    )]
    ReservedType {
        /// The contested name.
        name: &'static str,
    },
    /// A payload without a type of its own would take the name of another type.
    #[error(
        "the contract names a payload `{name}`, but a payload type already has that name; rename that type, e.g. with `#[schemars(rename = \"...\")]`"
    )]
    NameTaken {
        /// The contested name.
        name: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The checked-in contract is not what the code generates.
    #[error(
        "the client contract in {} is out of date ({}); regenerate it: run the same command with {CONTRACT_ENV}=overwrite, and commit the result",
        dir.display(),
        files.join(", ")
    )]
    Stale {
        /// The contract's folder.
        dir: PathBuf,
        /// What differs: `index.ts (changed)`, `asyncapi.json (missing)`...
        files: Vec<String>,
    },
}

/// The folder of per-event schemas, which [`Contract::write`] owns.
const SCHEMAS: &str = "schemas";

impl Contract {
    /// Every file of the contract, by path relative to its folder:
    /// `index.ts`, `asyncapi.json`, and `schemas/.../<event>.json`.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        files.insert("index.ts".to_owned(), self.typescript());
        files.insert("asyncapi.json".to_owned(), json(&self.asyncapi()));
        for (path, schema) in self.schemas() {
            files.insert(path, json(&schema));
        }
        files
    }

    /// Writes the contract into `dir`, creating it, and removes the schemas
    /// of events that are gone. Other files in `dir` are left alone.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<(), ContractError> {
        let dir = dir.as_ref();
        let files = self.files();
        for stale in stale(dir, &files)? {
            let path = dir.join(stale);
            fs::remove_file(&path).map_err(|source| ContractError::Io { path, source })?;
        }
        for (name, text) in &files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|source| ContractError::Io {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            fs::write(&path, text).map_err(|source| ContractError::Io { path, source })?;
        }
        Ok(())
    }

    /// Checks that `dir` holds exactly this contract: every file as
    /// generated, and no schema of an event that is gone.
    pub fn check(&self, dir: impl AsRef<Path>) -> Result<(), ContractError> {
        let dir = dir.as_ref();
        let files = self.files();
        let mut differ = Vec::new();
        for (name, text) in &files {
            let path = dir.join(name);
            match fs::read_to_string(&path) {
                Ok(found) if found == *text => {}
                Ok(_) => differ.push(format!("{name} (changed)")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => differ.push(format!("{name} (missing)")),
                Err(source) => return Err(ContractError::Io { path, source }),
            }
        }
        differ.extend(
            stale(dir, &files)?
                .into_iter()
                .map(|name| format!("{name} (no longer generated)")),
        );
        match differ.is_empty() {
            true => Ok(()),
            false => Err(ContractError::Stale {
                dir: dir.to_owned(),
                files: differ,
            }),
        }
    }

    /// [`check`](Contract::check)s `dir`, or [`write`](Contract::write)s it
    /// when the environment has `FAST_APP_CONTRACT=overwrite`: run from a
    /// test, a stale contract fails the test, and the same command
    /// regenerates it.
    pub fn sync(&self, dir: impl AsRef<Path>) -> Result<(), ContractError> {
        match std::env::var(CONTRACT_ENV).as_deref() {
            Ok("overwrite") => self.write(dir),
            _ => self.check(dir),
        }
    }
}

/// The `.json` files under `dir/schemas` that `files` does not have.
fn stale(dir: &Path, files: &BTreeMap<String, String>) -> Result<Vec<String>, ContractError> {
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::from(SCHEMAS)];
    while let Some(folder) = folders.pop() {
        let path = dir.join(&folder);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ContractError::Io { path, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| ContractError::Io {
                path: path.clone(),
                source,
            })?;
            let relative = folder.join(entry.file_name());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                folders.push(relative);
                continue;
            }
            let name = relative.to_string_lossy().replace('\\', "/");
            if name.ends_with(".json") && !files.contains_key(&name) {
                found.push(name);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Pretty JSON with a final newline.
fn json(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

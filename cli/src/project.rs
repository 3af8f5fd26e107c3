//! The cargo project the command works in, and what can go wrong there.

use std::path::{Path, PathBuf};

/// Everything the command can refuse or fail with; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "not inside a cargo project: no Cargo.toml in {0} or above it; create one with `cargo new my-app`"
    )]
    NoProject(PathBuf),
    #[error("{0} has no [package]: run the command in a package, not a virtual workspace")]
    NotAPackage(PathBuf),
    #[error(
        "src/socketio/ does not exist yet in {0}: run `fast-app publish socketio` first, then `fast-app make ...`"
    )]
    NotPublished(PathBuf),
    #[error("invalid name `{name}`: {why}")]
    InvalidName { name: String, why: String },
    #[error("{} already exists; nothing was written (pass --force to overwrite)", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("Cargo.toml: {0}")]
    Manifest(String),
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cargo package: its root directory.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
}

impl Project {
    /// The package containing `start` (the nearest `Cargo.toml` upward).
    pub fn find(start: &Path) -> Result<Self, Error> {
        let start = start
            .canonicalize()
            .map_err(|e| Error::Io(start.display().to_string(), e))?;
        let root = start
            .ancestors()
            .find(|dir| dir.join("Cargo.toml").is_file())
            .ok_or_else(|| Error::NoProject(start.clone()))?
            .to_path_buf();
        let manifest = read(&root.join("Cargo.toml"))?;
        if !manifest.lines().any(|line| line.trim() == "[package]") {
            return Err(Error::NotAPackage(root));
        }
        Ok(Self { root })
    }

    /// `src/socketio` of the project.
    pub fn socketio(&self) -> PathBuf {
        self.root.join("src").join("socketio")
    }

    /// `path` relative to the project root, for messages.
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(path.display().to_string(), e))
}

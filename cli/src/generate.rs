//! What each subcommand writes, and the writing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::manifest;
use crate::name::{self, Name};
use crate::project::{self, Error, Project};

/// `--dry-run` and `--force`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dry_run: bool,
    pub force: bool,
}

/// What `make` generates.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Room,
    Event,
    Namespace,
}

/// Files to write, `pub mod` lines to add, and the manifest to update.
#[derive(Default)]
struct Plan {
    files: Vec<(PathBuf, String)>,
    mod_lines: Vec<(PathBuf, String)>,
    manifest: Option<(PathBuf, String, Vec<String>)>,
    next: String,
}

const SOCKETIO_MOD: &str = include_str!("../templates/socketio_mod.rs");
const SERVER: &str = include_str!("../templates/server.rs");
const COMMON_MOD: &str = include_str!("../templates/common_mod.rs");
const AUTHENTICATION: &str = include_str!("../templates/authentication.rs");
const NAMESPACES_MOD: &str = include_str!("../templates/namespaces_mod.rs");
const GLOBAL_NAMESPACE: &str = include_str!("../templates/global_namespace.rs");
const EVENTS_MOD: &str = include_str!("../templates/events_mod.rs");
const ROOMS_MOD: &str = include_str!("../templates/rooms_mod.rs");
const ROOM: &str = include_str!("../templates/room.rs");
const EVENT: &str = include_str!("../templates/event.rs");
const NAMESPACE: &str = include_str!("../templates/namespace.rs");

/// `fast-app publish socketio`.
pub fn publish_socketio(
    project: &Project,
    options: Options,
    fast_app_path: Option<PathBuf>,
) -> Result<String, Error> {
    let dir = project.socketio();
    let file = |path: &str, text: &str| (dir.join(path), text.to_owned());
    let mut plan = Plan {
        files: vec![
            file("mod.rs", SOCKETIO_MOD),
            file("server.rs", SERVER),
            file("common/mod.rs", COMMON_MOD),
            file("common/authentication.rs", AUTHENTICATION),
            file("namespaces/mod.rs", NAMESPACES_MOD),
            file("namespaces/global_namespace.rs", GLOBAL_NAMESPACE),
            file("events/mod.rs", EVENTS_MOD),
            file("rooms/mod.rs", ROOMS_MOD),
        ],
        ..Plan::default()
    };
    let manifest_path = project.root.join("Cargo.toml");
    let fast_app = match fast_app_path {
        Some(path) => Some(
            path.canonicalize()
                .map_err(|e| Error::Io(path.display().to_string(), e))?,
        ),
        None => built_from(),
    };
    let (updated, added) = manifest::add(
        &project::read(&manifest_path)?,
        &manifest::needed(fast_app.as_deref()),
    )?;
    if !added.is_empty() {
        plan.manifest = Some((manifest_path, updated, added));
    }
    plan.next = "\nNext:\n  1. add `mod socketio;` to src/main.rs (or `pub mod socketio;` to src/lib.rs)\n  \
         2. serve it from main:\n\n     \
         #[tokio::main]\n     \
         async fn main() -> Result<(), Box<dyn std::error::Error>> {\n         \
         socketio::server::serve(\"127.0.0.1:3000\").await\n     }\n\n  \
         3. add rooms and events: `fast-app make room ChatRoom`, `fast-app make broadcast_event UpdateChat`\n"
        .to_owned();
    apply(project, plan, options)
}

/// The fast-app checkout this command was built from, when it is still there.
fn built_from() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    manifest
        .contains("name = \"fast-app\"")
        .then(|| root.to_path_buf())
}

/// `fast-app make <kind> <name>`.
pub fn make(project: &Project, options: Options, kind: Kind, input: &str) -> Result<String, Error> {
    let dir = project.socketio();
    if !dir.join("mod.rs").is_file() {
        return Err(Error::NotPublished(project.root.clone()));
    }
    let Name { type_name, module } = name::parse(input)?;
    let (folder, template, next) = match kind {
        Kind::Room => (
            "rooms",
            ROOM.replace("__key__", strip(&module, "_room")),
            format!(
                "\nNext: serve it from a namespace: in src/socketio/namespaces/global_namespace.rs add\n  \
                 `use crate::socketio::rooms::{module}::{type_name};` and list `{type_name}` in `#[rooms(...)]`\n"
            ),
        ),
        Kind::Event => (
            "events",
            EVENT.replace("__name__", strip(&module, "_event")),
            format!(
                "\nNext: say where it goes with `on = ...`, then broadcast it:\n  \
                 `fast_app::broadcast(&{type_name} {{ id: 1 }}).await?`\n"
            ),
        ),
        Kind::Namespace => (
            "namespaces",
            NAMESPACE.replace("__path__", &format!("/{}", strip(&module, "_namespace"))),
            "\nNext: list the rooms it serves in `#[rooms(...)]`\n".to_owned(),
        ),
    };
    let folder = dir.join(folder);
    let plan = Plan {
        files: vec![(
            folder.join(format!("{module}.rs")),
            template.replace("__Name__", &type_name),
        )],
        mod_lines: vec![(folder.join("mod.rs"), format!("pub mod {module};"))],
        manifest: None,
        next,
    };
    apply(project, plan, options)
}

/// `name` without `suffix`, unless that leaves nothing.
fn strip<'a>(name: &'a str, suffix: &str) -> &'a str {
    match name.strip_suffix(suffix) {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    }
}

fn apply(project: &Project, plan: Plan, options: Options) -> Result<String, Error> {
    let existing: Vec<PathBuf> = plan
        .files
        .iter()
        .filter(|(path, _)| path.exists())
        .map(|(path, _)| project.relative(path).to_path_buf())
        .collect();
    if !options.force && !existing.is_empty() {
        return Err(Error::Exists(existing));
    }
    let verb = if options.dry_run { "would write" } else { "wrote" };
    let mut report = String::new();
    for (path, text) in &plan.files {
        if !options.dry_run {
            write(path, text)?;
        }
        let _ = writeln!(report, "{verb} {}", project.relative(path).display());
    }
    for (path, line) in &plan.mod_lines {
        let current = if path.exists() {
            project::read(path)?
        } else {
            String::new()
        };
        if current
            .lines()
            .any(|l| l.trim() == line || l.trim() == line.trim_start_matches("pub "))
        {
            continue;
        }
        if !options.dry_run {
            let separator = if current.is_empty() || current.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            write(path, &format!("{current}{separator}{line}\n"))?;
        }
        let verb = if options.dry_run { "would add" } else { "added" };
        let _ = writeln!(report, "{verb} `{line}` to {}", project.relative(path).display());
    }
    if let Some((path, text, added)) = &plan.manifest {
        if !options.dry_run {
            write(path, text)?;
        }
        let verb = if options.dry_run { "would add" } else { "added" };
        for line in added {
            let _ = writeln!(report, "{verb} to Cargo.toml: {line}");
        }
    }
    report.push_str(&plan.next);
    Ok(report)
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::Io(path.display().to_string(), e))
}

//! What each subcommand writes, and the writing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::manifest;
use crate::name::{self, Name};
use crate::project::{self, Error, Project};
use crate::source::{self, FastApp};

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

/// Files to write, `pub mod` lines to add, the manifest to update, and what
/// to tell the user after the list of changes.
#[derive(Default)]
struct Plan {
    files: Vec<(PathBuf, String)>,
    mod_lines: Vec<(PathBuf, String)>,
    manifest: Option<Edit>,
    notes: String,
    next: String,
}

/// Cargo.toml before and after adding the dependency lines `added`.
struct Edit {
    path: PathBuf,
    before: String,
    after: String,
    added: Vec<String>,
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
const CONTRACT: &str = include_str!("../templates/contract.rs");

/// How to write contract/ anew, which `publish` and `make` tell.
const REGENERATE: &str = "FAST_APP_CONTRACT=overwrite cargo test client_contract";

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
            file("contract.rs", CONTRACT),
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
    let named = match fast_app_path {
        Some(path) => Some(
            path.canonicalize()
                .map_err(|e| Error::Io(path.display().to_string(), e))?,
        ),
        None => None,
    };
    let checkout = source::checkout(Path::new(env!("CARGO_MANIFEST_DIR")));
    let fast_app = source::choose(named, checkout, env!("CARGO_PKG_VERSION"));
    let before = project::read(&manifest_path)?;
    let (after, added) = manifest::add(&before, &manifest::needed(&fast_app))?;
    if let FastApp::Path { dir, checkout: true } = &fast_app
        && added.iter().any(|line| line.starts_with("fast-app ="))
    {
        plan.notes = format!(
            "\nnote: `fast-app` is a path dependency on the checkout this command was built from\n  \
             ({});\n  \
             to use the published crate instead, write `fast-app = \"{}\"` in Cargo.toml,\n  \
             or pass `--fast-app-path <DIR>` to depend on another checkout\n",
            dir.display(),
            env!("CARGO_PKG_VERSION"),
        );
    }
    if !added.is_empty() {
        plan.manifest = Some(Edit {
            path: manifest_path,
            before,
            after,
            added,
        });
    }
    plan.next = format!(
        "\nNext:\n  1. add `mod socketio;` to src/main.rs (or `pub mod socketio;` to src/lib.rs)\n  \
         2. serve it from main:\n\n     \
         #[tokio::main]\n     \
         async fn main() -> Result<(), Box<dyn std::error::Error>> {{\n         \
         socketio::server::serve(\"127.0.0.1:3000\").await\n     }}\n\n  \
         3. add rooms and events: `fast-app make room ChatRoom`, `fast-app make broadcast_event UpdateChat`\n\n\
         Generate the client contract (TypeScript, JSON Schema, AsyncAPI) into contract/: {REGENERATE}\n\
         (until then, `cargo test` fails: src/socketio/contract.rs checks that contract/ is current)\n"
    );
    apply(project, plan, options)
}

/// `fast-app make <kind> <name>`.
pub fn make(project: &Project, options: Options, kind: Kind, input: &str) -> Result<String, Error> {
    let dir = project.socketio();
    if !dir.join("mod.rs").is_file() {
        return Err(Error::NotPublished(project.root.clone()));
    }
    let Name { type_name, module } = name::parse(input)?;
    let (folder, template, next, shown) = match kind {
        Kind::Room => (
            "rooms",
            ROOM.replace("__key__", strip(&module, "_room")),
            format!(
                "\nNext: serve it from a namespace: in src/socketio/namespaces/global_namespace.rs add\n  \
                 `use crate::socketio::rooms::{module}::{type_name};` and list `{type_name}` in `#[rooms(...)]`\n"
            ),
            format!("once a namespace serves it, `{type_name}` and its join payload appear"),
        ),
        Kind::Event => (
            "events",
            EVENT.replace("__name__", strip(&module, "_event")),
            format!(
                "\nNext: say where it goes with `on = ...`, then broadcast it:\n  \
                 `fast_app::broadcast(&{type_name} {{ id: 1 }}).await?`\n"
            ),
            format!("`{type_name}` and its payload appear, under each namespace whose rooms it reaches,"),
        ),
        Kind::Namespace => (
            "namespaces",
            NAMESPACE.replace("__path__", &format!("/{}", strip(&module, "_namespace"))),
            "\nNext: list the rooms it serves in `#[rooms(...)]`\n".to_owned(),
            format!("`{type_name}`, its rooms and their events appear"),
        ),
    };
    let next = format!(
        "{next}Then regenerate the client contract: `{REGENERATE}`;\n  \
         {shown} in contract/index.ts and contract/asyncapi.json\n"
    );
    let folder = dir.join(folder);
    let plan = Plan {
        files: vec![(
            folder.join(format!("{module}.rs")),
            template.replace("__Name__", &type_name),
        )],
        mod_lines: vec![(folder.join("mod.rs"), format!("pub mod {module};"))],
        next,
        ..Plan::default()
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
    let mut report = String::new();
    for (path, text) in &plan.files {
        let name = project.relative(path).display();
        if options.dry_run {
            let before = if path.exists() {
                Some(project::read(path)?)
            } else {
                None
            };
            let _ = writeln!(report, "would write {name}");
            report.push_str(&preview(project, path, before.as_deref(), text));
        } else {
            write(path, text)?;
            let _ = writeln!(report, "wrote {name}");
        }
    }
    for (path, line) in &plan.mod_lines {
        let current = if path.exists() {
            Some(project::read(path)?)
        } else {
            None
        };
        let text = current.as_deref().unwrap_or_default();
        if text
            .lines()
            .any(|l| l.trim() == line || l.trim() == line.trim_start_matches("pub "))
        {
            continue;
        }
        let separator = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let updated = format!("{text}{separator}{line}\n");
        let name = project.relative(path).display();
        if options.dry_run {
            let _ = writeln!(report, "would add `{line}` to {name}");
            report.push_str(&preview(project, path, current.as_deref(), &updated));
        } else {
            write(path, &updated)?;
            let _ = writeln!(report, "added `{line}` to {name}");
        }
    }
    if let Some(edit) = &plan.manifest {
        let verb = if options.dry_run { "would add" } else { "added" };
        for line in &edit.added {
            let _ = writeln!(report, "{verb} to Cargo.toml: {line}");
        }
        if options.dry_run {
            report.push_str(&preview(project, &edit.path, Some(&edit.before), &edit.after));
        } else {
            write(&edit.path, &edit.after)?;
        }
    }
    // One blank line between the changes and what follows them.
    while report.ends_with("\n\n") {
        report.pop();
    }
    report.push_str(&plan.notes);
    report.push_str(&plan.next);
    Ok(report)
}

/// What `--dry-run` shows of a file: all of a new one, a unified diff of one
/// that exists, then a blank line.
fn preview(project: &Project, path: &Path, before: Option<&str>, after: &str) -> String {
    let mut shown = match before {
        None => after.to_owned(),
        Some(before) if before == after => "(unchanged)".to_owned(),
        Some(before) => {
            let name = project.relative(path).display().to_string();
            similar::TextDiff::from_lines(before, after)
                .unified_diff()
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string()
        }
    };
    if !shown.ends_with('\n') {
        shown.push('\n');
    }
    shown.push('\n');
    shown
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::Io(path.display().to_string(), e))
}

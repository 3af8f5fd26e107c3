//! `fast-app`: scaffolds the Socket.IO side of a cargo project.
//!
//! ```text
//! fast-app publish socketio                 # the recommended layout under src/socketio/
//! fast-app make room ChatRoom               # src/socketio/rooms/chat_room.rs
//! fast-app make broadcast_event UpdateChat  # src/socketio/events/update_chat.rs
//! fast-app make namespace AdminNamespace    # src/socketio/namespaces/admin_namespace.rs
//! ```

mod generate;
mod manifest;
mod name;
mod project;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Scaffolds Socket.IO namespaces, rooms and broadcast events for fast-app
/// in a cargo project.
#[derive(Debug, Parser)]
#[command(name = "fast-app", version, about, long_about = None)]
struct Cli {
    /// The cargo project to work in (default: the one containing the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Show what would be written, and write nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Overwrite files that already exist.
    #[arg(long, global = true)]
    force: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copies a component's files into the project.
    Publish {
        #[command(subcommand)]
        what: Publish,
    },
    /// Generates one room, broadcast event or namespace.
    Make {
        #[command(subcommand)]
        what: Make,
    },
}

#[derive(Debug, Subcommand)]
enum Publish {
    /// The Socket.IO layout: src/socketio/ with the server, the
    /// authentication helper, the `/` namespace, and the events/ and rooms/
    /// modules. Adds the dependencies it needs to Cargo.toml.
    Socketio {
        /// Where the `fast-app` crate is, for the dependency added to
        /// Cargo.toml (default: the checkout this command was built from).
        #[arg(long, value_name = "DIR")]
        fast_app_path: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum Make {
    /// A room: `src/socketio/rooms/<name>.rs` (`ChatRoom` or `chat_room`).
    Room {
        /// The room's type name.
        name: String,
    },
    /// A broadcast event: `src/socketio/events/<name>.rs` (`UpdateChat` or `update_chat`).
    #[command(name = "broadcast_event", alias = "broadcast-event", alias = "event")]
    BroadcastEvent {
        /// The event's type name.
        name: String,
    },
    /// A namespace: `src/socketio/namespaces/<name>.rs`; `AdminNamespace` serves `/admin`.
    Namespace {
        /// The namespace's type name.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<String, project::Error> {
    let start = match cli.project {
        Some(dir) => dir,
        None => std::env::current_dir().map_err(|e| project::Error::Io("the current directory".into(), e))?,
    };
    let project = project::Project::find(&start)?;
    let options = generate::Options {
        dry_run: cli.dry_run,
        force: cli.force,
    };
    match cli.command {
        Command::Publish {
            what: Publish::Socketio { fast_app_path },
        } => generate::publish_socketio(&project, options, fast_app_path),
        Command::Make { what } => {
            let (kind, name) = match what {
                Make::Room { name } => (generate::Kind::Room, name),
                Make::BroadcastEvent { name } => (generate::Kind::Event, name),
                Make::Namespace { name } => (generate::Kind::Namespace, name),
            };
            generate::make(&project, options, kind, &name)
        }
    }
}

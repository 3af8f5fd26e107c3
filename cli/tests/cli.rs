//! The `fast-app` command, run as users run it, on temporary cargo projects.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn fast_app(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fast-app"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("fast-app runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The workspace root: the `fast-app` crate the generated project depends on.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An empty binary package, as `cargo new app` makes it.
fn new_project() -> tempfile::TempDir {
    new_package("app")
}

/// An empty binary package named `name`.
fn new_package(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    dir
}

/// What `make` and `publish` say to run to write contract/.
const REGENERATE: &str = "FAST_APP_CONTRACT=overwrite cargo test client_contract";

fn publish(dir: &Path) -> String {
    let path = workspace();
    ok(&fast_app(
        dir,
        &["publish", "socketio", "--fast-app-path", path.to_str().unwrap()],
    ))
}

#[test]
fn outside_a_cargo_project_it_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(&fast_app(dir.path(), &["publish", "socketio"]));
    assert!(
        err.contains("not inside a cargo project") && err.contains("cargo new"),
        "{err}"
    );
}

#[test]
fn make_before_publish_says_to_publish_first() {
    let project = new_project();
    let err = refused(&fast_app(project.path(), &["make", "room", "ChatRoom"]));
    assert!(err.contains("fast-app publish socketio"), "{err}");
}

#[test]
fn publish_scaffolds_the_layout_and_the_dependencies() {
    let project = new_project();
    let report = publish(project.path());
    for file in [
        "src/socketio/mod.rs",
        "src/socketio/server.rs",
        "src/socketio/contract.rs",
        "src/socketio/common/authentication.rs",
        "src/socketio/namespaces/mod.rs",
        "src/socketio/namespaces/global_namespace.rs",
        "src/socketio/events/mod.rs",
        "src/socketio/rooms/mod.rs",
    ] {
        assert!(project.path().join(file).is_file(), "{file} missing");
        assert!(report.contains(file), "{report}");
    }
    assert!(
        report.contains("mod socketio;"),
        "tells what to add to main.rs: {report}"
    );
    assert!(
        report.contains(&format!(
            "Generate the client contract (TypeScript, JSON Schema, AsyncAPI) into contract/: {REGENERATE}"
        )),
        "tells how to make the contract: {report}"
    );
    let module = std::fs::read_to_string(project.path().join("src/socketio/mod.rs")).unwrap();
    assert!(module.contains("#[cfg(test)]\nmod contract;"), "{module}");
    assert!(
        !report.contains("path dependency"),
        "no note for the path it was given: {report}"
    );
    let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    for dep in [
        "fast-app = { path = ",
        "axum = ",
        "tokio = ",
        "serde = ",
        "serde_json = ",
        "schemars = ",
    ] {
        assert!(manifest.contains(dep), "{dep} missing from\n{manifest}");
    }
    // Again: nothing is overwritten without --force.
    let err = refused(&fast_app(project.path(), &["publish", "socketio"]));
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
}

#[test]
fn names_in_either_case_make_the_same_file_and_bad_names_are_refused() {
    let project = new_project();
    publish(project.path());
    let report = ok(&fast_app(project.path(), &["make", "room", "chat_room"]));
    assert!(report.contains("src/socketio/rooms/chat_room.rs"), "{report}");
    assert!(
        report.ends_with(
            "`ChatRoom` and its join payload appear in contract/index.ts and contract/asyncapi.json\n"
        ) && report.contains(REGENERATE),
        "ends with how to regenerate the contract: {report}"
    );
    let room = std::fs::read_to_string(project.path().join("src/socketio/rooms/chat_room.rs")).unwrap();
    assert!(room.contains("pub struct ChatRoom"), "{room}");
    let err = refused(&fast_app(project.path(), &["make", "room", "ChatRoom"]));
    assert!(err.contains("already exists"), "{err}");
    // --force overwrites, and the `mod` line is still there once.
    ok(&fast_app(
        project.path(),
        &["make", "room", "ChatRoom", "--force"],
    ));
    let rooms = std::fs::read_to_string(project.path().join("src/socketio/rooms/mod.rs")).unwrap();
    assert_eq!(rooms.matches("pub mod chat_room;").count(), 1, "{rooms}");

    for bad in ["9lives", "chat-room", "type", "Self", ""] {
        let err = refused(&fast_app(project.path(), &["make", "broadcast_event", bad]));
        assert!(err.contains("invalid name"), "{bad}: {err}");
    }
}

#[test]
fn dry_run_shows_new_files_whole_and_edits_as_diffs_and_writes_nothing() {
    let project = new_project();
    let before = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    let report = ok(&fast_app(project.path(), &["publish", "socketio", "--dry-run"]));
    // A new file: its whole contents, right after its name.
    let server =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/server.rs")).unwrap();
    assert!(
        report.contains(&format!("would write src/socketio/server.rs\n{server}")),
        "{report}"
    );
    // The edited Cargo.toml: the added lines, then a unified diff of it.
    assert!(report.contains("would add to Cargo.toml: fast-app"), "{report}");
    assert!(
        report.contains(
            "--- a/Cargo.toml\n+++ b/Cargo.toml\n@@ -4,3 +4,9 @@\n edition = \"2024\"\n \n [dependencies]\n+fast-app = { path = "
        ),
        "{report}"
    );
    assert!(
        report.contains("\n+serde_json = \"1\"\n+schemars = \"1\"\n"),
        "{report}"
    );
    assert!(!project.path().join("src/socketio").exists());
    assert_eq!(
        std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap(),
        before
    );

    // `make`: the new room whole, and a diff of the `mod.rs` it would edit.
    publish(project.path());
    let rooms = project.path().join("src/socketio/rooms/mod.rs");
    let rooms_before = std::fs::read_to_string(&rooms).unwrap();
    let report = ok(&fast_app(
        project.path(),
        &["make", "room", "ChatRoom", "--dry-run"],
    ));
    assert!(
        report.contains("would write src/socketio/rooms/chat_room.rs\n//! The `chat` room"),
        "{report}"
    );
    assert!(report.contains("pub struct ChatRoom {"), "{report}");
    assert!(
        report.contains(
            "would add `pub mod chat_room;` to src/socketio/rooms/mod.rs\n\
             --- a/src/socketio/rooms/mod.rs\n+++ b/src/socketio/rooms/mod.rs\n"
        ),
        "{report}"
    );
    assert!(report.contains("\n+pub mod chat_room;\n"), "{report}");
    assert!(!project.path().join("src/socketio/rooms/chat_room.rs").exists());
    assert_eq!(std::fs::read_to_string(&rooms).unwrap(), rooms_before);
}

#[test]
fn without_a_path_it_depends_on_this_checkout_and_says_how_to_switch() {
    let project = new_project();
    let report = ok(&fast_app(project.path(), &["publish", "socketio"]));
    let checkout = workspace().canonicalize().unwrap();
    let manifest = std::fs::read_to_string(project.path().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("fast-app = {{ path = \"{}\" }}", checkout.display())),
        "{manifest}"
    );
    assert!(
        report.contains("path dependency on the checkout this command was built from")
            && report.contains(&checkout.display().to_string())
            && report.contains(&format!(
                "`fast-app = \"{}\"` in Cargo.toml",
                env!("CARGO_PKG_VERSION")
            ))
            && report.contains("--fast-app-path <DIR>"),
        "{report}"
    );
}

/// Where the generated projects are built: one folder, so that they share
/// their dependencies' builds.
fn target() -> PathBuf {
    workspace().join("target").join("generated-project")
}

/// `cargo <args>` in the generated project in `dir`.
fn cargo(dir: &Path, args: &[&str]) -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(args)
        .args(["--quiet", "--message-format=short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target())
        .env_remove("FAST_APP_CONTRACT");
    cargo
}

/// What the printed next steps say to write in main.rs (and a use of the
/// `UpdateChat` event), and this workspace's dependency versions.
fn serve_from_main(dir: &Path) {
    std::fs::write(
        dir.join("src/main.rs"),
        "mod socketio;\n\n#[tokio::main]\nasync fn main() -> Result<(), Box<dyn std::error::Error>> {\n    \
         let _ = socketio::events::update_chat::UpdateChat { id: 1 };\n    \
         socketio::server::serve(\"127.0.0.1:0\").await\n}\n",
    )
    .unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// What a test run printed, both streams.
fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The published contract test: a new project has no contract and its test
/// says how to make one; that command writes it, with the new event; then
/// the test passes.
#[test]
fn the_contract_test_says_to_generate_the_contract_then_writes_and_checks_it() {
    // In the shared target folder, cargo takes packages of one name for one
    // another whatever their folder, and the contract test writes into the
    // folder it was built from (`CARGO_MANIFEST_DIR`): a concurrent run of
    // this suite could run its own. So a name of its own, removed after.
    let name = format!("contract_app_{}", std::process::id());
    let project = new_package(&name);
    let dir = project.path();
    let _clean = Clean { dir, name: &name };
    publish(dir);
    let report = ok(&fast_app(dir, &["make", "broadcast_event", "UpdateChat"]));
    assert!(
        report.contains(REGENERATE) && report.ends_with("in contract/index.ts and contract/asyncapi.json\n"),
        "{report}"
    );
    serve_from_main(dir);

    let first = cargo(dir, &["test", "client_contract"])
        .output()
        .expect("cargo runs");
    let said = printed(&first);
    assert!(!first.status.success(), "passed without a contract:\n{said}");
    assert!(
        said.contains("is out of date")
            && said.contains("index.ts (missing)")
            && said.contains("FAST_APP_CONTRACT=overwrite"),
        "does not say how to make the contract:\n{said}"
    );

    let written = cargo(dir, &["test", "client_contract"])
        .env("FAST_APP_CONTRACT", "overwrite")
        .output()
        .expect("cargo runs");
    assert!(written.status.success(), "{}", printed(&written));
    let index = std::fs::read_to_string(dir.join("contract/index.ts")).unwrap();
    assert!(
        index.contains("update_chat") && index.contains("UpdateChat"),
        "the event is not in index.ts:\n{index}"
    );
    assert!(
        !index.contains("JsonSchema") && !index.contains("fast_app::"),
        "notes for the developer are in the clients' contract:\n{index}"
    );
    let asyncapi = std::fs::read_to_string(dir.join("contract/asyncapi.json")).unwrap();
    assert!(asyncapi.contains("update_chat"), "{asyncapi}");

    let checked = cargo(dir, &["test", "client_contract"])
        .output()
        .expect("cargo runs");
    assert!(
        checked.status.success(),
        "the written contract is stale:\n{}",
        printed(&checked)
    );
}

/// Removes the build of the package `name` from the shared target folder.
struct Clean<'a> {
    dir: &'a Path,
    name: &'a str,
}

impl Drop for Clean<'_> {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO"))
            .args(["clean", "--quiet", "-p", self.name])
            .current_dir(self.dir)
            .env("CARGO_TARGET_DIR", target())
            .status();
    }
}

/// The whole walk-through, then one `cargo build` of the generated project,
/// which serves, says where, and exits 0 on SIGTERM.
#[test]
fn a_generated_project_compiles_and_serves() {
    let project = new_project();
    let dir = project.path();
    publish(dir);
    ok(&fast_app(dir, &["make", "room", "ChatRoom"]));
    ok(&fast_app(dir, &["make", "broadcast_event", "UpdateChat"]));
    let report = ok(&fast_app(dir, &["make", "namespace", "AdminNamespace"]));
    assert!(
        report.contains("src/socketio/namespaces/admin_namespace.rs") && report.contains(REGENERATE),
        "{report}"
    );
    let admin = std::fs::read_to_string(dir.join("src/socketio/namespaces/admin_namespace.rs")).unwrap();
    assert!(admin.contains("#[namespace(\"/admin\""), "{admin}");

    // What the printed next steps say to do: serve the room, target it, serve the app.
    let global = dir.join("src/socketio/namespaces/global_namespace.rs");
    let text = std::fs::read_to_string(&global)
        .unwrap()
        .replace("#[rooms()]", "#[rooms(ChatRoom)]")
        .replace(
            "use fast_app::prelude::*;",
            "use fast_app::prelude::*;\n\nuse crate::socketio::rooms::chat_room::ChatRoom;",
        );
    std::fs::write(&global, text).unwrap();
    let event = dir.join("src/socketio/events/update_chat.rs");
    let text = std::fs::read_to_string(&event)
        .unwrap()
        .replace(
            "#[broadcast(on = \"update_chat\")]",
            "#[broadcast(on = ChatRoom { id: self.id })]",
        )
        .replace(
            "use serde::Serialize;",
            "use serde::Serialize;\n\nuse crate::socketio::rooms::chat_room::ChatRoom;",
        );
    std::fs::write(&event, text).unwrap();
    serve_from_main(dir);

    let build = cargo(dir, &["build"]).output().expect("cargo runs");
    assert!(
        build.status.success(),
        "the generated project does not compile:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let warnings = String::from_utf8_lossy(&build.stderr);
    assert!(!warnings.contains("warning"), "generated code warns:\n{warnings}");

    // `serve` says where it listens: the port the system chose for `:0`.
    let mut server = Command::new(target().join("debug").join("app"))
        .env_remove("REDIS_SOCKETIO_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the generated server starts");
    let stdout = server.stdout.take().unwrap();
    let (lines, first) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = lines.send(line);
    });
    let line = first.recv_timeout(Duration::from_secs(30));
    let Ok(line) = line else {
        server.kill().unwrap();
        server.wait().unwrap();
        panic!("the server printed no line within 30 s");
    };
    // SIGTERM shuts it down: it exits 0, within its 10 s bound.
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success(), "kill -TERM failed");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            server.kill().unwrap();
            server.wait().unwrap();
            panic!("the server still runs 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit after SIGTERM: {status}");
    let address = line
        .trim()
        .strip_prefix("Socket.IO server listening on http://")
        .unwrap_or_else(|| panic!("not the listen address: {line:?}"));
    let address: std::net::SocketAddr = address.parse().expect("an address");
    assert!(address.ip().is_loopback() && address.port() != 0, "{address}");
}

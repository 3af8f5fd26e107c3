//! Where the generated project's `fast-app` dependency comes from: the
//! directory the user names, the checkout this command was built from, or the
//! registry at this command's own version.

use std::path::{Path, PathBuf};

/// The `fast-app` dependency `publish socketio` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FastApp {
    /// `fast-app = { path = "<dir>" }`; `checkout` when `dir` is the checkout
    /// this command was built from rather than one the user named.
    Path { dir: PathBuf, checkout: bool },
    /// `fast-app = "<version>"`: the published crate.
    Version(String),
}

/// The directory the user named, else the checkout this command was built
/// from, else the published crate at `version`.
pub fn choose(named: Option<PathBuf>, checkout: Option<PathBuf>, version: &str) -> FastApp {
    match (named, checkout) {
        (Some(dir), _) => FastApp::Path { dir, checkout: false },
        (None, Some(dir)) => FastApp::Path { dir, checkout: true },
        (None, None) => FastApp::Version(version.to_owned()),
    }
}

/// The fast-app checkout that the package in `manifest_dir` (this command's
/// `CARGO_MANIFEST_DIR`) belongs to, when it is still there.
///
/// A package that cargo unpacked from a `.crate` (installed from a registry,
/// vendored, or verified by `cargo package`) has a `Cargo.toml.orig`, and its
/// parent folder is no checkout; a checkout's `cli/` has no such file and
/// sits beside the root manifest of the `fast-app` package.
pub fn checkout(manifest_dir: &Path) -> Option<PathBuf> {
    if manifest_dir.join("Cargo.toml.orig").exists() {
        return None;
    }
    let root = manifest_dir.parent()?;
    let manifest: toml_edit::DocumentMut = std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()?
        .parse()
        .ok()?;
    let name = manifest.get("package")?.get("name")?.as_str()?;
    (name == "fast-app").then(|| root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        )
        .unwrap();
    }

    #[test]
    fn a_checkout_is_the_parent_of_the_cli_beside_the_facade() {
        let tmp = tempfile::tempdir().unwrap();
        package(tmp.path(), "fast-app");
        package(&tmp.path().join("cli"), "fast-app-cli");
        assert_eq!(checkout(&tmp.path().join("cli")), Some(tmp.path().to_path_buf()));
    }

    #[test]
    fn a_package_unpacked_from_a_registry_is_no_checkout() {
        // ~/.cargo/registry/src/<index>/fast-app-cli-0.1.0, as `cargo install` unpacks it;
        // even beside a folder that looks like a checkout.
        let tmp = tempfile::tempdir().unwrap();
        package(tmp.path(), "fast-app");
        let cli = tmp.path().join("fast-app-cli-0.1.0");
        package(&cli, "fast-app-cli");
        std::fs::write(cli.join("Cargo.toml.orig"), "").unwrap();
        assert_eq!(checkout(&cli), None);
    }

    #[test]
    fn a_removed_checkout_or_another_project_is_no_checkout() {
        let tmp = tempfile::tempdir().unwrap();
        package(&tmp.path().join("cli"), "fast-app-cli");
        assert_eq!(checkout(&tmp.path().join("cli")), None, "no root manifest");
        package(tmp.path(), "not-fast-app");
        assert_eq!(checkout(&tmp.path().join("cli")), None, "another package");
        std::fs::write(
            tmp.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"cli\"]\n",
        )
        .unwrap();
        assert_eq!(checkout(&tmp.path().join("cli")), None, "a virtual workspace");
    }

    #[test]
    fn a_named_directory_wins_then_the_checkout_then_the_version() {
        let named = PathBuf::from("/mine/fast-app");
        let built = PathBuf::from("/checkout");
        assert_eq!(
            choose(Some(named.clone()), Some(built.clone()), "0.1.0"),
            FastApp::Path {
                dir: named,
                checkout: false
            }
        );
        assert_eq!(
            choose(None, Some(built.clone()), "0.1.0"),
            FastApp::Path {
                dir: built,
                checkout: true
            }
        );
        assert_eq!(choose(None, None, "0.1.0"), FastApp::Version("0.1.0".into()));
    }
}

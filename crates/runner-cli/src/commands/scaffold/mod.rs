//! `runner plugin new NAME [--lang rust|python]`: a plugin that builds and
//! runs as is, wherever the runner binary is. The WIT contract (and, in
//! Rust, the SDK) come from the binary itself ([`sdk`]): the new plugin
//! refers to nothing outside its own directory.

mod sdk;

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::Lang;
use crate::exit;

const RUST_MANIFEST: &str = include_str!("../../../templates/rust/Cargo.toml");
const RUST_LIB: &str = include_str!("../../../templates/rust/lib.rs");
const PYTHON_APP: &str = include_str!("../../../templates/python/app.py");
/// componentize-py, pinned: the version this project builds its own
/// Python plugin with.
const PYTHON_REQUIREMENTS: &str =
    include_str!("../../../../../plugins/lineinfile/requirements.txt");

pub fn new_plugin(name: &str, parent: &Path, lang: Lang) -> anyhow::Result<i32> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let files: Vec<(String, Vec<u8>)> = match lang {
        Lang::Rust => rust_files(name),
        Lang::Python => python_files(name),
    };
    for (rel, content) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file in the plugin"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created plugin '{name}' in {}", dir.display());
    let (build, plugins) = match lang {
        Lang::Rust => (
            "cargo build --release --target wasm32-wasip2".to_string(),
            format!("{}/target/wasm32-wasip2/release", dir.display()),
        ),
        Lang::Python => (
            format!(
                "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && \
                 .venv/bin/componentize-py -d wit -w plugin componentize app -o {name}.wasm"
            ),
            dir.display().to_string(),
        ),
    };
    println!("build it:  (cd {} && {build})", dir.display());
    println!("use it:    runner play site.yaml -i inventory.yaml --plugins {plugins}");
    Ok(exit::OK)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || !name.as_bytes()[0].is_ascii_lowercase()
    {
        bail!(
            "plugin name '{name}': use lowercase letters, digits and '-', starting with a letter"
        );
    }
    Ok(())
}

/// The crate, with the SDK in `sdk/`, the WIT in `wit/` and the runner's
/// Cargo.lock (the dependency versions it was tested with).
fn rust_files(name: &str) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("Cargo.toml".into(), fill(RUST_MANIFEST, name)),
        ("src/lib.rs".into(), fill(RUST_LIB, name)),
        (".gitignore".into(), b"target/\n".to_vec()),
    ];
    files.extend(
        sdk::FILES
            .iter()
            .map(|(rel, content)| (rel.to_string(), content.to_vec())),
    );
    files
}

/// The app, the WIT in `wit/`, and componentize-py's pinned version.
fn python_files(name: &str) -> Vec<(String, Vec<u8>)> {
    let wit = sdk::FILES
        .iter()
        .filter(|(rel, _)| rel.starts_with("wit/"))
        .map(|(rel, content)| (rel.to_string(), content.to_vec()));
    let mut files = vec![
        ("app.py".into(), fill(PYTHON_APP, name)),
        ("requirements.txt".into(), PYTHON_REQUIREMENTS.into()),
        (
            ".gitignore".into(),
            b".venv/\n__pycache__/\n*.wasm\n".to_vec(),
        ),
    ];
    files.extend(wit);
    files
}

fn fill(template: &str, name: &str) -> Vec<u8> {
    template.replace("{{name}}", name).into_bytes()
}

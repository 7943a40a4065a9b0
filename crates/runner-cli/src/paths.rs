//! Where the runner finds plugins and keeps its caches.

use std::path::{Path, PathBuf};

use runner_plugin_host::PluginDir;

/// The workspace this binary was built from (for the built-in plugins).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Plugin search path, first match wins: the user's directories
/// (`--plugins`, else `RUNNER_PLUGIN_PATH`), then `plugins/` beside the
/// playbook, then the built-in ones — `plugins/` beside the executable and
/// this workspace's wasm build output — where only the product's
/// `runner_plugin_*.wasm` files count (not the workspace's test plugins).
pub fn plugin_dirs(user: &[PathBuf], playbook: Option<&Path>) -> Vec<PluginDir> {
    let mut dirs: Vec<PluginDir> = user.iter().cloned().map(PluginDir::user).collect();
    if let Some(playbook) = playbook {
        let beside = playbook.parent().unwrap_or(Path::new(""));
        let beside = if beside.as_os_str().is_empty() {
            Path::new(".")
        } else {
            beside
        };
        dirs.push(PluginDir::user(beside.join("plugins")));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(PluginDir::built_in(dir.join("plugins")));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    dirs.push(PluginDir::built_in(target.join("wasm32-wasip2/release")));
    let mut unique: Vec<PluginDir> = Vec::new();
    for mut d in dirs {
        d.path = std::fs::canonicalize(&d.path).unwrap_or(d.path);
        if !unique.iter().any(|u| u.path == d.path) {
            unique.push(d);
        }
    }
    unique
}

/// Compiled-component cache.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("RUNNER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("runner")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/runner")))
        .unwrap_or_else(|| std::env::temp_dir().join("runner-cache"))
        .join("components")
}

/// The user's runner configuration (the key that seals saved plans).
pub fn config_dir() -> PathBuf {
    std::env::var_os("RUNNER_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CONFIG_HOME").map(|d| PathBuf::from(d).join("runner")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/runner")))
        .unwrap_or_else(|| PathBuf::from(".runner/config"))
}

//! Where the runner finds plugins and keeps its caches.

use std::path::PathBuf;

/// The workspace this binary was built from (for the built-in plugins).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Plugin search path: user directories, then `plugins/` beside the
/// executable, then this workspace's wasm build output.
pub fn plugin_dirs(user: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = user.to_vec();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.join("plugins"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    dirs.push(target.join("wasm32-wasip2/release"));
    let mut unique: Vec<PathBuf> = Vec::new();
    for d in dirs {
        let d = std::fs::canonicalize(&d).unwrap_or(d);
        if !unique.contains(&d) {
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

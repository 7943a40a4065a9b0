//! On-disk cache of precompiled components, keyed by the component's sha256
//! and the engine's compatibility hash, so a changed plugin or a different
//! wasmtime build never loads stale machine code.
//!
//! Precompiled code runs without the checks a component gets when it is
//! compiled, so the cache is guarded: its directory must be the user's own
//! and private (0700), and each entry is loaded only when its bytes match
//! the sha256 recorded beside it when it was compiled.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from: a cache hit or a fresh compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Compiled,
}

pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
}

impl ComponentCache {
    pub fn new(engine: &Engine, dir: PathBuf) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ComponentCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// Load `wasm` (the component's bytes, read from `origin`), from the
    /// cache when a verified entry is there, compiling and storing it
    /// otherwise. A cache directory that is not private is an error.
    pub fn load(
        &self,
        engine: &Engine,
        origin: &Path,
        wasm: &[u8],
    ) -> anyhow::Result<(Component, String, Source)> {
        ensure_private_dir(&self.dir)?;
        let sha = hex::encode(Sha256::digest(wasm));
        let path = self.dir.join(format!("{sha}-{}.cwasm", self.engine_key));
        if let Some(bytes) = verified(&path) {
            // SAFETY: the bytes were written by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name),
            // into a directory only this user can write, and they match the
            // digest recorded when they were written.
            if let Ok(c) = unsafe { Component::deserialize(engine, &bytes) } {
                return Ok((c, sha, Source::Cache));
            }
        }
        let component = Component::new(engine, wasm).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a valid plugin component: {e:#}",
                origin.display()
            )
        })?;
        if let Ok(bytes) = component.serialize() {
            // A cache we cannot write is only slower, never wrong.
            let _ = store(&path, &bytes);
        }
        Ok((component, sha, Source::Compiled))
    }
}

/// The entry's bytes when they match their recorded digest.
fn verified(path: &Path) -> Option<Vec<u8>> {
    let recorded = std::fs::read_to_string(digest_path(path)).ok()?;
    let bytes = std::fs::read(path).ok()?;
    (hex::encode(Sha256::digest(&bytes)) == recorded.trim()).then_some(bytes)
}

fn digest_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.sha256")
}

/// Write an entry and its digest, each atomically, readable by the user only.
fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let write = |target: &Path, content: &[u8]| -> std::io::Result<()> {
        use std::io::Write;
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        std::fs::rename(&tmp, target)
    };
    write(path, bytes)?;
    write(
        &digest_path(path),
        hex::encode(Sha256::digest(bytes)).as_bytes(),
    )
}

/// Create `dir` (0700) if needed; refuse it unless it is a real directory,
/// owned by this user, that no one else can read or write.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                anyhow::anyhow!("cannot create the plugin cache {}: {e}", dir.display())
            })?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mode = meta.mode() & 0o777;
    if !meta.is_dir() || meta.uid() != me || mode & 0o077 != 0 {
        anyhow::bail!(
            "the plugin cache {} must be a directory of yours that only you can use (it is {}, mode {mode:03o}, owner uid {}): `chmod 700` it, or set RUNNER_CACHE_DIR to another directory",
            dir.display(),
            if meta.file_type().is_symlink() {
                "a symlink"
            } else if meta.is_dir() {
                "a directory"
            } else {
                "not a directory"
            },
            meta.uid()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_cache_others_can_write_is_refused() {
        let base = std::env::temp_dir().join(format!("runner-cache-test-{}", std::process::id()));
        let dir = base.join("components");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_private_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("mode 777"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_entry_that_does_not_match_its_digest_is_not_loaded() {
        let dir = std::env::temp_dir().join(format!("runner-cache-entry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let entry = dir.join("x.cwasm");
        store(&entry, b"compiled code").unwrap();
        assert_eq!(verified(&entry).as_deref(), Some(&b"compiled code"[..]));
        std::fs::write(&entry, b"swapped code").unwrap();
        assert_eq!(verified(&entry), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

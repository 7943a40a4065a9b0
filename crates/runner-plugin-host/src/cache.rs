//! On-disk cache of precompiled components, keyed by the component's sha256
//! and the engine's compatibility hash, so a changed plugin or a different
//! wasmtime build never loads stale machine code.

use std::hash::{DefaultHasher, Hash, Hasher};
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
    /// cache when present, compiling and storing it otherwise.
    pub fn load(
        &self,
        engine: &Engine,
        origin: &Path,
        wasm: &[u8],
    ) -> anyhow::Result<(Component, String, Source)> {
        let sha = hex::encode(Sha256::digest(wasm));
        let path = self.dir.join(format!("{sha}-{}.cwasm", self.engine_key));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash (it is in the name),
            // into a directory only this runner writes.
            if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
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
            let _ = std::fs::create_dir_all(&self.dir).and_then(|_| {
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)
            });
        }
        Ok((component, sha, Source::Compiled))
    }
}

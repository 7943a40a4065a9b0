//! The files a new plugin carries from this runner: `wit/plugin.wit`, the
//! Rust SDK and `runner-types` under `sdk/` with standalone manifests, and
//! the workspace's Cargo.lock. Listed and embedded by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

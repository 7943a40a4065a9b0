//! The plugin host: runs runner plugins (WebAssembly components built
//! against `wit/plugin.wit`) under wasmtime.
//!
//! One [`PluginHost`] holds one wasmtime `Engine`; components are
//! precompiled once and cached on disk ([`cache`]); every call gets a fresh
//! `Store` with a memory limit and a CPU deadline ([`call`]). All the
//! plugin's observation goes through an [`Observer`] after a capability
//! check; a plugin can change nothing.

mod bindings;
mod cache;
mod call;
mod registry;

pub use call::{CallError, Limits, Observer, PlanOutcome};
pub use registry::{LoadedPlugin, PlanRequest, PluginDir, PluginHost};
pub use runner_types::capability::Access;

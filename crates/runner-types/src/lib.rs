//! The plan vocabulary shared by the plugin host, the engine and the CLI.
//!
//! These types mirror `wit/plugin.wit` as plain serde data, so plans can be
//! journaled, saved to a plan file, diffed and replayed without a wasm
//! runtime in sight.

pub mod action;
pub mod capability;
pub mod http;
pub mod mode;
pub mod owner;
pub mod params_doc;
pub mod plugin_name;
pub mod redact;
pub mod shell;
pub mod stat;

pub use action::{
    Action, ActionKind, CommandOutput, HttpResponse, LogLevel, OutputStream, Plan, Probe, WaitUntil,
};
pub use capability::{Capabilities, CapabilityError, Grant, PluginInfo};
pub use plugin_name::PluginName;
pub use redact::Redactor;

/// The most one observation's answer may hold (a probe's stdout and
/// stderr together, a file, an HTTP body): 16 MiB.
pub const MAX_ANSWER: usize = 16 << 20;

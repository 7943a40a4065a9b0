//! The guest side of the runner plugin contract.
//!
//! A plugin implements [`Guest`] (`describe` and `plan`) and exports it with
//! [`export_plugin!`]. While planning it observes its target host with
//! [`probe`], [`read_file`] and [`http_get`] (and files beside the
//! playbook with [`read_local_file`]) — each checked by the runner
//! against the capabilities the plugin declared — and returns [`Action`]s
//! built with the helpers in [`actions`]. It cannot change anything itself.
//!
//! ```ignore
//! struct Hello;
//! impl runner_plugin_sdk::Guest for Hello { /* describe, plan */ }
//! runner_plugin_sdk::export_plugin!(Hello);
//! ```

/// The generated bindings. They live in a module of their own: at the
/// crate root the world-level export macro collides with its re-export.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_plugin",
        default_bindings_module: "runner_plugin_sdk::bindings",
    });
}

pub mod actions;
pub mod compose;
mod observe_ext;
mod plan;

pub use bindings::export_plugin;
pub use bindings::runner::plugin::observe::{http_get, log, probe, read_file, read_local_file};
pub use bindings::runner::plugin::types::{
    Action, ActionKind, Capabilities, CommandOutput, EnsureDir, HostsCommand, HttpRequest,
    HttpResponse, LogLevel, Probe, RemoveDir, RunCommand, Symlink, WaitUntil, WriteFile,
};
pub use bindings::{Guest, Plan, PlanRequest, PluginInfo};
pub use observe_ext::*;
pub use runner_types::capability::ancestors;
pub use runner_types::mode::parse as parse_mode;
pub use runner_types::owner::check as check_owner;
pub use runner_types::stat::{PathKind, PathStat};
pub use schemars::{self, JsonSchema};

/// The JSON Schema of a plugin's parameters, derived from their type
/// (`#[derive(Deserialize, JsonSchema)]`): descriptions from doc comments,
/// `default`s from serde's (so the runner fills them in before it checks
/// capabilities), limits from `#[schemars(range(..), regex(..), length(..))]`.
/// Draft 2020-12 with every subschema inlined; an `Option` field is optional
/// but, given, must be a value (never `null`).
pub fn params_schema<T: schemars::JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    no_null(&mut schema);
    serde_json::to_string(&schema).expect("a derived schema is JSON")
}

/// Drop `null` from every subschema's types: an `Option` parameter may be
/// left out, but not given as `null` (a capability pattern `{param}` then
/// has no value to stand for).
fn no_null(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(no_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(options)) = map.get_mut("anyOf") {
        options.retain(|o| o.get("type").is_none_or(|t| t != "null"));
    }
    map.values_mut().for_each(no_null);
}

/// Parse the step parameters into the plugin's own type.
pub fn params<T: serde::de::DeserializeOwned>(request: &PlanRequest) -> Result<T, String> {
    serde_json::from_str(&request.params).map_err(|e| format!("bad parameters: {e}"))
}

/// The facts gathered from the target host.
pub fn facts(request: &PlanRequest) -> serde_json::Value {
    serde_json::from_str(&request.facts).unwrap_or_default()
}

/// Quote a word for a POSIX shell — the runner's own quoting
/// ([`runner_types::shell::quote`]), so what a plugin quotes is one word to
/// the capability check too. A word holding a NUL byte cannot be quoted; it
/// is returned as it is, and the runner refuses the command that holds it.
pub fn sh_quote(word: &str) -> String {
    runner_types::shell::quote(word).unwrap_or_else(|_| word.to_string())
}

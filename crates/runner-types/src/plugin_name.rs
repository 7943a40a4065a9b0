//! The one rule that turns what names a plugin — a step's `plugin:`, a
//! file name, what the plugin's `describe` says — into its name: `_` is
//! `-`, and a file's `runner_plugin_` prefix (cargo's output name) goes.
//! So `my_plugin.wasm`, `runner_plugin_my_plugin.wasm`, `plugin: my_plugin`
//! and `plugin: my-plugin` are all the plugin `my-plugin`.

use std::fmt;
use std::path::Path;

/// A plugin's name, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginName(String);

/// What cargo puts before a plugin crate's name in its `.wasm` file.
const CARGO_PREFIX: &str = "runner_plugin_";

impl PluginName {
    /// The plugin a step or a `describe` names.
    pub fn new(name: &str) -> PluginName {
        PluginName(name.replace('_', "-"))
    }

    /// The plugin a component file holds, by its file name.
    pub fn of_file(path: &Path) -> PluginName {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        PluginName::new(stem.strip_prefix(CARGO_PREFIX).unwrap_or(&stem))
    }

    /// Whether a file is one of the product's plugins as cargo builds them
    /// (`runner_plugin_*.wasm`): what a built-in plugin directory lists.
    pub fn is_product_file(path: &Path) -> bool {
        path.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(CARGO_PREFIX))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscores_dashes_and_the_cargo_prefix_name_one_plugin() {
        let want = PluginName::new("my-plugin");
        assert_eq!(PluginName::new("my_plugin"), want);
        assert_eq!(PluginName::of_file(Path::new("/x/my_plugin.wasm")), want);
        assert_eq!(PluginName::of_file(Path::new("my-plugin.wasm")), want);
        assert_eq!(
            PluginName::of_file(Path::new("/t/runner_plugin_my_plugin.wasm")),
            want
        );
        assert_eq!(want.to_string(), "my-plugin");
        assert_ne!(PluginName::new("myplugin"), want);
        assert!(PluginName::is_product_file(Path::new(
            "/t/runner_plugin_file.wasm"
        )));
        assert!(!PluginName::is_product_file(Path::new(
            "/t/runner_test_plugin_hostile.wasm"
        )));
    }
}

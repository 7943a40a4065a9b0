//! `runner replay JOURNAL`: re-plan a recorded run with no hosts.

use std::path::Path;
use std::sync::Arc;

use runner_plugin_host::PluginHost;

use crate::exit;

pub async fn replay(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    journal: &Path,
) -> anyhow::Result<i32> {
    let path = runner_engine::journal::find(&state_dir.join("runs"), journal)?;
    let differences = runner_engine::replay(plugins.as_ref(), &path).await?;
    if differences.is_empty() {
        println!("replay of {}: no difference", path.display());
        Ok(exit::OK)
    } else {
        println!(
            "replay of {}: {} difference(s)",
            path.display(),
            differences.len()
        );
        for d in &differences {
            println!("  {d}");
        }
        Ok(exit::DIFFERENT)
    }
}

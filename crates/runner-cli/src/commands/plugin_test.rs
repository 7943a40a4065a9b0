//! `runner plugin test DIR`: every fixture in DIR planned with no hosts;
//! a line per case, and a diff for each that differs.

use std::path::Path;
use std::sync::Arc;

use runner_engine::plugin_test::load_dir;
use runner_plugin_host::PluginHost;

use crate::exit;

pub async fn run(plugins: Arc<PluginHost>, dir: &Path) -> anyhow::Result<i32> {
    let cases = load_dir(dir)?;
    let mut failed = 0;
    for case in &cases {
        let outcome = case.run(plugins.as_ref()).await?;
        if outcome.passed() {
            println!("ok    {} ({})", case.name, case.plugin);
            continue;
        }
        failed += 1;
        println!("FAIL  {} ({})", case.name, case.plugin);
        for p in &outcome.problems {
            println!("      {p}");
        }
        if let Some(diff) = &outcome.diff {
            print!("{diff}");
        }
    }
    println!(
        "{}: {} passed, {failed} failed",
        dir.display(),
        cases.len() - failed
    );
    Ok(if failed == 0 {
        exit::OK
    } else {
        exit::DIFFERENT
    })
}

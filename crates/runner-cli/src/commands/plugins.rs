//! `runner plugins list` and `runner plugins show NAME` (its parameters
//! as a table: `*` marks a required one).

use std::sync::Arc;

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use runner_plugin_host::PluginHost;
use runner_types::params_doc::param_docs;

use crate::cli::PluginsCommand;
use crate::exit;

pub async fn run(host: Arc<PluginHost>, command: PluginsCommand) -> anyhow::Result<i32> {
    match command {
        PluginsCommand::List => {
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY);
            table.set_header(["plugin", "version", "summary", "file"]);
            let available = host.available();
            if available.is_empty() {
                anyhow::bail!(
                    "no plugins found in {}; build them with `cargo build --release --target wasm32-wasip2 --workspace --exclude runner-cli` or pass --plugins DIR",
                    host.dirs()
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            for (name, path) in available {
                match host.get(name.as_str()).await {
                    Ok(p) => table.add_row([
                        p.info.name.clone(),
                        p.info.version.clone(),
                        p.info.summary.clone(),
                        path.display().to_string(),
                    ]),
                    Err(e) => table.add_row([
                        name.to_string(),
                        "?".into(),
                        format!("cannot load: {e:#}"),
                        path.display().to_string(),
                    ]),
                };
            }
            println!("{table}");
            Ok(exit::OK)
        }
        PluginsCommand::Show { name } => {
            let p = host.get(&name).await?;
            let i = &p.info;
            println!("{} {}  —  {}", i.name, i.version, i.summary);
            println!("file:    {}", p.path.display());
            println!("sha256:  {}", p.sha256);
            println!(
                "\nparameters (* required):\n{}",
                params_table(&i.params_schema)
            );
            if !i.secret_params.is_empty() {
                println!("\nsecret parameters: {}", i.secret_params.join(", "));
            }
            let c = &i.capabilities;
            println!(
                "\ncapabilities ({{param}} is the step's value of that parameter, one shell word in a command;\n\
                 a bare * is any words, '*' one word; docs/security.md has the rules):"
            );
            for (label, list) in [
                ("probes", &c.probes),
                ("reads", &c.reads),
                ("writes", &c.writes),
                ("runs", &c.runs),
                ("http", &c.http),
                ("peers", &c.peers),
            ] {
                if list.is_empty() {
                    println!("  {label:7} none");
                } else {
                    for (n, pat) in list.iter().enumerate() {
                        println!("  {:7} {pat}", if n == 0 { label } else { "" });
                    }
                }
            }
            println!(
                "\ntrust: the runner enforces exactly these patterns. Probes run while planning, even in a\n\
                 dry-run: the plugin declares them read-only, and you review that here. Runs, writes and\n\
                 HTTP actions happen only when applying, and every preview shows each one in full."
            );
            Ok(exit::OK)
        }
    }
}

/// One row a parameter: name (`*` if required), type, default, description.
fn params_table(schema: &serde_json::Value) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["parameter", "type", "default", "description"]);
    for p in param_docs(schema) {
        let name = if p.required {
            format!("{} *", p.name)
        } else {
            p.name
        };
        table.add_row([
            name,
            p.kind,
            p.default.map(|d| d.to_string()).unwrap_or_default(),
            p.description.unwrap_or_default(),
        ]);
    }
    table
}

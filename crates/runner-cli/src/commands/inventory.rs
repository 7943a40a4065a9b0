//! `runner inventory [-i INV] [PATTERN]`: an inventory as the runner
//! resolves it, as JSON: each selected host's groups and variables
//! (`group_vars/` and `host_vars/` included), and every group's members.
//! What `ansible-inventory --list` is to Ansible users.

use std::path::PathBuf;

use clap::Args;
use runner_engine::{Inventory, pattern};
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// The inventory (default: the lab's, .runner/lab/inventory.yaml).
    #[arg(short, long)]
    pub inventory: Option<PathBuf>,
    /// Only the hosts this pattern selects (default: all).
    pub pattern: Option<String>,
    /// Also read group_vars/ and host_vars/ here, as beside a playbook
    /// (Ansible's --playbook-dir).
    #[arg(long, value_name = "DIR")]
    pub playbook_dir: Option<PathBuf>,
}

pub fn show(args: InventoryArgs) -> anyhow::Result<i32> {
    let path = super::run::inventory_or_lab(args.inventory.as_ref())?;
    let mut inv = Inventory::load(&path)?;
    let mut dirs = vec![inv.dir()];
    dirs.extend(args.playbook_dir);
    for w in inv.add_vars_dirs(&dirs)? {
        eprintln!("warning: {w}");
    }
    let selected = pattern::select(&inv, args.pattern.as_deref().unwrap_or("all"))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let hosts: Map<String, Value> = inv
        .hosts
        .iter()
        .filter(|h| selected.contains(&h.name))
        .map(|h| {
            let entry = json!({ "groups": h.groups, "vars": h.vars });
            (h.name.clone(), entry)
        })
        .collect();
    let out = json!({ "hosts": hosts, "groups": inv.groups });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

//! Saved plans (`runner plan -o plan.json`, `runner apply plan.json`): the
//! previewed actions of every step and host, with the observations they
//! were planned from, so `apply` can do exactly that or refuse as stale.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hosts::Hosts;
use crate::journal::Observation;
use crate::observer::{command_answer, file_answer, http_answer, http_call, run_probe};

pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: u32,
    pub run_id: String,
    pub playbook: String,
    pub playbook_sha: String,
    pub inventory: String,
    pub inventory_sha: String,
    #[serde(default)]
    pub extra_vars: serde_json::Map<String, serde_json::Value>,
    pub entries: Vec<SavedEntry>,
}

/// One step on one host, first stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedEntry {
    pub step: usize,
    pub host: String,
    pub observations: Vec<Observation>,
    /// Redacted actions, for people.
    pub actions: Vec<runner_types::Action>,
    /// Digests of the full actions, for the check.
    pub digests: Vec<String>,
    /// Known only after apply: why. `apply` plans this step-host anew and
    /// shows what it planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

impl SavedPlan {
    pub fn load(path: &Path) -> anyhow::Result<SavedPlan> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let plan: SavedPlan = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not a runner plan: {e}", path.display()))?;
        if plan.format != FORMAT {
            anyhow::bail!(
                "{}: plan format {} is not supported (this runner reads {FORMAT})",
                path.display(),
                plan.format
            );
        }
        Ok(plan)
    }

    /// Why the playbook or inventory no longer are the ones planned.
    pub fn inputs_changed(
        &self,
        playbook: &crate::Playbook,
        inventory: &crate::Inventory,
    ) -> Option<String> {
        let p = file_sha(&playbook.path);
        let i = file_sha(&inventory.file.clone().unwrap_or_default());
        (p != self.playbook_sha || i != self.inventory_sha)
            .then(|| "the playbook or the inventory changed since the plan was made".into())
    }

    pub fn entry(&self, step: usize, host: &str) -> Option<&SavedEntry> {
        self.entries
            .iter()
            .find(|e| e.step == step && e.host == host)
    }
}

pub fn file_sha(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| hex::encode(Sha256::digest(b)))
        .unwrap_or_default()
}

/// Why `saved` no longer fits the hosts: the first recorded observation
/// that answers differently now, asked again exactly as recorded.
pub(crate) async fn stale_reason(hosts: &Hosts, saved: &SavedPlan) -> Option<String> {
    for entry in saved.entries.iter().filter(|e| e.pending.is_none()) {
        let t = hosts.transport(&entry.host);
        for o in &entry.observations {
            let answer = match o.kind.as_str() {
                "probe" => command_answer(&run_probe(t.as_ref(), &o.request).await),
                "read" => file_answer(
                    &runner_transport::files::read(t.as_ref(), &o.request)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                _ => http_answer(&http_call("GET", &o.request, &[], None).await),
            };
            let sha = hex::encode(Sha256::digest(answer.to_string()));
            if sha != o.answer_sha {
                return Some(format!(
                    "{}: {} '{}' answers differently than when the plan was made",
                    entry.host, o.kind, o.request
                ));
            }
        }
    }
    None
}

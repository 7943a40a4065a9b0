//! Saved plans (`runner plan -o plan.json`, `runner apply plan.json`): the
//! previewed actions of every step and host, with the observations they
//! were planned from, so `apply` can do exactly that or refuse as stale.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use runner_transport::Transport;
use runner_types::capability::Grant;

use crate::journal::{Observation, ObservationKind};
use crate::observer::{command_answer, file_answer, http_answer, http_call, run_probe};

pub const FORMAT: u32 = 3;

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
    /// HMAC-SHA256 of the rest, with the user's plan key: an edited plan
    /// is refused outright.
    #[serde(default)]
    pub seal: String,
}

/// One step on one host, first stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedEntry {
    pub step: usize,
    pub host: String,
    /// The item of the step's loop, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
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
    /// Sign the plan with `key` (see [`plan_key`]).
    pub fn seal(&mut self, key: &[u8]) {
        self.seal = String::new();
        self.seal = self.mac(key);
    }

    fn mac(&self, key: &[u8]) -> String {
        use hmac::Mac;
        let mut unsealed = self.clone();
        unsealed.seal = String::new();
        let bytes = serde_json::to_vec(&unsealed).expect("plans serialize");
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(&bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Load a plan written by `runner plan`, refusing one whose seal does
    /// not match `key`: edited, or made by another user or machine.
    pub fn load_sealed(path: &Path, key: &[u8]) -> anyhow::Result<SavedPlan> {
        let plan = SavedPlan::load(path)?;
        if plan.seal.is_empty() || plan.seal != plan.mac(key) {
            anyhow::bail!(
                "{}: refused: the plan was changed after `runner plan` wrote it (or was made by another user or machine); make a new plan",
                path.display()
            );
        }
        Ok(plan)
    }

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

    pub fn entry(&self, step: usize, host: &str, item: Option<usize>) -> Option<&SavedEntry> {
        self.entries
            .iter()
            .find(|e| e.step == step && e.host == host && e.item == item)
    }
}

/// The user's key for sealing plans: `dir/plan.key`, 32 random bytes,
/// made on first use, readable by the user only.
pub fn plan_key(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let path = dir.join("plan.key");
    if let Ok(key) = std::fs::read(&path) {
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        anyhow::ensure!(
            mode & 0o077 == 0 && key.len() == 32,
            "{}: the plan key must be 32 bytes readable by you only (mode 0600); remove it to make a new one",
            path.display()
        );
        return Ok(key);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let key: [u8; 32] = rand::random();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f.write_all(&key)?;
    Ok(key.to_vec())
}

pub fn file_sha(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| hex::encode(Sha256::digest(b)))
        .unwrap_or_default()
}

/// Why `saved` cannot be applied as it is. Every recorded observation is
/// first checked against the grant of its step and host exactly as at
/// planning time (a plan file is input, not trusted), then asked again
/// exactly as recorded: the first that answers differently makes the plan
/// stale. A step or host the run does not have is an error.
/// `job_of` gives a step-host's grant and its transport, as the user the
/// step runs as.
pub(crate) async fn stale_reason(
    saved: &SavedPlan,
    job_of: impl Fn(usize, &str, Option<usize>) -> Option<(Grant, Arc<dyn Transport>)>,
    later: impl Fn(usize) -> bool,
) -> Result<Option<String>, String> {
    for entry in saved.entries.iter().filter(|e| !later(e.step)) {
        let Some((grant, _)) = job_of(entry.step, &entry.host, entry.item) else {
            return Err(format!(
                "the saved plan names step {} on host '{}', which this playbook and inventory do not run: it was edited, or made from other files",
                entry.step + 1,
                entry.host.escape_default()
            ));
        };
        for o in &entry.observations {
            grant
                .check(o.kind.access(), &o.request)
                .map_err(|e| format!("the saved plan asks what its plugin may not: {e}"))?;
        }
    }
    for entry in saved
        .entries
        .iter()
        .filter(|e| e.pending.is_none() && !later(e.step))
    {
        let Some((_, t)) = job_of(entry.step, &entry.host, entry.item) else {
            continue;
        };
        // An answer from planned state is checked when its step plans
        // again, after the earlier steps it depends on have applied.
        for o in entry.observations.iter().filter(|o| !o.planned) {
            let answer = match o.kind {
                ObservationKind::Probe => command_answer(&run_probe(t.as_ref(), &o.request).await),
                ObservationKind::Read => file_answer(
                    &runner_transport::files::read(t.as_ref(), &o.request)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                ObservationKind::Http => {
                    http_answer(&http_call("GET", &o.request, &[], None).await)
                }
                // A file beside the playbook is read again when the step
                // is planned; its new bytes change the actions' digests.
                ObservationKind::LocalRead => continue,
            };
            let sha = hex::encode(Sha256::digest(answer.to_string()));
            if sha != o.answer_sha {
                return Ok(Some(format!(
                    "{}: {} '{}' answers differently than when the plan was made",
                    entry.host,
                    o.kind.as_str(),
                    o.request
                )));
            }
        }
    }
    Ok(None)
}

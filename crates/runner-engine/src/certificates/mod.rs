//! Certificates a playbook asks for (`certificates:`): a CA, generated or
//! the user's own, and the per-host certificates it issues. They are kept
//! in a file (mode 0600) and issued anew when missing, when their names or
//! addresses change, when the CA changes, or when they expire within
//! `renew_days`; a preview issues in memory and saves nothing. Clients
//! find the CA certificate beside the file ([`ca_file`]). Every
//! certificate and key is registered with the [`Redactor`].

mod store;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use runner_tls::{Ca, Issued, Request, Seed};
use runner_types::Redactor;
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::state_files::{self, Readers};

pub use store::Stored;

/// The playbook's `certificates:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatesSpec {
    /// Where issued certificates and their keys are kept (a template;
    /// relative to the playbook).
    pub file: String,
    #[serde(default)]
    pub ca: CaSpec,
    /// How long an issued certificate is valid.
    #[serde(default = "default_valid_days")]
    pub valid_days: u32,
    /// Issue anew when a certificate expires within this many days.
    #[serde(default = "default_renew_days")]
    pub renew_days: u32,
    /// Name → what to issue; templates reach each host's as `tls.<name>`.
    pub issue: BTreeMap<String, IssueSpec>,
}

fn default_valid_days() -> u32 {
    365
}

fn default_renew_days() -> u32 {
    30
}

/// The CA: generated (`common_name`), or the user's own (`cert_file` and
/// `key_file`, PEM; the key ECDSA P-256).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSpec {
    pub common_name: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// One certificate per host of `for`, valid for `names` and `ips`
/// (templates, rendered for that host).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueSpec {
    #[serde(rename = "for")]
    pub hosts: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub ips: Vec<String>,
}

/// A generated CA is valid this long, and renewed like the rest.
const CA_VALID_DAYS: u32 = 3650;

/// One certificate the run needs: issue `issue` for `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub issue: String,
    pub host: String,
    pub names: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl Wanted {
    fn label(&self) -> String {
        format!("{}/{}", self.issue, self.host)
    }
}

/// Where the CA comes from.
pub enum CaSource {
    Generate { common_name: String },
    Own { cert: PathBuf, key: PathBuf },
}

/// Why a certificate is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    NamesChanged,
    Expiring,
    CaChanged,
    Unreadable,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::NamesChanged => "its names or addresses changed",
            Reason::Expiring => "it expires soon",
            Reason::CaChanged => "the CA changed",
            Reason::Unreadable => "the stored one is unreadable",
        })
    }
}

/// How this run issues.
pub struct Issuing<'a> {
    pub file: &'a Path,
    /// Save what was issued (a run that applies; never a preview).
    pub persist: bool,
    pub seed: Seed,
    /// The start of validity of what is issued now.
    pub not_before: OffsetDateTime,
    pub now: OffsetDateTime,
    pub valid_days: u32,
    pub renew_days: u32,
}

/// The certificates of a run.
#[derive(Debug)]
pub struct Certificates {
    /// Each host's `tls` template value: `ca` (the CA certificate), and
    /// `{cert, key}` for each issue that covers the host.
    pub per_host: BTreeMap<String, Value>,
    /// What was (previewing: would be) issued, and why.
    pub issued: Vec<(String, Reason)>,
}

/// Load the stored certificates, issue what is missing or due, save when
/// `persist`, and register every PEM with `redactor`.
pub fn load(
    ca_source: &CaSource,
    wanted: &[Wanted],
    how: &Issuing,
    redactor: &Redactor,
) -> anyhow::Result<Certificates> {
    let mut stored = Stored::read(how.file)?;
    let before = stored.clone();
    let renew_at = how.now + Duration::days(how.renew_days.into());
    let mut issued = Vec::new();
    let ca = match ca_source {
        CaSource::Own { cert, key } => {
            stored.ca = None;
            own_ca(cert, key, how.now)?
        }
        CaSource::Generate { common_name } => {
            let kept = match stored.ca.as_ref() {
                None => Err(Reason::New),
                Some(pem) => usable_ca(pem, renew_at),
            };
            match kept {
                Ok(ca) => ca,
                Err(reason) => {
                    let (ca, pem) =
                        Ca::generate(common_name, &how.seed, how.not_before, CA_VALID_DAYS)?;
                    stored.ca = Some(pem);
                    issued.push(("ca".to_string(), reason));
                    ca
                }
            }
        }
    };
    for w in wanted {
        let label = w.label();
        let due = match stored.issued.get(&label) {
            None => Some(Reason::New),
            Some(pem) => due(pem, w, &ca.cert_pem, renew_at),
        };
        if let Some(reason) = due {
            let req = Request {
                names: w.names.clone(),
                ips: w.ips.clone(),
                not_before: how.not_before,
                valid_days: how.valid_days,
            };
            let pem = ca.issue(&req, &how.seed, &label)?;
            stored.issued.insert(label.clone(), pem);
            issued.push((label, reason));
        }
    }
    stored
        .issued
        .retain(|label, _| wanted.iter().any(|w| w.label() == *label));
    if how.persist && stored != before {
        stored.write(how.file)?;
    }
    if how.persist {
        write_ca_file(&ca_file(how.file), &ca.cert_pem)?;
    }
    for pem in stored.pems() {
        redactor.add(pem);
    }
    redactor.add(&ca.cert_pem);
    Ok(Certificates {
        per_host: per_host(&ca.cert_pem, wanted, &stored),
        issued,
    })
}

/// Where clients find the CA certificate: beside the certificates file,
/// `<name>.ca.pem` (`rabbit-ha.tls.yaml` → `rabbit-ha.tls.ca.pem`).
pub fn ca_file(file: &Path) -> PathBuf {
    file.with_extension("ca.pem")
}

/// The CA certificate for clients (public: mode 0644), when it changed;
/// never through a symlink (see [`state_files::write`]).
fn write_ca_file(path: &Path, pem: &str) -> anyhow::Result<()> {
    let unchanged = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
        && std::fs::read_to_string(path).is_ok_and(|old| old == pem);
    if unchanged {
        return Ok(());
    }
    state_files::write(path, pem.as_bytes(), Readers::Everyone)
}

/// The user's CA: a CA certificate, not expired, with its key.
fn own_ca(cert: &Path, key: &Path, now: OffsetDateTime) -> anyhow::Result<Ca> {
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let info =
        runner_tls::inspect(&cert_pem).map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    if !info.is_ca {
        anyhow::bail!(
            "{}: not a CA certificate (basicConstraints CA:TRUE)",
            cert.display()
        );
    }
    if info.not_after <= now {
        anyhow::bail!(
            "{}: the CA expired on {}",
            cert.display(),
            info.not_after.date()
        );
    }
    Ca::load(&cert_pem, &key_pem).map_err(|e| match e {
        runner_tls::TlsError::BadKey(_) => anyhow::anyhow!("{}: {e}", key.display()),
        other => anyhow::anyhow!("{} and {}: {other}", cert.display(), key.display()),
    })
}

/// A stored CA that can go on signing, or why not.
fn usable_ca(pem: &Issued, renew_at: OffsetDateTime) -> Result<Ca, Reason> {
    let info = runner_tls::inspect(&pem.cert_pem).map_err(|_| Reason::Unreadable)?;
    if info.not_after <= renew_at {
        return Err(Reason::Expiring);
    }
    Ca::load(&pem.cert_pem, &pem.key_pem).map_err(|_| Reason::Unreadable)
}

/// Why a stored certificate must be issued anew, if it must.
fn due(pem: &Issued, w: &Wanted, ca_pem: &str, renew_at: OffsetDateTime) -> Option<Reason> {
    let Ok(info) = runner_tls::inspect(&pem.cert_pem) else {
        return Some(Reason::Unreadable);
    };
    let key_fits = runner_tls::SigningKey::from_pem(&pem.key_pem)
        .is_ok_and(|k| k.public_bytes() == info.public_key);
    if !key_fits {
        return Some(Reason::Unreadable);
    }
    if !runner_tls::signed_by(&pem.cert_pem, ca_pem) {
        return Some(Reason::CaChanged);
    }
    if sorted(&info.names) != sorted(&w.names) || sorted(&info.ips) != sorted(&w.ips) {
        return Some(Reason::NamesChanged);
    }
    (info.not_after <= renew_at).then_some(Reason::Expiring)
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn per_host(ca_pem: &str, wanted: &[Wanted], stored: &Stored) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for w in wanted {
        let pem = &stored.issued[&w.label()];
        let tls = out
            .entry(w.host.clone())
            .or_insert_with(|| json!({ "ca": ca_pem }));
        tls[&w.issue] = json!({ "cert": pem.cert_pem, "key": pem.key_pem });
    }
    out
}

#[cfg(test)]
mod tests;

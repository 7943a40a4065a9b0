//! Observation helpers built on the raw imports.

use crate::{Action, actions, http_get, probe, read_file, sh_quote};

/// Run a probe and return its stdout when it exits 0, `None` otherwise.
pub fn probe_ok(command: &str) -> Result<Option<String>, String> {
    let out = probe(command)?;
    Ok((out.exit_code == 0).then_some(out.stdout))
}

/// The permission bits of `path` (`stat -c %a`), `None` when it is absent.
/// Needs the probe capability `stat -c %a {param}`.
pub fn file_mode(path: &str) -> Result<Option<u32>, String> {
    Ok(probe_ok(&format!("stat -c %a {}", sh_quote(path)))?
        .and_then(|s| u32::from_str_radix(s.trim(), 8).ok()))
}

/// What is at `path` (`stat`, not following a final symlink), `None`
/// when nothing is. Needs the probe `stat -c '%F:%a:%U:%G:%u:%g' -- {param}`
/// ([`runner_types::stat::STAT_PROBE`]).
pub fn path_stat(path: &str) -> Result<Option<crate::PathStat>, String> {
    let command = format!("{} {}", runner_types::stat::STAT_PROBE, sh_quote(path));
    match probe_ok(&command)? {
        None => Ok(None),
        Some(line) => crate::PathStat::parse(&line)
            .map(Some)
            .ok_or_else(|| format!("{path}: unexpected stat output {line:?}")),
    }
}

/// Where the symlink `path` points (`readlink -- {param}`), `None` when it
/// is not a symlink.
pub fn link_target(path: &str) -> Result<Option<String>, String> {
    Ok(probe_ok(&format!("readlink -- {}", sh_quote(path)))?
        .map(|t| t.strip_suffix('\n').unwrap_or(&t).to_string()))
}

/// The action that makes `path` hold `content` with `mode`, or `None` when
/// it already does. Needs read of `path` and the `stat` probe above.
pub fn ensure_file(path: &str, content: &[u8], mode: u32) -> Result<Option<Action>, String> {
    let current = read_file(path)?;
    let same_content = current.as_deref() == Some(content);
    if same_content && file_mode(path)? == Some(mode) {
        return Ok(None);
    }
    let mut action = actions::write_file(path, content, mode);
    action.summary = match (current, same_content) {
        (None, _) => format!("create {path}"),
        (Some(_), true) => format!("set mode {mode:o} on {path}"),
        (Some(_), false) => format!("update {path}"),
    };
    Ok(Some(action))
}

/// The `Authorization` header for HTTP basic authentication.
pub use runner_types::http::basic_auth;
/// One path segment of an API URL, percent-encoded (`/` is `%2F`).
pub use runner_types::http::percent_encode;

/// Why a GET gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// Nothing answered: the service does not run (yet), or its address
    /// cannot be reached. The runner's reason.
    NoAnswer { url: String, reason: String },
    /// It answered with a status that is not 2xx.
    Status { url: String, status: u16 },
    /// It answered 2xx, but the body is not the JSON expected.
    Body { url: String, reason: String },
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::NoAnswer { url, reason } => write!(f, "GET {url}: no answer: {reason}"),
            GetError::Status { url, status } => write!(f, "GET {url}: HTTP {status}"),
            GetError::Body { url, reason } => write!(f, "GET {url}: {reason}"),
        }
    }
}

impl From<GetError> for String {
    fn from(e: GetError) -> String {
        e.to_string()
    }
}

/// GET `url` and parse the JSON body. A GET the grant refuses stops the
/// plan whatever the plugin does with the error.
pub fn get_json(url: &str, headers: &[(String, String)]) -> Result<serde_json::Value, GetError> {
    let r = http_get(url, headers).map_err(|reason| GetError::NoAnswer {
        url: url.to_string(),
        reason,
    })?;
    if !(200..300).contains(&r.status) {
        return Err(GetError::Status {
            url: url.to_string(),
            status: r.status,
        });
    }
    serde_json::from_str(&r.body).map_err(|e| GetError::Body {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

//! Carrying out one planned action on a host.
//!
//! Commands leave a completion marker on the host (their exit code, in a
//! private directory, keyed by step, host and action), so that a run
//! resumed after the runner died can tell a command that finished — or is
//! still running — from one that never ran, and run none twice.

use std::time::{Duration, Instant};

use runner_transport::{Transport, TransportError, files};
use runner_types::{Action, ActionKind, CommandOutput, Probe, WaitUntil};

use sha2::{Digest, Sha256};

use crate::observer::{http_call, run_probe};
use crate::pool::TransportPool;

/// Why an action did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The host could not be reached at all: the host is `unreachable`.
    #[error("{0}")]
    Unreachable(String),
    /// The action ran, or was refused, and did not succeed.
    #[error("{0}")]
    Failed(String),
}

impl From<TransportError> for ActionError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unreachable { .. } => ActionError::Unreachable(e.to_string()),
            _ => ActionError::Failed(e.to_string()),
        }
    }
}

impl From<files::FileError> for ActionError {
    fn from(e: files::FileError) -> Self {
        match e {
            files::FileError::Transport(t) => t.into(),
            other => ActionError::Failed(other.to_string()),
        }
    }
}

impl ActionError {
    /// The same error with its text passed through `f` (redaction).
    pub fn map_text(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            ActionError::Unreachable(t) => ActionError::Unreachable(f(&t)),
            ActionError::Failed(t) => ActionError::Failed(f(&t)),
        }
    }
}

/// The marker directory and file stem of one action on one host.
pub fn marker(step: usize, host: &str, digest: &str) -> String {
    let key = hex::encode(&Sha256::digest(format!("{step}\0{host}\0{digest}"))[..12]);
    format!("\"${{TMPDIR:-/tmp}}/runner-actions-$(id -u)/{key}\"")
}

/// The command with its completion marker. Its output goes to a file
/// beside the marker, and it ignores SIGHUP and SIGPIPE: when the runner
/// dies, its SSH channel closes, and a command writing to it would die of
/// SIGPIPE half-way (a `reset` killed mid-way). So the command finishes,
/// its exit code lands in the marker, and only then is the output sent.
fn wrap(command: &str, marker: &str) -> String {
    format!(
        "trap '' HUP PIPE; m={marker}; d=\"$(dirname \"$m\")\"; mkdir -p -m 700 \"$d\"; \
         if [ -L \"$d\" ] || [ ! -O \"$d\" ]; then echo \"runner: $d is a symlink or not owned by $(id -un); refusing to use it\" >&2; exit 125; fi; \
         chmod 700 \"$d\"; rm -f \"$m.rc\"; echo $$ > \"$m.pid\"\n\
         ( {command}\n ) > \"$m.out\" 2>&1 < /dev/null; rc=$?; echo $rc > \"$m.rc\"; rm -f \"$m.pid\"; \
         cat \"$m.out\"; rm -f \"$m.out\"; exit $rc"
    )
}

/// For an action that was started by a run that died: its exit code if it
/// finished (waiting while it is still running), or `None` if it never
/// completed and must run again.
pub async fn interrupted_exit_code(
    t: &dyn Transport,
    marker: &str,
    timeout: Duration,
) -> Option<i32> {
    let script = format!(
        "m={marker}; if [ -f \"$m.rc\" ]; then rm -f \"$m.out\"; cat \"$m.rc\"; \
         elif [ -f \"$m.pid\" ] && kill -0 \"$(cat \"$m.pid\")\" 2>/dev/null; then echo running; \
         else echo gone; fi"
    );
    let start = Instant::now();
    loop {
        let out = t.run(&script, None, Duration::from_secs(30)).await.ok()?;
        let text = out.stdout_text();
        match text.trim() {
            "gone" => return None,
            "running" if start.elapsed() < timeout => {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            "running" => return None,
            code => return code.parse().ok(),
        }
    }
}

fn ownership<'a>(owner: &'a Option<String>, group: &'a Option<String>) -> files::Ownership<'a> {
    files::Ownership {
        owner: owner.as_deref(),
        group: group.as_deref(),
    }
}

/// Whether `code` counts as success for a `run` action.
/// `docker exec` that failed before the command started: runc's "OCI
/// runtime exec failed", exit 126 (seen under load: "read init-p:
/// connection reset by peer"). Nothing of the command ran.
fn never_started(out: &runner_transport::Output) -> bool {
    out.exit_code == 126
        && format!("{}{}", out.stdout_text(), out.stderr_text()).contains("OCI runtime exec failed")
}

pub fn run_ok(ok_codes: &[i32], code: i32) -> bool {
    ok_codes.contains(&code) || (ok_codes.is_empty() && code == 0)
}

/// Do `action` on the host behind `t` (a wait on several hosts reaches
/// them through `pool`). `Ok` carries a one-line detail. `marker` names
/// the completion marker of a `run` action.
pub async fn execute(
    t: &dyn Transport,
    pool: &TransportPool,
    action: &Action,
    marker: &str,
) -> Result<String, ActionError> {
    match &action.kind {
        ActionKind::WriteFile {
            path,
            content,
            mode,
            validate,
            owner,
            group,
        } => files::write(
            t,
            path,
            content,
            *mode,
            ownership(owner, group),
            validate.as_deref(),
        )
        .await
        .map(|_| format!("{} bytes, mode {mode:04o}", content.len()))
        .map_err(ActionError::from),
        ActionKind::RemoveFile { path } => files::remove(t, path)
            .await
            .map(|existed| if existed { "removed" } else { "was absent" }.to_string())
            .map_err(ActionError::from),
        ActionKind::EnsureDir {
            path,
            mode,
            owner,
            group,
        } => files::ensure_dir(t, path, *mode, ownership(owner, group))
            .await
            .map(|_| format!("directory, mode {mode:04o}"))
            .map_err(ActionError::from),
        ActionKind::Symlink {
            path,
            target,
            force,
        } => files::symlink(t, path, target, *force)
            .await
            .map(|_| format!("-> {target}"))
            .map_err(ActionError::from),
        ActionKind::RemoveDir { path, recurse } => files::remove_dir(t, path, *recurse)
            .await
            .map(|existed| if existed { "removed" } else { "was absent" }.to_string())
            .map_err(ActionError::from),
        ActionKind::Run {
            command,
            ok_codes,
            timeout_ms,
        } => {
            let timeout = Duration::from_millis(u64::from(*timeout_ms).max(1000));
            let mut out = t.run(&wrap(command, marker), None, timeout).await?;
            // Twice more when the container runtime failed to start the
            // command at all (it never ran, so running it is no repeat).
            for _ in 0..2 {
                if !never_started(&out) {
                    break;
                }
                tracing::warn!(command = %command, "the container runtime did not start it; again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                out = t.run(&wrap(command, marker), None, timeout).await?;
            }
            if run_ok(ok_codes, out.exit_code) {
                Ok(ran(&out))
            } else {
                Err(ActionError::Failed(format!(
                    "`{command}` exited {}: {}",
                    out.exit_code,
                    last_lines(&format!("{}{}", out.stdout_text(), out.stderr_text()))
                )))
            }
        }
        ActionKind::Http {
            method,
            url,
            headers,
            body,
        } => {
            let r = http_call(method, url, headers, body.as_deref())
                .await
                .map_err(ActionError::Failed)?;
            if (200..300).contains(&r.status) {
                Ok(format!("HTTP {}", r.status))
            } else {
                Err(ActionError::Failed(format!(
                    "{method} {url}: HTTP {}: {}",
                    r.status,
                    last_lines(&r.body)
                )))
            }
        }
        ActionKind::Wait(w) => wait_until(t, pool, w).await,
    }
}

/// Repeat `w.probe` until it answers as expected or `w.timeout_ms` passes.
/// Ends `Unreachable` when the last probe of this host could not reach it.
async fn wait_until(
    t: &dyn Transport,
    pool: &TransportPool,
    w: &WaitUntil,
) -> Result<String, ActionError> {
    let start = Instant::now();
    let timeout = Duration::from_millis(w.timeout_ms.into());
    let interval = Duration::from_millis(w.interval_ms.max(50).into());
    let contains = w.contains.as_deref();
    loop {
        let mut unreachable = false;
        let (matched, last) = match &w.probe {
            Probe::Command(c) => match run_probe(t, c).await {
                Ok(o) => (
                    output_matches(&o, contains),
                    format!("exit {}: {}", o.exit_code, last_lines(&o.stdout)),
                ),
                Err(e) => {
                    unreachable = matches!(e, TransportError::Unreachable { .. });
                    (false, e.to_string())
                }
            },
            Probe::HttpGet(u) => match http_call("GET", u, &[], None).await {
                Ok(r) => (
                    (200..300).contains(&r.status) && contains.is_none_or(|s| r.body.contains(s)),
                    format!("HTTP {}", r.status),
                ),
                Err(e) => (false, e),
            },
            Probe::HostsCommand {
                hosts: names,
                command,
                exactly,
            } => {
                let answers = probe_hosts(pool, names, command, contains).await;
                let matching: Vec<&str> = answers
                    .iter()
                    .filter(|(_, m, _)| *m)
                    .map(|(h, _, _)| h.as_str())
                    .collect();
                let unreachable: Vec<String> = answers
                    .iter()
                    .filter_map(|(h, _, e)| e.as_ref().map(|e| format!("{h}: {e}")))
                    .collect();
                (
                    matching.len() == *exactly as usize,
                    format!(
                        "{} of {} match{}{}",
                        matching.len(),
                        names.len(),
                        if matching.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", matching.join(", "))
                        },
                        if unreachable.is_empty() {
                            String::new()
                        } else {
                            format!("; {}", unreachable.join("; "))
                        }
                    ),
                )
            }
        };
        if matched {
            return Ok(format!("after {:.1}s", start.elapsed().as_secs_f64()));
        }
        if start.elapsed() >= timeout {
            let text = format!("still not so after {timeout:?} (last: {last})");
            return Err(if unreachable {
                ActionError::Unreachable(text)
            } else {
                ActionError::Failed(text)
            });
        }
        tokio::time::sleep(interval).await;
    }
}

fn output_matches(o: &CommandOutput, contains: Option<&str>) -> bool {
    o.exit_code == 0 && contains.is_none_or(|s| o.stdout.contains(s))
}

/// `command` on each of `names` at once: (host, matches, error if it could not be asked).
async fn probe_hosts(
    pool: &TransportPool,
    names: &[String],
    command: &str,
    contains: Option<&str>,
) -> Vec<(String, bool, Option<String>)> {
    let mut tasks = Vec::new();
    for name in names {
        let Some(t) = pool.get(name) else {
            tasks.push((name.clone(), None));
            continue;
        };
        let command = command.to_string();
        let task = tokio::spawn(async move {
            run_probe(t.as_ref(), &command)
                .await
                .map_err(|e| e.to_string())
        });
        tasks.push((name.clone(), Some(task)));
    }
    let mut out = Vec::new();
    for (name, task) in tasks {
        let answer = match task {
            None => Err("not in the inventory".to_string()),
            Some(task) => task.await.unwrap_or_else(|e| Err(e.to_string())),
        };
        out.push(match answer {
            Ok(o) => (name, output_matches(&o, contains), None),
            Err(e) => (name, false, Some(e)),
        });
    }
    out
}

/// What a command that succeeded said: its exit code and the last lines
/// of its output, stdout and stderr interleaved as written ([`wrap`] keeps
/// them in one file) — for `-v` and the journal.
fn ran(out: &runner_transport::Output) -> String {
    let text = format!("{}{}", out.stdout_text(), out.stderr_text());
    match text.trim() {
        "" => format!("exit {}", out.exit_code),
        _ => format!("exit {}; output: {}", out.exit_code, last_lines(&text)),
    }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    tail.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i32, text: &str) -> runner_transport::Output {
        runner_transport::Output {
            exit_code: code,
            stdout: text.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn only_a_command_the_runtime_never_started_is_run_again() {
        let oci = "OCI runtime exec failed: exec failed: unable to start container process: \
                   waiting for init preliminary setup: read init-p: connection reset by peer: unknown";
        assert!(never_started(&out(126, oci)));
        // The command's own 126 (not executable), or any other failure.
        assert!(!never_started(&out(126, "sh: ./x: Permission denied")));
        assert!(!never_started(&out(1, oci)));
        assert!(!never_started(&out(0, "")));
    }
}

//! Process limits the runner raises for itself at start. Each SSH host
//! costs the runner a few descriptors while a command runs on it (the mux
//! socket and the command's pipes), so a wide run needs more than the
//! usual soft limit of 1024 open files; the soft limit is raised to the
//! hard one. What it cannot raise is in docs/usage.md.

use rlimit::Resource;

/// Raise the soft open-file limit to the hard limit, and say so in the log.
pub fn raise_open_files() {
    let before = match Resource::NOFILE.get() {
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::debug!(error = %e, "could not read the open-file limit");
            return;
        }
    };
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) if now > before => {
            tracing::debug!(from = before, to = now, "raised the open-file limit")
        }
        Ok(now) => tracing::debug!(
            limit = now,
            "the open-file limit is already at its hard limit"
        ),
        Err(e) => {
            tracing::debug!(limit = before, error = %e, "could not raise the open-file limit")
        }
    }
}

//! Builders for the actions a plan returns.

use crate::{
    Action, ActionKind, EnsureDir, HostsCommand, HttpRequest, Probe, RemoveDir, RunCommand,
    Symlink, WaitUntil, WriteFile,
};

/// Write `content` to `path` with `mode` (e.g. `0o644`).
pub fn write_file(path: &str, content: impl Into<Vec<u8>>, mode: u32) -> Action {
    Action {
        summary: format!("write {path}"),
        kind: ActionKind::WriteFile(WriteFile {
            path: path.to_string(),
            content: content.into(),
            mode,
            validate: None,
            owner: None,
            group: None,
        }),
    }
}

/// Give a `write-file` or `ensure-dir` action an owner and a group (names
/// or numeric ids); `None` leaves that one as the host makes it.
pub fn owned(mut action: Action, owner: Option<&str>, group: Option<&str>) -> Action {
    let (o, g) = match &mut action.kind {
        ActionKind::WriteFile(w) => (&mut w.owner, &mut w.group),
        ActionKind::EnsureDir(d) => (&mut d.owner, &mut d.group),
        _ => return action,
    };
    *o = owner.map(str::to_string);
    *g = group.map(str::to_string);
    action
}

/// A directory at `path` with `mode`, created when missing (its parent
/// must exist).
pub fn ensure_dir(path: &str, mode: u32) -> Action {
    Action {
        summary: format!("directory {path}"),
        kind: ActionKind::EnsureDir(EnsureDir {
            path: path.to_string(),
            mode,
            owner: None,
            group: None,
        }),
    }
}

/// A symlink at `path` to `target`; `force` replaces a regular file or an
/// empty directory, otherwise only an existing link is replaced.
pub fn symlink(path: &str, target: &str, force: bool) -> Action {
    Action {
        summary: format!("link {path} -> {target}"),
        kind: ActionKind::Symlink(Symlink {
            path: path.to_string(),
            target: target.to_string(),
            force,
        }),
    }
}

/// Remove the directory `path`: only when empty unless `recurse`.
pub fn remove_dir(path: &str, recurse: bool) -> Action {
    Action {
        summary: format!("remove directory {path}"),
        kind: ActionKind::RemoveDir(RemoveDir {
            path: path.to_string(),
            recurse,
        }),
    }
}

/// Like [`write_file`], but `validate` (with `{}` for the new file) must
/// accept the content before it replaces `path`.
pub fn write_validated(
    path: &str,
    content: impl Into<Vec<u8>>,
    mode: u32,
    validate: &str,
) -> Action {
    let mut action = write_file(path, content, mode);
    if let ActionKind::WriteFile(w) = &mut action.kind {
        w.validate = Some(validate.to_string());
    }
    action
}

pub fn remove_file(path: &str) -> Action {
    Action {
        summary: format!("remove {path}"),
        kind: ActionKind::RemoveFile(path.to_string()),
    }
}

/// Run `command` on the host (through `sh -c`), 5 minutes at most.
pub fn run(command: &str) -> Action {
    run_with(command, &[], 300_000)
}

pub fn run_with(command: &str, ok_codes: &[i32], timeout_ms: u32) -> Action {
    Action {
        summary: format!("run {command}"),
        kind: ActionKind::Run(RunCommand {
            command: command.to_string(),
            ok_codes: ok_codes.to_vec(),
            timeout_ms,
        }),
    }
}

pub fn http(
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<String>,
) -> Action {
    Action {
        summary: format!("{method} {url}"),
        kind: ActionKind::Http(HttpRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers,
            body,
        }),
    }
}

/// Wait until `command` exits 0 (and prints `contains`, when given).
pub fn wait_command(command: &str, contains: Option<&str>, timeout_ms: u32) -> Action {
    Action {
        summary: format!("wait until {command}"),
        kind: ActionKind::Wait(WaitUntil {
            probe: Probe::Command(command.to_string()),
            contains: contains.map(str::to_string),
            timeout_ms,
            interval_ms: 500,
        }),
    }
}

/// Wait until exactly `exactly` of `hosts` (inventory names, declared in
/// the plugin's `peers`) match: `command` exits 0 there and prints
/// `contains`, when given. E.g. exactly one balancer holds a virtual IP.
pub fn wait_hosts(
    hosts: &[String],
    command: &str,
    contains: Option<&str>,
    exactly: u32,
    timeout_ms: u32,
) -> Action {
    Action {
        summary: format!(
            "wait until exactly {exactly} of {} match `{command}`",
            hosts.join(", ")
        ),
        kind: ActionKind::Wait(WaitUntil {
            probe: Probe::HostsCommand(HostsCommand {
                hosts: hosts.to_vec(),
                command: command.to_string(),
                exactly,
            }),
            contains: contains.map(str::to_string),
            timeout_ms,
            interval_ms: 250,
        }),
    }
}

/// Replace the generated summary with one a person reads more easily.
pub fn described(mut action: Action, summary: impl Into<String>) -> Action {
    action.summary = summary.into();
    action
}

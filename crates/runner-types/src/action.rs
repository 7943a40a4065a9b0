//! Actions a plugin plans and the runner executes, and probe answers.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Output of a command run on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// A request repeated by [`WaitUntil`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    Command(String),
    HttpGet(String),
    /// A command on each of `hosts` (inventory names); matches when exactly
    /// `exactly` of them exit 0 (and print `contains`, when set).
    HostsCommand {
        hosts: Vec<String>,
        command: String,
        exactly: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitUntil {
    pub probe: Probe,
    pub contains: Option<String>,
    pub timeout_ms: u32,
    pub interval_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ActionKind {
    WriteFile {
        path: String,
        /// File content. Serialized as UTF-8 text when it is text, else base64.
        #[serde(with = "content")]
        content: Vec<u8>,
        #[serde(with = "crate::mode")]
        mode: u32,
        validate: Option<String>,
        /// Owner set before the file replaces `path` (name or numeric id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// Group set before the file replaces `path` (name or numeric id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    RemoveFile {
        path: String,
    },
    /// A directory with this mode (and owner, group); its parent must exist.
    EnsureDir {
        path: String,
        #[serde(with = "crate::mode")]
        mode: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// A symbolic link at `path` to `target`; `force` replaces a regular
    /// file or an empty directory.
    Symlink {
        path: String,
        target: String,
        force: bool,
    },
    /// A directory removed, with its content only when `recurse`.
    RemoveDir {
        path: String,
        recurse: bool,
    },
    Run {
        command: String,
        ok_codes: Vec<i32>,
        timeout_ms: u32,
    },
    Http {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<String>,
    },
    Wait(WaitUntil),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub summary: String,
    #[serde(flatten)]
    pub kind: ActionKind,
}

impl Action {
    /// What the action really does, in the runner's words (the summary is
    /// the plugin's): the command, the request, the file and its mode. A
    /// preview shows both, so a plugin cannot hide a command behind a
    /// harmless summary.
    pub fn literal(&self) -> String {
        match &self.kind {
            ActionKind::WriteFile {
                path,
                mode,
                validate,
                content,
                owner,
                group,
            } => {
                let mut s = format!(
                    "write {path} (mode {mode:04o}{}, {} bytes)",
                    ownership(owner, group),
                    content.len()
                );
                if let Some(v) = validate {
                    s.push_str(&format!(", validated by $ {v}"));
                }
                s
            }
            ActionKind::RemoveFile { path } => format!("remove {path}"),
            ActionKind::EnsureDir {
                path,
                mode,
                owner,
                group,
            } => format!(
                "directory {path} (mode {mode:04o}{})",
                ownership(owner, group)
            ),
            ActionKind::Symlink {
                path,
                target,
                force,
            } => {
                let force = if *force { ", replacing a file" } else { "" };
                format!("symlink {path} -> {target}{force}")
            }
            ActionKind::RemoveDir { path, recurse } => match recurse {
                true => format!("remove directory {path} and everything in it"),
                false => format!("remove empty directory {path}"),
            },
            ActionKind::Run { command, .. } => format!("$ {command}"),
            ActionKind::Http { method, url, .. } => format!("{method} {url}"),
            ActionKind::Wait(w) => {
                let probe = match &w.probe {
                    Probe::Command(c) => format!("$ {c}"),
                    Probe::HttpGet(u) => format!("GET {u}"),
                    Probe::HostsCommand {
                        hosts,
                        command,
                        exactly,
                    } => format!("$ {command} (exactly {exactly} of {})", hosts.join(", ")),
                };
                match &w.contains {
                    Some(c) => format!("until {probe} prints {c:?}"),
                    None => format!("until {probe}"),
                }
            }
        }
    }

    /// Whether executing this action can change the host. Waits only look.
    pub fn has_side_effect(&self) -> bool {
        !matches!(self.kind, ActionKind::Wait(_))
    }

    /// A stable digest of the full (unredacted) action. Two plans agree when
    /// their digests do; the plan file and journal keep only this and the
    /// redacted form.
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("actions always serialize");
        hex::encode(Sha256::digest(bytes))
    }
}

/// `, owner u, group g` for the ownership a file or directory is given.
fn ownership(owner: &Option<String>, group: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(o) = owner {
        s.push_str(&format!(", owner {o}"));
    }
    if let Some(g) = group {
        s.push_str(&format!(", group {g}"));
    }
    s
}

/// The level of a plugin's `log` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
}

/// Where one line of a plugin's output came from: its `log` import, at a
/// level, or what it printed (Rust's `println!` and `eprintln!`, Python's
/// `print`). In the journal: `"stream": "log", "level": "info"`, or
/// `"stream": "stdout"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stream", rename_all = "snake_case")]
pub enum OutputStream {
    Log { level: LogLevel },
    Stdout,
    Stderr,
}

impl OutputStream {
    /// How `-v` shows where a line came from: printed lines are prefixed
    /// with their stream, log lines are not.
    pub fn prefix(self) -> &'static str {
        match self {
            OutputStream::Log { .. } => "",
            OutputStream::Stdout => "stdout: ",
            OutputStream::Stderr => "stderr: ",
        }
    }
}

/// What one plan call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub replan: bool,
    /// The rest cannot be known until earlier changes apply: the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

/// File contents as text when they are UTF-8, otherwise as `base64:...`.
mod content {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) if !text.starts_with("base64:") => s.serialize_str(text),
            _ => s.serialize_str(&format!("base64:{}", STANDARD.encode(bytes))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        match text.strip_prefix("base64:") {
            Some(b64) => STANDARD.decode(b64).map_err(serde::de::Error::custom),
            None => Ok(text.into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_content_round_trips_through_json() {
        let action = Action {
            summary: "write".into(),
            kind: ActionKind::WriteFile {
                path: "/x".into(),
                content: vec![0, 159, 146, 150],
                mode: 0o600,
                validate: None,
                owner: None,
                group: Some("adm".into()),
            },
        };
        let json = serde_json::to_string(&action).unwrap();
        assert!(json.contains("base64:"));
        assert!(json.contains(r#""mode":"0600""#), "{json}");
        let back: Action = serde_json::from_str(&json).unwrap();
        assert_eq!(back, action);
        assert_eq!(back.digest(), action.digest());
    }

    #[test]
    fn digest_changes_with_content() {
        let a = Action {
            summary: "s".into(),
            kind: ActionKind::RemoveFile { path: "/a".into() },
        };
        let mut b = a.clone();
        b.kind = ActionKind::RemoveFile { path: "/b".into() };
        assert_ne!(a.digest(), b.digest());
    }
}

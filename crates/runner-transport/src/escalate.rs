//! Privilege escalation (Ansible's "become"): a [`Transport`] that runs
//! every command of another one as a different user, through `sudo` or
//! `su`, non-interactively. A password is never sent: `sudo -n` fails at
//! once when it would ask, and that failure is named for what it is.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use runner_types::shell::ShellError;

use crate::{Output, Transport, TransportError, quote};

/// How to become another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Sudo,
    Su,
}

impl Method {
    pub fn parse(name: &str) -> Option<Method> {
        match name {
            "sudo" => Some(Method::Sudo),
            "su" => Some(Method::Su),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Sudo => "sudo",
            Method::Su => "su",
        })
    }
}

/// Run as `user`, through `method`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Escalation {
    pub method: Method,
    pub user: String,
}

impl fmt::Display for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (through {})", self.user, self.method)
    }
}

impl Escalation {
    /// `command` (a `sh -c` script) wrapped to run as the user. stdin
    /// passes through to the script. A NUL byte is refused.
    pub fn wrap(&self, command: &str) -> Result<String, ShellError> {
        let (user, script) = (quote(&self.user)?, quote(command)?);
        Ok(match self.method {
            Method::Sudo => format!("sudo -n -H -u {user} -- /bin/sh -c {script}"),
            Method::Su => format!("su -s /bin/sh -c {script} {user}"),
        })
    }

    /// What a failed wrapped command means when the escalation itself
    /// failed (no sudo, a password needed, an unknown user); `None` when
    /// the command ran.
    fn refused(&self, out: &Output) -> Option<String> {
        let err = out.stderr_text();
        let first = err.lines().next().unwrap_or_default();
        let tool = self.method.to_string();
        let failed_to_escalate = (out.exit_code == 127
            && err.contains(&format!("{tool}: not found")))
            || (self.method == Method::Sudo
                && out.exit_code == 1
                && first.starts_with("sudo: ")
                && !first.contains("/bin/sh"))
            || (self.method == Method::Su
                && out.exit_code == 1
                && (first.starts_with("su: ") || first.starts_with("No passwd entry")));
        failed_to_escalate.then(|| {
            format!(
                "could not become {} through {}: {} (runner never sends a password: the login user needs {} without one, e.g. NOPASSWD in sudoers, or log in as root for su)",
                self.user,
                self.method,
                first.trim(),
                self.method
            )
        })
    }
}

/// Every command of `inner`, run as another user.
pub struct Escalated {
    inner: Arc<dyn Transport>,
    escalation: Escalation,
}

impl Escalated {
    pub fn new(inner: Arc<dyn Transport>, escalation: Escalation) -> Self {
        Escalated { inner, escalation }
    }
}

#[async_trait::async_trait]
impl Transport for Escalated {
    fn host(&self) -> &str {
        self.inner.host()
    }

    async fn run(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, TransportError> {
        let wrapped = self.wrap(command)?;
        let out = self.inner.run(&wrapped, stdin, timeout).await?;
        self.ran(out)
    }

    async fn run_capped(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: usize,
    ) -> Result<Output, TransportError> {
        let wrapped = self.wrap(command)?;
        let out = self.inner.run_capped(&wrapped, stdin, timeout, cap).await?;
        self.ran(out)
    }
}

impl Escalated {
    fn wrap(&self, command: &str) -> Result<String, TransportError> {
        self.escalation
            .wrap(command)
            .map_err(|e| TransportError::Failed {
                host: self.host().to_string(),
                reason: format!("a command to run as {}: {e}", self.escalation),
            })
    }

    /// The command's output, or why the escalation itself failed.
    fn ran(&self, out: Output) -> Result<Output, TransportError> {
        match self.escalation.refused(&out) {
            Some(reason) => Err(TransportError::Failed {
                host: self.host().to_string(),
                reason,
            }),
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(method: Method) -> Escalation {
        Escalation {
            method,
            user: "nobody".into(),
        }
    }

    #[test]
    fn wraps_the_whole_script_as_one_quoted_word() {
        assert_eq!(
            esc(Method::Sudo).wrap("id -un; echo 'a b'").unwrap(),
            r"sudo -n -H -u nobody -- /bin/sh -c 'id -un; echo '\''a b'\'''"
        );
        assert_eq!(
            esc(Method::Su).wrap("id -un\nls").unwrap(),
            "su -s /bin/sh -c 'id -un\nls' nobody"
        );
        assert!(esc(Method::Su).wrap("a\0b").is_err());
    }

    fn out(code: i32, stderr: &str) -> Output {
        Output {
            exit_code: code,
            stdout: vec![],
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_refused_escalation_is_told_from_a_failed_command() {
        let sudo = esc(Method::Sudo);
        let why = sudo
            .refused(&out(1, "sudo: a password is required\n"))
            .expect("refused");
        assert!(why.contains("could not become nobody through sudo: sudo: a password is required"));
        assert!(
            sudo.refused(&out(127, "sh: 1: sudo: not found\n"))
                .is_some()
        );
        assert!(sudo.refused(&out(1, "grep: nothing\n")).is_none());
        assert!(
            sudo.refused(&out(127, "/bin/sh: 1: foo: not found\n"))
                .is_none()
        );
        let su = esc(Method::Su);
        assert!(su.refused(&out(1, "su: user nobodyx does not exist or the user entry does not contain all the required fields\n")).is_some());
        assert!(su.refused(&out(1, "")).is_none());
    }
}

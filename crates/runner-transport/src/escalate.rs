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

/// Run as `user`, through `method`. Made with [`Escalation::new`], which
/// checks the user; [`Escalation::wrap`] checks it again, so no value, however
/// it was made, reaches sudo or su as an option.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Escalation {
    pub method: Method,
    /// A user name, or a numeric id (through sudo only).
    pub user: String,
}

/// Why a become user is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BecomeError {
    #[error(
        "become_user {0:?} is neither a user name (letters, digits, '_', '.' and '-', not first; 32 at most) nor a numeric id"
    )]
    NotAUser(String),
    #[error(
        "become_user {0:?} is a numeric id, which su does not take: give the user's name, or become through sudo"
    )]
    IdThroughSu(String),
    #[error(transparent)]
    Shell(#[from] ShellError),
}

impl fmt::Display for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (through {})", self.who(), self.method)
    }
}

impl Escalation {
    /// Become `user` through `method`: a name as for an owner
    /// ([`runner_types::owner::check`]: never empty, never starting with
    /// `-`, nothing a shell or an option parser reads) or a numeric id,
    /// which only sudo takes.
    pub fn new(method: Method, user: &str) -> Result<Escalation, BecomeError> {
        let e = Escalation {
            method,
            user: user.to_string(),
        };
        e.check()?;
        Ok(e)
    }

    fn check(&self) -> Result<(), BecomeError> {
        if runner_types::owner::check(&self.user).is_err() {
            return Err(BecomeError::NotAUser(
                self.user.escape_default().to_string(),
            ));
        }
        if self.method == Method::Su && self.id().is_some() {
            return Err(BecomeError::IdThroughSu(self.user.clone()));
        }
        Ok(())
    }

    /// The user as the host knows it, for messages: a numeric id says so,
    /// and id 0 is root, however it was written.
    pub fn who(&self) -> String {
        match self.id() {
            Some(0) => "root (uid 0)".to_string(),
            Some(id) => format!("uid {id}"),
            None => self.user.clone(),
        }
    }

    /// The user as a numeric id, when it is one.
    fn id(&self) -> Option<u32> {
        self.user
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| self.user.parse().ok())
            .flatten()
    }

    /// `command` (a `sh -c` script) wrapped to run as the user. stdin
    /// passes through to the script. The user comes after `--` (sudo's
    /// `-u` takes a numeric id as `#N`); a NUL byte is refused.
    pub fn wrap(&self, command: &str) -> Result<String, BecomeError> {
        self.check()?;
        let script = quote(command)?;
        Ok(match (self.method, self.id()) {
            (Method::Sudo, Some(id)) => {
                format!("sudo -n -H -u '#{id}' -- /bin/sh -c {script}")
            }
            (Method::Sudo, None) => {
                let user = quote(&self.user)?;
                format!("sudo -n -H -u {user} -- /bin/sh -c {script}")
            }
            (Method::Su, _) => {
                let user = quote(&self.user)?;
                format!("su -s /bin/sh -c {script} -- {user}")
            }
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
                self.who(),
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
            "su -s /bin/sh -c 'id -un\nls' -- nobody"
        );
        assert!(esc(Method::Su).wrap("a\0b").is_err());
    }

    #[test]
    fn no_become_user_can_be_read_as_an_option() {
        for method in [Method::Sudo, Method::Su] {
            for bad in [
                "--command=touch /tmp/x",
                "-c id",
                "-",
                "-l",
                "#0",
                "root:root",
                "a b",
                "$(id)",
                "",
                &"x".repeat(33),
            ] {
                assert!(
                    matches!(Escalation::new(method, bad), Err(BecomeError::NotAUser(_))),
                    "{method} {bad:?}"
                );
                // However it was made, it is not wrapped.
                let made = Escalation {
                    method,
                    user: bad.to_string(),
                };
                assert!(made.wrap("id").is_err(), "{method} {bad:?}");
            }
        }
        let postgres = Escalation::new(Method::Su, "postgres").unwrap();
        assert_eq!(
            postgres.wrap("id").unwrap(),
            "su -s /bin/sh -c id -- postgres"
        );
    }

    #[test]
    fn a_numeric_id_goes_to_sudo_as_one_and_is_shown_as_who_it_is() {
        let root = Escalation::new(Method::Sudo, "0").unwrap();
        assert_eq!(
            root.wrap("id").unwrap(),
            "sudo -n -H -u '#0' -- /bin/sh -c id"
        );
        assert_eq!(root.to_string(), "root (uid 0) (through sudo)");
        let nobody = Escalation::new(Method::Sudo, "65534").unwrap();
        assert_eq!(nobody.to_string(), "uid 65534 (through sudo)");
        assert!(matches!(
            Escalation::new(Method::Su, "0"),
            Err(BecomeError::IdThroughSu(_))
        ));
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

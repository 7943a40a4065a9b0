//! How the runner reaches a host.
//!
//! A [`Transport`] runs a shell command on a host, optionally feeding it
//! stdin, under a timeout. Everything else — reading, atomically writing
//! and removing files — is built once on top of that in [`files`], so the
//! local and SSH transports behave the same byte for byte. An answer the
//! runner must keep small ([`Transport::run_capped`]) is read as it comes
//! and cut at its cap ([`capture`]).

mod capture;
pub mod escalate;
pub mod files;
pub mod http;
mod local;
mod ssh;

use std::time::Duration;

pub use local::LocalTransport;
pub use ssh::{SshTarget, SshTransport};

/// Raw result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn to_command_output(&self) -> runner_types::CommandOutput {
        runner_types::CommandOutput {
            exit_code: self.exit_code,
            stdout: self.stdout_text(),
            stderr: self.stderr_text(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The host cannot be reached at all (connection, authentication,
    /// host key). The run reports the host `unreachable`.
    #[error("{host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("command on {host} timed out after {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("{host}: {reason}")]
    Failed { host: String, reason: String },
    /// stdout and stderr together passed the caller's cap: the command was
    /// stopped and what it printed dropped.
    #[error(
        "{host}: the command printed more than {} MiB (stdout and stderr together), the most one answer may hold; it was stopped",
        cap >> 20
    )]
    OutputTooLarge { host: String, cap: usize },
}

#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// The host's name for messages.
    fn host(&self) -> &str;

    /// Run `command` with `sh -c` on the host.
    async fn run(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, TransportError>;

    /// [`Transport::run`] for an answer that must stay small (a probe):
    /// once stdout and stderr together pass `cap` bytes, reading stops, the
    /// command is ended and [`TransportError::OutputTooLarge`] returned.
    /// The local and SSH transports read as the output comes; this default,
    /// for stand-ins that hold no real host, checks after `run`.
    async fn run_capped(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: usize,
    ) -> Result<Output, TransportError> {
        let out = self.run(command, stdin, timeout).await?;
        if capture::Cap::Bytes(cap).passed_by(out.stdout.len() + out.stderr.len()) {
            return Err(TransportError::OutputTooLarge {
                host: self.host().to_string(),
                cap,
            });
        }
        Ok(out)
    }
}

/// Quote one word for a POSIX shell; a word with a control character is
/// refused, never altered (see [`runner_types::shell::quote`]).
pub use runner_types::shell::quote;

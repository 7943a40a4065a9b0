//! The `ssh` transport: the system OpenSSH client through the `openssh`
//! crate, one multiplexed master per host per run, host keys checked
//! strictly against known_hosts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::capture::{self, Cap, Stopped};
use crate::{Output, Transport, TransportError, quote};

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// Inventory name, for messages.
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub key: Option<PathBuf>,
    /// A known_hosts file to use instead of the user's.
    pub known_hosts: Option<PathBuf>,
    pub connect_timeout: Duration,
}

pub struct SshTransport {
    target: SshTarget,
    session: Mutex<Option<Arc<Session>>>,
}

/// How long an idle master lives on its own: long enough for any pause
/// between steps, short enough that a killed runner leaves nothing behind
/// for long. A master that exited anyway is reopened on the next command.
const MASTER_IDLE_S: usize = 600;

impl SshTransport {
    /// A transport that connects on first use.
    pub fn new(target: SshTarget) -> Self {
        SshTransport {
            target,
            session: Mutex::new(None),
        }
    }

    /// The open master, connecting when there is none.
    pub async fn connect(&self) -> Result<Arc<Session>, TransportError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let session = Arc::new(self.open().await?);
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Forget a master that stopped answering, so the next command reopens it.
    async fn reset(&self, dead: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, dead)) {
            *slot = None;
        }
    }

    async fn open(&self) -> Result<Session, TransportError> {
        let t = &self.target;
        let mut b = SessionBuilder::default();
        b.known_hosts_check(KnownHosts::Strict)
            .connect_timeout(t.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            // An orphaned master (the runner was killed) exits on its own.
            .control_persist(ControlPersist::IdleFor(
                MASTER_IDLE_S.try_into().expect("non-zero"),
            ))
            .control_directory(std::env::temp_dir());
        if let Some(u) = &t.user {
            b.user(u.clone());
        }
        if let Some(p) = t.port {
            b.port(p);
        }
        if let Some(k) = &t.key {
            b.keyfile(k);
        }
        if let Some(k) = &t.known_hosts {
            b.user_known_hosts_file(k);
        }
        b.connect_mux(&t.address)
            .await
            .map_err(|e| TransportError::Unreachable {
                host: t.name.clone(),
                reason: describe_ssh_error(&e),
            })
    }
}

/// openssh's errors nest the ssh client's own words; bring them up.
fn describe_ssh_error(e: &openssh::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text = format!("{text}: {s_text}");
        }
        source = s.source();
    }
    text.trim().replace('\n', " ")
}

#[async_trait::async_trait]
impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.target.name
    }

    /// (The command is not in the span: it may hold a secret; the engine
    /// logs it redacted.)
    #[tracing::instrument(level = "debug", name = "ssh", skip_all, fields(host = %self.target.name))]
    async fn run(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, TransportError> {
        self.exec(command, stdin, timeout, Cap::None).await
    }

    #[tracing::instrument(level = "debug", name = "ssh", skip_all, fields(host = %self.target.name))]
    async fn run_capped(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: usize,
    ) -> Result<Output, TransportError> {
        self.exec(command, stdin, timeout, Cap::Bytes(cap)).await
    }
}

impl SshTransport {
    /// The command on the open master; reopened once when it is gone.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: Cap,
    ) -> Result<Output, TransportError> {
        let session = self.connect().await?;
        match self.run_on(&session, command, stdin, timeout, cap).await {
            Err(RunError::MasterGone(reason)) => {
                // The master exited (idle, or the host restarted): reopen
                // once. The command had not started, so this repeats nothing.
                self.reset(&session).await;
                let session = self.connect().await?;
                match self.run_on(&session, command, stdin, timeout, cap).await {
                    Err(RunError::MasterGone(_)) => Err(TransportError::Unreachable {
                        host: self.target.name.clone(),
                        reason,
                    }),
                    Err(RunError::Other(e)) => Err(e),
                    Ok(o) => Ok(o),
                }
            }
            Err(RunError::Other(e)) => Err(e),
            Ok(o) => Ok(o),
        }
    }
}

enum RunError {
    /// The command could not even start: the mux master is gone.
    MasterGone(String),
    Other(TransportError),
}

impl SshTransport {
    async fn run_on(
        &self,
        session: &Session,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: Cap,
    ) -> Result<Output, RunError> {
        let host = self.target.name.clone();
        // The remote `timeout` stops the command on the host too; the local
        // one (a little longer) covers a connection that hangs.
        let secs = timeout.as_secs().max(1);
        let quoted = quote(command).map_err(|e| {
            RunError::Other(TransportError::Failed {
                host: host.clone(),
                reason: format!("command refused: {e}"),
            })
        })?;
        let remote = format!("timeout -k 5 {secs} sh -c {quoted}");
        let failed = |e: openssh::Error| TransportError::Failed {
            host: host.clone(),
            reason: describe_ssh_error(&e),
        };
        let run = async {
            let mut cmd = session.raw_command(&remote);
            cmd.stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            let mut child = cmd
                .spawn()
                .await
                .map_err(|e| RunError::MasterGone(describe_ssh_error(&e)))?;
            if let (Some(data), Some(mut pipe)) = (stdin, child.stdin().take()) {
                let _ = pipe.write_all(data).await;
                let _ = pipe.shutdown().await;
            }
            let stdout = child.stdout().take().expect("stdout is piped");
            let stderr = child.stderr().take().expect("stderr is piped");
            // Past the cap, returning drops the child and its pipes: the
            // channel closes, and the command's next write ends it (the
            // remote `timeout` ends one that stops writing).
            let (stdout, stderr) = match capture::read_both(stdout, stderr, cap).await {
                Ok(both) => both,
                Err(Stopped::TooLarge) => {
                    return Err(RunError::Other(TransportError::OutputTooLarge {
                        host: host.clone(),
                        cap: cap.bytes(),
                    }));
                }
                Err(Stopped::Io(e)) => {
                    return Err(RunError::Other(TransportError::Failed {
                        host: host.clone(),
                        reason: e.to_string(),
                    }));
                }
            };
            let status = child.wait().await.map_err(|e| RunError::Other(failed(e)))?;
            Ok((status, stdout, stderr))
        };
        let (status, stdout, stderr) = tokio::time::timeout(timeout + Duration::from_secs(10), run)
            .await
            .map_err(|_| {
                RunError::Other(TransportError::Timeout {
                    host: host.clone(),
                    after: timeout,
                })
            })??;
        let exit_code = status.code().unwrap_or(255);
        if exit_code == 124 {
            return Err(RunError::Other(TransportError::Timeout {
                host,
                after: timeout,
            }));
        }
        Ok(Output {
            exit_code,
            stdout,
            stderr,
        })
    }
}

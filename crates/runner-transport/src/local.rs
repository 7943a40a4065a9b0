//! The `local` transport: commands run on this machine.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::capture::{self, Cap, Stopped};
use crate::{Output, Transport, TransportError};

pub struct LocalTransport {
    name: String,
}

impl LocalTransport {
    pub fn new(name: &str) -> Self {
        LocalTransport {
            name: name.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl Transport for LocalTransport {
    fn host(&self) -> &str {
        &self.name
    }

    /// (The command is not in the span: it may hold a secret; the engine
    /// logs it redacted.)
    #[tracing::instrument(level = "debug", name = "local", skip_all, fields(host = %self.name))]
    async fn run(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, TransportError> {
        self.exec(command, stdin, timeout, Cap::None).await
    }

    #[tracing::instrument(level = "debug", name = "local", skip_all, fields(host = %self.name))]
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

impl LocalTransport {
    /// `sh -c command` in a process group of its own, killed whole when
    /// the command times out or prints past `cap`.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        timeout: Duration,
        cap: Cap,
    ) -> Result<Output, TransportError> {
        let failed = |e: std::io::Error| TransportError::Failed {
            host: self.name.clone(),
            reason: e.to_string(),
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .map_err(failed)?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A command that exits without reading its input is not an error.
            let _ = pipe.write_all(data).await;
        }
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let finish = async {
            let (stdout, stderr) = capture::read_both(stdout, stderr, cap).await?;
            let status = child.wait().await.map_err(Stopped::Io)?;
            Ok::<_, Stopped>((status, stdout, stderr))
        };
        let result = match tokio::time::timeout(timeout, finish).await {
            Ok(Ok((status, stdout, stderr))) => {
                return Ok(Output {
                    exit_code: exit_code(status),
                    stdout,
                    stderr,
                });
            }
            Ok(Err(Stopped::Io(e))) => failed(e),
            Ok(Err(Stopped::TooLarge)) => TransportError::OutputTooLarge {
                host: self.name.clone(),
                cap: cap.bytes(),
            },
            Err(_) => TransportError::Timeout {
                host: self.name.clone(),
                after: timeout,
            },
        };
        if let Some(pid) = pid {
            // The whole process group: `sh -c` and what it started.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        Err(result)
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn output_past_the_cap_stops_the_command() {
        let t = LocalTransport::new("here");
        let start = Instant::now();
        // `yes` never ends on its own; ignoring SIGPIPE, it would not end
        // when its pipe closes either: the process group is killed.
        let r = t
            .run_capped("trap '' PIPE; yes", None, Duration::from_secs(30), 1 << 20)
            .await;
        assert!(
            matches!(r, Err(TransportError::OutputTooLarge { cap, .. }) if cap == 1 << 20),
            "{r:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        let err = r.unwrap_err().to_string();
        assert!(err.contains("more than 1 MiB"), "{err}");
        let out = t
            .run_capped(
                "printf out; printf err >&2",
                None,
                Duration::from_secs(30),
                6,
            )
            .await
            .unwrap();
        assert_eq!(
            (out.stdout_text(), out.stderr_text()),
            ("out".into(), "err".into())
        );
        let out = t
            .run("head -c 3000000 /dev/zero", None, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), 3_000_000, "run takes all of it");
    }
}

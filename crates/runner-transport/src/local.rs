//! The `local` transport: commands run on this machine.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

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
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(out) => {
                let out = out.map_err(failed)?;
                Ok(Output {
                    exit_code: exit_code(out.status),
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            }
            Err(_) => {
                if let Some(pid) = pid {
                    // The whole process group: `sh -c` and what it started.
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", "--", &format!("-{pid}")])
                        .status();
                }
                Err(TransportError::Timeout {
                    host: self.name.clone(),
                    after: timeout,
                })
            }
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

//! Thin async wrappers around the `docker` CLI: run a command and capture its
//! output, feed it stdin, stream its lines, and check that an engine answers.
//!
//! The lab talks to whatever engine `DOCKER_HOST` (or the default socket)
//! points at, through the ordinary `docker` client, so it works with any
//! engine version the client can negotiate with.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The docker client binary: `$RUNNER_DOCKER` or `docker` from `PATH`.
pub fn docker_bin() -> String {
    std::env::var("RUNNER_DOCKER").unwrap_or_else(|_| "docker".to_string())
}

/// A `docker` command with the lab's defaults (no CLI hints, killed on drop).
pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(docker_bin());
    cmd.args(args)
        .env("DOCKER_CLI_HINTS", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// What a finished command gave back.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl Output {
    /// True when the command exited with 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

fn describe<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let mut s = docker_bin();
    for a in args {
        s.push(' ');
        s.push_str(&a.as_ref().to_string_lossy());
    }
    if s.len() > 200 {
        s.truncate(200);
        s.push('…');
    }
    s
}

/// Runs `docker ARGS` and returns its output whatever the exit code.
pub async fn output<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Output> {
    let out = command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("cannot run `{}`", describe(args)))?;
    Ok(Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `docker ARGS`, fails unless it exits 0, and returns stdout trimmed.
pub async fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<String> {
    let out = output(args).await?;
    if !out.ok() {
        bail!(
            "`{}` failed (exit {}): {}",
            describe(args),
            out.code,
            out.stderr.trim()
        );
    }
    Ok(out.stdout.trim().to_string())
}

/// Runs `docker ARGS` with `input` on its stdin; returns its output.
pub async fn output_with_stdin<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    input: &[u8],
) -> Result<Output> {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{}`", describe(args)))?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    let data = input.to_vec();
    let writer = tokio::spawn(async move {
        let r = stdin.write_all(&data).await;
        drop(stdin);
        r
    });
    let out = child.wait_with_output().await?;
    writer.await??;
    Ok(Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `docker ARGS` with stdin read from the file at `input`; fails unless
/// it exits 0.
pub async fn run_with_file<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &Path) -> Result<String> {
    let file = std::fs::File::open(input).with_context(|| format!("open {}", input.display()))?;
    let out = command(args)
        .stdin(Stdio::from(file))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("cannot run `{}`", describe(args)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            describe(args),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `docker ARGS` (with extra environment `envs`), calling `on_line` for
/// every line it prints on stdout or stderr. Fails unless it exits 0; the
/// error carries the last lines printed.
pub async fn stream<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    envs: &[(&str, &str)],
    on_line: impl FnMut(&str),
) -> Result<()> {
    let mut cmd = command(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    stream_command(cmd, &describe(args), on_line).await
}

/// Runs any prepared command, calling `on_line` for every line it prints on
/// stdout or stderr. Fails unless it exits 0; the error names it (`what`)
/// and carries the last lines printed.
pub async fn stream_command(
    mut cmd: Command,
    what: &str,
    mut on_line: impl FnMut(&str),
) -> Result<()> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{what}`"))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().context("no stdout")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let tx2 = tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx.send(l);
        }
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx2.send(l);
        }
    });
    let mut tail: std::collections::VecDeque<String> = Default::default();
    while let Some(line) = rx.recv().await {
        on_line(&line);
        if tail.len() == 30 {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().await?;
    if !status.success() {
        let tail: Vec<String> = tail.into_iter().collect();
        bail!(
            "`{what}` failed ({status}); last output:\n{}",
            tail.join("\n")
        );
    }
    Ok(())
}

/// Checks that a Docker engine answers; returns its version.
///
/// When none does, the error is one paragraph saying how to start one.
pub async fn ensure_engine() -> Result<String> {
    let args = ["version", "--format", "{{.Server.Version}}"];
    let attempt = tokio::time::timeout(std::time::Duration::from_secs(20), output(&args)).await;
    let why = match attempt {
        Ok(Ok(out)) if out.ok() && !out.stdout.trim().is_empty() => {
            return Ok(out.stdout.trim().to_string());
        }
        Ok(Ok(out)) => out.stderr.trim().to_string(),
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => "no answer within 20 s".to_string(),
    };
    let target = std::env::var("DOCKER_HOST")
        .map(|h| format!("DOCKER_HOST={h}"))
        .unwrap_or_else(|_| "the default socket /var/run/docker.sock".to_string());
    bail!(
        "No Docker engine answers at {target} ({why}). `runner lab` needs one: \
         install it with `apt-get install docker.io` (as root), then start it with \
         `systemctl start docker` or, on a machine without systemd, \
         `dockerd > /tmp/dockerd.log 2>&1 &`, and check with `docker info`; \
         crates/runner-lab/scripts/ensure-docker.sh does all of this. \
         To use another engine, set DOCKER_HOST."
    )
}

/// True when `docker inspect` finds an object of `kind` (image, container,
/// network, volume) named `name`.
pub async fn exists(kind: &str, name: &str) -> Result<bool> {
    Ok(inspect(kind, name, "ok").await?.is_some())
}

/// `docker inspect --format FORMAT NAME` for one object of `kind`, or `None`
/// when it does not exist.
pub async fn inspect(kind: &str, name: &str, format: &str) -> Result<Option<String>> {
    let out = output(&[kind, "inspect", "--format", format, name]).await?;
    let err = out.stderr.to_lowercase();
    if out.ok() {
        Ok(Some(out.stdout.trim().to_string()))
    } else if err.contains("no such") || err.contains("not found") {
        Ok(None)
    } else {
        bail!("docker {kind} inspect {name} failed: {}", out.stderr.trim())
    }
}

//! The log (`tracing`): warnings by default (and the progress of the long
//! `runner lab chaos` and `runner workload` runs, at info), more with `-v`, or
//! whatever `RUST_LOG` says; on stderr, or in `--log-file`. What the user reads —
//! the human or JSON report on stdout — is not the log. Everything logged
//! is already redacted where it is produced. On stderr, a log line takes
//! the live progress of a step (`output::live`) out of the way meanwhile.

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The crates whose events `-v` turns up, and plugin log lines.
const OURS: &[&str] = &[
    "runner",
    "runner_cli",
    "runner_engine",
    "runner_transport",
    "runner_plugin_host",
    "runner_lab",
    "runner_chaos",
    "runner_amqp_workload",
    "plugin",
];

/// Crates whose info events are progress the user watches by default.
const PROGRESS: &[&str] = &["runner_chaos", "runner_amqp_workload"];

pub fn init(verbose: u8, file: Option<&Path>) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::try_new(spec)?,
        _ => {
            let level = match verbose {
                0 => "warn",
                1 => "info",
                2 => "debug",
                _ => "trace",
            };
            let spec: Vec<String> = OURS
                .iter()
                .map(|c| match level {
                    "warn" if PROGRESS.contains(c) => format!("{c}=info"),
                    // -v: every line a plugin logs or prints, debug ones too.
                    "info" if *c == "plugin" => format!("{c}=debug"),
                    _ => format!("{c}={level}"),
                })
                .collect();
            EnvFilter::try_new(format!("warn,{}", spec.join(",")))?
        }
    };
    // From -vv on, each span's close is logged with its busy and idle
    // time: where a run's time goes (load, plugins, secrets, facts, each
    // step and host).
    let span_events = if verbose >= 2 {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(span_events)
        .with_target(true);
    match file {
        Some(path) => {
            // Made 0600: at -vv the log holds what plugins saw, masked.
            let f = runner_engine::state_files::append(path)
                .map_err(|e| anyhow::anyhow!("--log-file {}: {e:#}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init();
        }
        None => {
            use std::io::IsTerminal;
            let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(colour).with_writer(|| Stderr).init()
        }
    }
    Ok(())
}

/// stderr, written with the live progress (if any) out of the way.
struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::output::suspended(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

//! One plugin call: a fresh `Store` with a memory limit and a CPU deadline,
//! the observe imports checked against the step's grant, and a clear
//! [`CallError`] for everything a hostile or broken plugin can do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_types::capability::{Access, CapabilityError, Grant};
use runner_types::{CommandOutput, HttpResponse};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::runner::plugin::{observe, types as wit};

/// The engine side of observation: where probes, reads and GETs really go.
/// Called only after the capability check passed.
#[async_trait::async_trait]
pub trait Observer: Send + Sync {
    async fn probe(&self, command: &str) -> Result<CommandOutput, String>;
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
    async fn http_get(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<HttpResponse, String>;
    /// One line the plugin logged (`log`) or printed; never dropped.
    fn output(&self, stream: runner_types::OutputStream, message: &str);
    /// A file on the runner's machine, relative to the playbook's
    /// directory (already checked against `local-reads`). Observers that
    /// have no playbook directory refuse.
    async fn read_local_file(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("{path}: no local files can be read here"))
    }
}

/// Resource limits of one plugin call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory a plugin may grow to.
    pub memory_bytes: usize,
    /// CPU time the plugin's own code may use in one call (time spent
    /// waiting for host calls does not count).
    pub cpu: Duration,
    /// Longest a single probe, read or GET may take.
    pub host_call: Duration,
    /// Time all of one call's probes, reads and GETs may take together.
    pub host_total: Duration,
    /// Probes, reads and GETs in one call.
    pub observations: usize,
    /// Largest answer to one observation (stdout, file, body).
    pub answer_bytes: usize,
    /// `log` text in one call.
    pub log_bytes: usize,
    /// Actions in one plan.
    pub actions: usize,
    /// What `describe` returns, all text together.
    pub describe_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            cpu: Duration::from_secs(2),
            host_call: Duration::from_secs(120),
            host_total: Duration::from_secs(600),
            observations: 1000,
            answer_bytes: runner_types::MAX_ANSWER,
            log_bytes: 1 << 20,
            actions: 10_000,
            describe_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin '{plugin}' used more than its CPU budget of {limit:?} and was stopped")]
    CpuExceeded { plugin: String, limit: Duration },
    #[error(
        "plugin '{plugin}' tried to grow its memory past the limit of {limit_mib} MiB and was stopped"
    )]
    MemoryExceeded { plugin: String, limit_mib: usize },
    #[error(transparent)]
    Capability(#[from] CapabilityError),
    #[error("plugin '{plugin}' went past a limit and was stopped: {what}")]
    CapExceeded { plugin: String, what: String },
    #[error("plugin '{plugin}' crashed: {reason}")]
    Trap { plugin: String, reason: String },
    #[error("plugin '{plugin}' refused to plan: {message}")]
    Refused { plugin: String, message: String },
}

/// What a plan call returned.
#[derive(Debug)]
pub struct PlanOutcome {
    pub plan: runner_types::Plan,
}

/// Why a call was stopped by the host, if it was.
#[derive(Debug, Clone)]
enum Violation {
    Cpu,
    Memory,
    Capability(CapabilityError),
    /// A documented cap (observations, answer size, logs, host time).
    Cap(String),
}

/// Per-call store state.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: Limits,
    grant: Option<Grant>,
    observer: Option<Arc<dyn Observer>>,
    violation: Option<Violation>,
    /// Time spent inside host calls, which the CPU budget does not count.
    in_host: Duration,
    observations: usize,
    log_bytes: usize,
    started: Instant,
}

impl CallState {
    pub(crate) fn new(
        limits: Limits,
        grant: Option<Grant>,
        observer: Option<Arc<dyn Observer>>,
        printed: &Printed,
    ) -> Self {
        CallState {
            wasi: WasiCtx::builder()
                .stdout(printed.stdout.clone())
                .stderr(printed.stderr.clone())
                .build(),
            table: ResourceTable::new(),
            limits,
            grant,
            observer,
            violation: None,
            in_host: Duration::ZERO,
            observations: 0,
            log_bytes: 0,
            started: Instant::now(),
        }
    }

    fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.in_host)
    }

    /// Stop the call on a passed cap; the message is what the plugin sees.
    fn cap(&mut self, what: String) -> String {
        self.violation.get_or_insert(Violation::Cap(what.clone()));
        what
    }

    fn check(&mut self, access: Access, target: &str) -> Result<Arc<dyn Observer>, String> {
        let observer = self
            .observer
            .clone()
            .ok_or_else(|| "observation is not available in describe()".to_string())?;
        self.observations += 1;
        if self.observations > self.limits.observations {
            return Err(self.cap(format!(
                "more than {} probes, reads and GETs in one call",
                self.limits.observations
            )));
        }
        if self.in_host > self.limits.host_total {
            return Err(self.cap(format!(
                "its probes, reads and GETs took more than {:?} in one call",
                self.limits.host_total
            )));
        }
        if let Some(grant) = &self.grant
            && let Err(e) = grant.check(access, target)
        {
            let msg = e.to_string();
            self.violation.get_or_insert(Violation::Capability(e));
            return Err(msg);
        }
        Ok(observer)
    }

    /// Run a host call under the host-call timeout, outside the CPU budget.
    async fn timed<T>(
        &mut self,
        what: &str,
        fut: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let start = Instant::now();
        let limit = self.limits.host_call;
        let out = match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(format!("{what} timed out after {limit:?}")),
        };
        self.in_host += start.elapsed();
        out
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory_bytes {
            self.violation.get_or_insert(Violation::Memory);
            wasmtime::bail!("memory limit exceeded");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 16)
    }
}

impl wit::Host for CallState {}

/// Each import is a span (`-vv`); what was asked and answered is logged,
/// redacted, by the engine's observer.
impl observe::Host for CallState {
    #[tracing::instrument(level = "debug", name = "observe", skip_all, fields(kind = "probe"))]
    async fn probe(&mut self, command: String) -> Result<wit::CommandOutput, String> {
        let observer = self.check(Access::Probe, &command)?;
        let out = self
            .timed("probe", async { observer.probe(&command).await })
            .await?;
        self.answer_size(out.stdout.len() + out.stderr.len())?;
        Ok(out.into())
    }

    #[tracing::instrument(level = "debug", name = "observe", skip_all, fields(kind = "read"))]
    async fn read_file(&mut self, path: String) -> Result<Option<Vec<u8>>, String> {
        let observer = self.check(Access::Read, &path)?;
        let out = self
            .timed("read", async { observer.read_file(&path).await })
            .await?;
        self.answer_size(out.as_ref().map_or(0, Vec::len))?;
        Ok(out)
    }

    #[tracing::instrument(level = "debug", name = "observe", skip_all, fields(kind = "http"))]
    async fn http_get(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
    ) -> Result<wit::HttpResponse, String> {
        let observer = self.check(Access::Http, &url)?;
        let out = self
            .timed("HTTP GET", async {
                observer.http_get(&url, &headers).await
            })
            .await?;
        self.answer_size(out.body.len())?;
        Ok(out.into())
    }

    #[tracing::instrument(
        level = "debug",
        name = "observe",
        skip_all,
        fields(kind = "local-read")
    )]
    async fn read_local_file(&mut self, path: String) -> Result<Vec<u8>, String> {
        let observer = self.check(Access::LocalRead, &path)?;
        let out = self
            .timed("local read", async {
                observer.read_local_file(&path).await
            })
            .await?;
        self.answer_size(out.len())?;
        Ok(out)
    }

    async fn log(&mut self, level: wit::LogLevel, message: String) {
        // Each line counts at least its newline: empty lines are not free.
        self.log_bytes += message.len() + 1;
        if self.log_bytes > self.limits.log_bytes {
            self.cap(format!(
                "more than {} KiB of log text in one call",
                self.limits.log_bytes >> 10
            ));
            return;
        }
        if let Some(o) = &self.observer {
            let level = match level {
                wit::LogLevel::Debug => runner_types::LogLevel::Debug,
                wit::LogLevel::Info => runner_types::LogLevel::Info,
                wit::LogLevel::Warn => runner_types::LogLevel::Warn,
            };
            o.output(runner_types::OutputStream::Log { level }, &message);
        }
    }
}

impl CallState {
    fn answer_size(&mut self, bytes: usize) -> Result<(), String> {
        if bytes > self.limits.answer_bytes {
            return Err(self.cap(format!(
                "an answer of {} MiB, over the {} MiB an observation may hold",
                bytes >> 20,
                self.limits.answer_bytes >> 20
            )));
        }
        Ok(())
    }
}

/// Set up a fresh store for one call.
pub(crate) fn new_store(engine: &wasmtime::Engine, state: CallState) -> Store<CallState> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| s as &mut dyn ResourceLimiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        let state = ctx.data();
        if state.guest_time() > state.limits.cpu {
            let mut ctx = ctx;
            ctx.data_mut().violation.get_or_insert(Violation::Cpu);
            wasmtime::bail!("CPU budget exceeded");
        }
        Ok(UpdateDeadline::Continue(1))
    });
    store
}

/// What a plugin prints (Rust's `println!`, `eprintln!`, Python's
/// `print`): kept per call, and handed to the observer line by line (`-v`
/// and the journal show them), never dropped. A plugin that prints more than
/// [`Printed::CAP`] fails its call with the write error, loudly.
#[derive(Clone)]
pub(crate) struct Printed {
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl Printed {
    const CAP: usize = 64 << 10;

    pub(crate) fn new() -> Self {
        Printed {
            stdout: MemoryOutputPipe::new(Self::CAP),
            stderr: MemoryOutputPipe::new(Self::CAP),
        }
    }

    /// Each printed line, with its stream, to `observer`.
    pub(crate) fn forward(&self, observer: &dyn Observer) {
        use runner_types::OutputStream;
        for (stream, pipe) in [
            (OutputStream::Stdout, &self.stdout),
            (OutputStream::Stderr, &self.stderr),
        ] {
            let text = pipe.contents();
            for line in String::from_utf8_lossy(&text).lines() {
                observer.output(stream, line);
            }
        }
    }
}

/// Turn the result of a call into a [`CallError`] that says what happened,
/// preferring the host's own reason (limits, capabilities) over the trap.
pub(crate) fn classify<T>(
    plugin: &str,
    store: &Store<CallState>,
    printed: &Printed,
    result: wasmtime::Result<T>,
) -> Result<T, CallError> {
    let state = store.data();
    match (&state.violation, result) {
        (Some(Violation::Cpu), _) => Err(CallError::CpuExceeded {
            plugin: plugin.to_string(),
            limit: state.limits.cpu,
        }),
        (Some(Violation::Memory), _) => Err(CallError::MemoryExceeded {
            plugin: plugin.to_string(),
            limit_mib: state.limits.memory_bytes >> 20,
        }),
        (Some(Violation::Capability(e)), _) => Err(CallError::Capability(e.clone())),
        (Some(Violation::Cap(what)), _) => Err(CallError::CapExceeded {
            plugin: plugin.to_string(),
            what: what.clone(),
        }),
        (None, Ok(v)) => Ok(v),
        (None, Err(e)) => {
            let printed = String::from_utf8_lossy(&printed.stderr.contents())
                .trim()
                .to_string();
            let reason = if printed.is_empty() {
                format!("{e:#}")
            } else {
                format!("{printed} ({e})")
            };
            Err(CallError::Trap {
                plugin: plugin.to_string(),
                reason,
            })
        }
    }
}

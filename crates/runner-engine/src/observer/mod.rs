//! The engine's side of plugin observation: a live observer that probes a
//! real host through its transport and records every answer, and a replay
//! observer that answers from a recording.

mod planned;
pub use planned::PlannedView;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use runner_plugin_host::Observer;
use runner_transport::{Transport, TransportError, files};
use runner_types::{CommandOutput, HttpResponse, LogLevel, OutputStream, Redactor};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::journal::{Observation, ObservationKind};
use crate::local_files::LocalFiles;
use crate::stand_in;

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Probes a live host and keeps a transcript.
pub struct LiveObserver {
    transport: Arc<dyn Transport>,
    redactor: Redactor,
    transcript: Mutex<Vec<Observation>>,
    /// What the plugin logged and printed, masked, in order.
    output: Mutex<Vec<(OutputStream, String)>>,
    /// The first answer that said the host cannot be reached at all.
    unreachable: Mutex<Option<String>>,
    /// Files beside the playbook; none: local reads are refused.
    local: Option<Arc<LocalFiles>>,
    /// In a preview: what earlier steps plan on this host.
    planned: Option<PlannedView>,
}

impl LiveObserver {
    pub fn new(transport: Arc<dyn Transport>, redactor: Redactor) -> Self {
        LiveObserver {
            transport,
            redactor,
            transcript: Mutex::new(Vec::new()),
            output: Mutex::new(Vec::new()),
            unreachable: Mutex::new(None),
            local: None,
            planned: None,
        }
    }

    /// Answer file observations from what earlier steps of a preview plan
    /// on the host; note what that state cannot answer.
    pub fn with_planned(mut self, planned: PlannedView) -> Self {
        self.planned = Some(planned);
        self
    }

    /// Why this call's plan is known only after apply: it asked what the
    /// earlier steps' changes may answer differently.
    pub fn depends_on_earlier(&self) -> Option<String> {
        self.planned.as_ref().and_then(PlannedView::depends)
    }

    /// Answer `read-local-file` from these files.
    pub fn with_local_files(mut self, local: Arc<LocalFiles>) -> Self {
        self.local = Some(local);
        self
    }

    /// Why the host could not be reached, if a probe or read found so.
    pub fn unreachable(&self) -> Option<String> {
        self.unreachable.lock().expect("unreachable").clone()
    }

    fn note_transport_error(&self, e: &TransportError) {
        if matches!(e, TransportError::Unreachable { .. }) {
            let mut first = self.unreachable.lock().expect("unreachable");
            first.get_or_insert_with(|| self.redactor.redact(&e.to_string()));
        }
    }

    pub fn take_transcript(&self) -> Vec<Observation> {
        std::mem::take(&mut self.transcript.lock().expect("transcript"))
    }

    /// Every line the plugin logged or printed so far, masked.
    pub fn take_output(&self) -> Vec<(OutputStream, String)> {
        std::mem::take(&mut self.output.lock().expect("output"))
    }

    fn record(&self, kind: ObservationKind, request: &str, answer: Value) {
        self.record_as(kind, request, answer, false)
    }

    fn record_as(&self, kind: ObservationKind, request: &str, answer: Value, planned: bool) {
        let sha = hex::encode(Sha256::digest(answer.to_string()));
        tracing::debug!(
            kind = kind.as_str(),
            request = %self.redactor.redact(request),
            answer = %self.redactor.redact_json(&answer),
            "observation"
        );
        self.transcript
            .lock()
            .expect("transcript")
            .push(Observation {
                kind,
                request: self.redactor.redact(request),
                answer: self.redactor.redact_json(&answer),
                answer_sha: sha,
                planned,
            });
    }
}

pub fn command_answer<E: std::fmt::Display>(r: &Result<CommandOutput, E>) -> Value {
    match r {
        Ok(o) => json!({"exit_code": o.exit_code, "stdout": o.stdout, "stderr": o.stderr}),
        Err(e) => json!({"error": e.to_string()}),
    }
}

pub fn file_answer<E: std::fmt::Display>(r: &Result<Option<Vec<u8>>, E>) -> Value {
    match r {
        Ok(None) => Value::Null,
        Ok(Some(bytes)) => match std::str::from_utf8(bytes) {
            Ok(t) => json!({"text": t}),
            Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        },
        Err(e) => json!({"error": e.to_string()}),
    }
}

pub fn http_answer(r: &Result<HttpResponse, String>) -> Value {
    match r {
        Ok(h) => json!({"status": h.status, "body": h.body}),
        Err(e) => json!({"error": e}),
    }
}

/// Run a probe command on a host: the same call plan-time probes, waits and
/// saved-plan checks use. Its output is cut at the answer cap.
pub async fn run_probe(t: &dyn Transport, command: &str) -> Result<CommandOutput, TransportError> {
    t.run_capped(command, None, PROBE_TIMEOUT, runner_types::MAX_ANSWER)
        .await
        .map(|o| o.to_command_output())
}

/// A request from the runner's machine (see [`runner_transport::http`]).
pub async fn http_call(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<HttpResponse, String> {
    runner_transport::http::request(method, url, headers, body).await
}

#[async_trait::async_trait]
impl Observer for LiveObserver {
    async fn probe(&self, command: &str) -> Result<CommandOutput, String> {
        if let Some(planned) = &self.planned
            && let Some(out) = planned.probe(self.transport.as_ref(), command).await
        {
            self.record_as(ObservationKind::Probe, command, command_answer(&out), true);
            return out;
        }
        let r = run_probe(self.transport.as_ref(), command).await;
        self.record(ObservationKind::Probe, command, command_answer(&r));
        if let Err(e) = &r {
            self.note_transport_error(e);
        }
        r.map_err(|e| e.to_string())
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(planned) = &self.planned
            && let Some(r) = planned.read_file(path)
        {
            self.record_as(ObservationKind::Read, path, file_answer(&r), true);
            return r;
        }
        let r = files::read(self.transport.as_ref(), path).await;
        self.record(ObservationKind::Read, path, file_answer(&r));
        if let Err(files::FileError::Transport(e)) = &r {
            self.note_transport_error(e);
        }
        r.map_err(|e| e.to_string())
    }

    async fn http_get(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<HttpResponse, String> {
        // A credential the plugin sends is a secret from here on.
        self.redactor.add_headers(headers);
        if let Some(planned) = &self.planned {
            planned.http_get(url);
        }
        let r = http_call("GET", url, headers, None).await;
        self.record(ObservationKind::Http, url, http_answer(&r));
        r
    }

    async fn read_local_file(&self, path: &str) -> Result<Vec<u8>, String> {
        let r = match &self.local {
            Some(local) => local.read(path).map_err(|e| e.to_string()),
            None => Err(format!(
                "{path}: no playbook directory to read local files from"
            )),
        };
        let answer = file_answer(&r.as_ref().map(|b| Some(b.clone())));
        self.record(ObservationKind::LocalRead, path, answer);
        r
    }

    fn output(&self, stream: OutputStream, message: &str) {
        let message = self.redactor.redact(message);
        let prefix = stream.prefix();
        match stream {
            OutputStream::Log {
                level: LogLevel::Info,
            } => tracing::info!(target: "plugin", "{message}"),
            OutputStream::Log {
                level: LogLevel::Warn,
            } => tracing::warn!(target: "plugin", "{message}"),
            _ => tracing::debug!(target: "plugin", "{prefix}{message}"),
        }
        self.output.lock().expect("output").push((stream, message));
    }
}

/// Answers from a recorded transcript, in order; notes every request that
/// does not match the recording.
pub struct ReplayObserver {
    recorded: Vec<Observation>,
    next: Mutex<usize>,
    pub mismatches: Mutex<Vec<String>>,
}

impl ReplayObserver {
    pub fn new(recorded: Vec<Observation>) -> Self {
        ReplayObserver {
            recorded,
            next: Mutex::new(0),
            mismatches: Mutex::new(Vec::new()),
        }
    }

    fn answer(&self, kind: ObservationKind, request: &str) -> Result<Value, String> {
        let mut next = self.next.lock().expect("replay");
        let i = *next;
        *next += 1;
        // Asked and answered as the journal has them: masked.
        let request = &stand_in::from_plugin(request);
        match self.recorded.get(i) {
            Some(o) if o.kind == kind && &o.request == request => {
                Ok(stand_in::json_to_plugin(&o.answer))
            }
            Some(o) => {
                let m = format!(
                    "observation {}: the plugin asked {} '{request}', the recording has {} '{}'",
                    i + 1,
                    kind.as_str(),
                    o.kind.as_str(),
                    o.request
                );
                self.mismatches.lock().expect("replay").push(m.clone());
                Err(m)
            }
            None => {
                let m = format!(
                    "observation {}: the plugin asked {} '{request}', the recording has no more",
                    i + 1,
                    kind.as_str()
                );
                self.mismatches.lock().expect("replay").push(m.clone());
                Err(m)
            }
        }
    }

    /// Observations recorded but never asked for.
    pub fn unused(&self) -> usize {
        self.recorded
            .len()
            .saturating_sub(*self.next.lock().expect("replay"))
    }
}

fn error_of(v: &Value) -> Option<String> {
    v.get("error").and_then(Value::as_str).map(str::to_string)
}

#[async_trait::async_trait]
impl Observer for ReplayObserver {
    async fn probe(&self, command: &str) -> Result<CommandOutput, String> {
        let v = self.answer(ObservationKind::Probe, command)?;
        if let Some(e) = error_of(&v) {
            return Err(e);
        }
        Ok(CommandOutput {
            exit_code: v["exit_code"].as_i64().unwrap_or(-1) as i32,
            stdout: v["stdout"].as_str().unwrap_or_default().to_string(),
            stderr: v["stderr"].as_str().unwrap_or_default().to_string(),
        })
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let v = self.answer(ObservationKind::Read, path)?;
        file_of(&v)
    }

    async fn read_local_file(&self, path: &str) -> Result<Vec<u8>, String> {
        let v = self.answer(ObservationKind::LocalRead, path)?;
        file_of(&v)?.ok_or_else(|| format!("{path}: the recording has no content"))
    }

    async fn http_get(
        &self,
        url: &str,
        _headers: &[(String, String)],
    ) -> Result<HttpResponse, String> {
        let v = self.answer(ObservationKind::Http, url)?;
        if let Some(e) = error_of(&v) {
            return Err(e);
        }
        Ok(HttpResponse {
            status: v["status"].as_u64().unwrap_or(0) as u16,
            body: v["body"].as_str().unwrap_or_default().to_string(),
        })
    }

    fn output(&self, _stream: OutputStream, _message: &str) {}
}

/// A recorded file answer: its bytes, none, or its error.
fn file_of(v: &Value) -> Result<Option<Vec<u8>>, String> {
    if let Some(e) = error_of(v) {
        return Err(e);
    }
    if v.is_null() {
        return Ok(None);
    }
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Ok(Some(t.as_bytes().to_vec()));
    }
    let b64 = v.get("base64").and_then(Value::as_str).unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|bytes| Some(stand_in::bytes_to_plugin(&bytes)))
        .map_err(|e| e.to_string())
}

//! Carrying out one planned action on a host.

use std::time::{Duration, Instant};

use runner_transport::{Transport, files};
use runner_types::{Action, ActionKind, Probe};

use crate::observer::{http_call, run_probe};

/// Do `action` on the host behind `t`. `Ok` carries a one-line detail.
pub async fn execute(t: &dyn Transport, action: &Action) -> Result<String, String> {
    match &action.kind {
        ActionKind::WriteFile {
            path,
            content,
            mode,
            validate,
        } => files::write(t, path, content, *mode, validate.as_deref())
            .await
            .map(|_| format!("{} bytes, mode {mode:o}", content.len()))
            .map_err(|e| e.to_string()),
        ActionKind::RemoveFile { path } => files::remove(t, path)
            .await
            .map(|existed| if existed { "removed" } else { "was absent" }.to_string())
            .map_err(|e| e.to_string()),
        ActionKind::Run {
            command,
            ok_codes,
            timeout_ms,
        } => {
            let out = t
                .run(
                    command,
                    None,
                    Duration::from_millis(u64::from(*timeout_ms).max(1000)),
                )
                .await
                .map_err(|e| e.to_string())?;
            if ok_codes.contains(&out.exit_code) || (ok_codes.is_empty() && out.exit_code == 0) {
                Ok(format!("exit {}", out.exit_code))
            } else {
                Err(format!(
                    "`{command}` exited {}: {}",
                    out.exit_code,
                    last_lines(&format!("{}{}", out.stdout_text(), out.stderr_text()))
                ))
            }
        }
        ActionKind::Http {
            method,
            url,
            headers,
            body,
        } => {
            let r = http_call(method, url, headers, body.as_deref()).await?;
            if (200..300).contains(&r.status) {
                Ok(format!("HTTP {}", r.status))
            } else {
                Err(format!(
                    "{method} {url}: HTTP {}: {}",
                    r.status,
                    last_lines(&r.body)
                ))
            }
        }
        ActionKind::Wait(w) => {
            let start = Instant::now();
            let timeout = Duration::from_millis(w.timeout_ms.into());
            let interval = Duration::from_millis(w.interval_ms.max(50).into());
            let mut last;
            loop {
                let (matched, seen) = match &w.probe {
                    Probe::Command(c) => match run_probe(t, c).await {
                        Ok(o) => (
                            o.exit_code == 0
                                && w.contains.as_ref().is_none_or(|s| o.stdout.contains(s)),
                            format!("exit {}: {}", o.exit_code, last_lines(&o.stdout)),
                        ),
                        Err(e) => (false, e),
                    },
                    Probe::HttpGet(u) => match http_call("GET", u, &[], None).await {
                        Ok(r) => (
                            (200..300).contains(&r.status)
                                && w.contains.as_ref().is_none_or(|s| r.body.contains(s)),
                            format!("HTTP {}", r.status),
                        ),
                        Err(e) => (false, e),
                    },
                };
                last = seen;
                if matched {
                    return Ok(format!("after {:.1}s", start.elapsed().as_secs_f64()));
                }
                if start.elapsed() >= timeout {
                    return Err(format!(
                        "{}: still not so after {:?} (last: {last})",
                        action.summary, timeout
                    ));
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.trim().lines().collect();
    let tail = &lines[lines.len().saturating_sub(5)..];
    tail.join(" | ")
}

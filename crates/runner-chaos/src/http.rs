//! Plain HTTP GETs with basic auth and a short timeout (the management API
//! of each RabbitMQ node, HAProxy's stats CSV and health URL), run on the
//! blocking pool so the workload's tasks keep running. Only lab addresses
//! are ever asked.

use std::time::Duration;

use anyhow::{Result, anyhow};
use base64::Engine as _;

/// Status and body of a GET; transport errors (refused, timed out) are
/// errors, any HTTP status is an answer.
pub async fn get(
    url: &str,
    auth: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<(u16, String)> {
    let url = url.to_string();
    let header = auth.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .build();
        let mut req = agent.get(&url);
        if let Some(h) = &header {
            req = req.set("Authorization", h);
        }
        match req.call() {
            Ok(r) => Ok((r.status(), r.into_string().unwrap_or_default())),
            Err(ureq::Error::Status(code, r)) => Ok((code, r.into_string().unwrap_or_default())),
            Err(e) => Err(anyhow!("GET {url}: {e}")),
        }
    })
    .await?
}

/// A GET that must answer 200 with JSON.
pub async fn get_json(
    url: &str,
    auth: (&str, &str),
    timeout: Duration,
) -> Result<serde_json::Value> {
    let (status, body) = get(url, Some(auth), timeout).await?;
    if status != 200 {
        return Err(anyhow!("GET {url}: HTTP {status}"));
    }
    Ok(serde_json::from_str(&body)?)
}

//! The one HTTP GET chaos makes (a node's management API, HAProxy's stats
//! CSV and health URL): through the runner's shared async client
//! (`runner_transport::http`), with optional Basic auth (the one helper,
//! `runner_types::http::basic_auth`) and a short timeout. Only lab
//! addresses are ever asked.

use std::time::Duration;

use anyhow::{Result, anyhow};
use runner_types::http::basic_auth;

/// Status and body of a GET; transport errors (refused, timed out) are
/// errors, any HTTP status is an answer.
pub async fn get(
    url: &str,
    auth: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<(u16, String)> {
    let headers: Vec<(String, String)> = auth.map(|(u, p)| basic_auth(u, p)).into_iter().collect();
    let answer = tokio::time::timeout(
        timeout,
        runner_transport::http::request("GET", url, &headers, None),
    )
    .await
    .map_err(|_| anyhow!("GET {url}: timed out after {timeout:?}"))?
    .map_err(|e| anyhow!("GET {e}"))?;
    Ok((answer.status, answer.body))
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

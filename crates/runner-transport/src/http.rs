//! HTTP from the runner's machine: one shared async client (reqwest,
//! rustls), for plugins' GETs, HTTP actions and waits. URLs are checked
//! after parsing and normalisation (see [`HttpTarget`]); methods come from
//! a known set; redirects are never followed (a plugin sees the 3xx and may
//! ask for the new location, which is checked like any URL); bodies are
//! read up to a cap.

use std::sync::LazyLock;
use std::time::Duration;

use runner_types::HttpResponse;
use runner_types::http::{HttpTarget, METHODS};

/// The most of a response body the runner holds.
pub const MAX_BODY: usize = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client with rustls")
});

/// Send one request. Any status is an answer; transport errors (refused,
/// timed out) are errors.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<HttpResponse, String> {
    if !METHODS.contains(&method) {
        return Err(format!(
            "method '{}' is not one of {}",
            method.escape_default(),
            METHODS.join(", ")
        ));
    }
    let target = HttpTarget::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = CLIENT.request(method, target.url().clone());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let mut resp = req.send().await.map_err(|e| describe(url, &e))?;
    let status = resp.status().as_u16();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(url, &e))? {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(format!(
                "{url}: the body is larger than {} MiB, the most the runner reads",
                MAX_BODY >> 20
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// The error by its causes: reqwest's own top line repeats the URL, and
/// the client layer's adds nothing.
fn describe(url: &str, e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !text.starts_with("client error") {
            causes.push(text);
        }
        source = s.source();
    }
    if e.is_timeout() {
        causes.insert(0, "timed out".into());
    }
    if causes.is_empty() {
        causes.push(e.to_string());
    }
    format!("{url}: {}", causes.join(": "))
}

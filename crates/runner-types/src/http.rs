//! URLs as the grant checks them: parsed, normalised, and refused when
//! they hide anything (userinfo, dot segments, backslashes, a fragment, a
//! scheme other than http and https).

/// The `Authorization` header for HTTP basic authentication: the one
/// helper the plugins (through the SDK), chaos and the tests share.
pub fn basic_auth(user: &str, password: &str) -> (String, String) {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("Authorization".to_string(), format!("Basic {token}"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters: one
/// path segment (`/` is `%2F`) or userinfo part of a URL.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether a header carries a credential (`Authorization`, a cookie, an
/// API key): its value is masked wherever the runner shows or keeps it.
pub fn is_credential_header(name: &str) -> bool {
    const CREDENTIALS: &[&str] = &[
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-auth-token",
    ];
    CREDENTIALS.iter().any(|c| name.eq_ignore_ascii_case(c))
}

/// The methods an HTTP action may use.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A URL as the grant checks it: parsed, normalised, refused when it hides
/// anything (userinfo, dot segments, backslashes, a scheme other than
/// http and https).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `scheme://host:port`, the port always explicit.
    pub origin: String,
    /// Path and query, as normalised.
    pub path: String,
    url: url::Url,
}

impl HttpTarget {
    pub fn parse(text: &str) -> Result<HttpTarget, String> {
        if text.chars().any(char::is_control) || text.contains('\\') {
            return Err("it holds a control character or a backslash".into());
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("%2e")
            || text
                .split(['/', '?', '#'])
                .any(|seg| seg == "." || seg == "..")
        {
            return Err("it holds a dot segment (`.`, `..`, `%2e`)".into());
        }
        let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme '{}' is not http or https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("it holds a user name or password (userinfo)".into());
        }
        if url.fragment().is_some() {
            return Err("it holds a fragment (`#`)".into());
        }
        let host = url.host_str().ok_or("it has no host")?;
        let port = url.port_or_known_default().ok_or("it has no port")?;
        let origin = format!("{}://{host}:{port}", url.scheme());
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(HttpTarget { origin, path, url })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_after_normalisation() {
        let t = HttpTarget::parse("http://10.0.0.1:15672/api/overview").unwrap();
        assert_eq!(t.origin, "http://10.0.0.1:15672");
        assert_eq!(t.path, "/api/overview");
        assert_eq!(
            HttpTarget::parse("http://Host/x?a=1").unwrap().origin,
            "http://host:80"
        );
        for bad in [
            "http://ok/api/../admin",
            "http://ok/api/%2e%2e/admin",
            "http://ok/api/%2E%2E/admin",
            "http://allowed:1@other/",
            "http://user@other/",
            "file:///etc/passwd",
            "http://ok/a\\b",
            "http://ok/a\r\nX: y",
            "http://ok/#frag",
        ] {
            assert!(HttpTarget::parse(bad).is_err(), "{bad} accepted");
        }
    }
}

//! AMQP URL handling: masking the password for display, and parsing into
//! lapin's `AMQPUri` with the workload's heartbeat and connect timeout.

use anyhow::{Context, Result, bail};
use lapin::uri::AMQPUri;
use std::time::Duration;

/// The URL with the password replaced by `****` (the user stays), for
/// anything printed or logged. A URL without a password is returned as is.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let auth_start = scheme_end + 3;
    let rest = &url[auth_start..];
    let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:****{}",
        &url[..auth_start],
        &userinfo[..colon],
        &url[auth_start + at..]
    )
}

/// The host part of an AMQP URL, without brackets for IPv6 literals.
fn host_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        &v6[..v6.find(']')?]
    } else {
        &hostport[..hostport.find(':').unwrap_or(hostport.len())]
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// Parses `url` for lapin. Sets the heartbeat (when `heartbeat_s` is
/// given; otherwise the server's is taken) and the TCP connect timeout
/// unless the URL's query already does (`?heartbeat=N&connection_timeout=MS`).
///
/// amq-protocol-uri takes the host from `Url::domain()`, which is empty for
/// IPv6 literals (it would silently connect to `localhost`), so the host is
/// taken from the URL text here.
pub fn parse(url: &str, heartbeat_s: Option<u16>, connect_timeout: Duration) -> Result<AMQPUri> {
    let masked = mask_password(url);
    let mut uri: AMQPUri = url
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))
        .with_context(|| format!("invalid AMQP URL {masked}"))?;
    match host_of(url) {
        Some(host) => uri.authority.host = host,
        None => bail!("AMQP URL {masked} has no host"),
    }
    if uri.query.heartbeat.is_none() {
        uri.query.heartbeat = heartbeat_s;
    }
    if uri.query.connection_timeout.is_none() {
        uri.query.connection_timeout = Some(connect_timeout.as_millis() as u64);
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_password_only() {
        assert_eq!(
            mask_password("amqp://probe:s3cr%40t@10.1.2.3:5672/%2f"),
            "amqp://probe:****@10.1.2.3:5672/%2f"
        );
        assert_eq!(mask_password("amqp://u:p@h"), "amqp://u:****@h");
        assert_eq!(mask_password("amqp://u@h:5672"), "amqp://u@h:5672");
        assert_eq!(mask_password("amqp://h:5672/x"), "amqp://h:5672/x");
        assert_eq!(mask_password("not a url"), "not a url");
        // An '@' inside the password (unencoded) still hides all of it.
        assert_eq!(mask_password("amqp://u:a@b@h:1"), "amqp://u:****@h:1");
    }

    #[test]
    fn keeps_ip_hosts_and_sets_defaults() {
        let uri = parse(
            "amqp://u:p@10.20.30.40:5673/%2f",
            Some(5),
            Duration::from_secs(3),
        )
        .unwrap();
        assert_eq!(uri.authority.host, "10.20.30.40");
        assert_eq!(uri.authority.port, 5673);
        assert_eq!(uri.authority.userinfo.username, "u");
        assert_eq!(uri.authority.userinfo.password, "p");
        assert_eq!(uri.vhost, "/");
        assert_eq!(uri.query.heartbeat, Some(5));
        assert_eq!(uri.query.connection_timeout, Some(3000));

        let uri = parse(
            "amqp://u:p@[::1]:5672?heartbeat=9",
            Some(5),
            Duration::from_secs(3),
        )
        .unwrap();
        assert_eq!(uri.authority.host, "::1");
        assert_eq!(uri.query.heartbeat, Some(9));

        let uri = parse("amqp://u:p@rabbit.lab/vh", None, Duration::from_secs(3)).unwrap();
        assert_eq!(uri.authority.host, "rabbit.lab");
        assert_eq!(uri.query.heartbeat, None, "the server's heartbeat");
        assert_eq!(uri.authority.port, 5672);
        assert_eq!(uri.vhost, "vh");
    }

    #[test]
    fn errors_never_show_the_password() {
        let err = parse("amqp://u:hunter2@:5672", Some(5), Duration::from_secs(1)).unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"), "{err:#}");
    }
}

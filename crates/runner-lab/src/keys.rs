//! The lab's SSH trust: an ed25519 client key pair made with `ssh-keygen`,
//! and a known_hosts file holding each host's real host key (read from the
//! host itself), so every SSH connection checks host keys strictly.

use std::net::Ipv4Addr;

use anyhow::{Context, Result, bail};

use crate::state::{Paths, write_if_changed};

/// Makes the key pair unless it exists; returns whether it was made now.
pub async fn ensure_key_pair(paths: &Paths) -> Result<bool> {
    let key = paths.private_key();
    if key.exists() && paths.public_key().exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(&paths.dir)
        .with_context(|| format!("create {}", paths.dir.display()))?;
    let _ = std::fs::remove_file(&key);
    let _ = std::fs::remove_file(paths.public_key());
    let out = tokio::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "runner-lab", "-f"])
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("run ssh-keygen (install openssh-client)")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(true)
}

/// The public key line (`ssh-ed25519 AAAA… runner-lab`).
pub fn public_key(paths: &Paths) -> Result<String> {
    let p = paths.public_key();
    Ok(std::fs::read_to_string(&p)
        .with_context(|| format!("read {}", p.display()))?
        .trim()
        .to_string())
}

/// Checks a host key line read from a host: `TYPE BASE64 [comment]`.
pub fn parse_host_key(line: &str) -> Result<String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some(t), Some(k)) if t.starts_with("ssh-") || t.starts_with("ecdsa-") => {
            Ok(format!("{t} {k}"))
        }
        _ => bail!("not an SSH public key: {line:?}"),
    }
}

/// known_hosts text: one line per host, naming it by name and lab IP.
pub fn known_hosts_text(entries: &[(String, Ipv4Addr, String)]) -> String {
    let mut s = String::new();
    for (name, ip, key) in entries {
        s.push_str(&format!("{name},{ip} {key}\n"));
    }
    s
}

/// Writes known_hosts; returns whether its content changed.
pub fn write_known_hosts(paths: &Paths, entries: &[(String, Ipv4Addr, String)]) -> Result<bool> {
    write_if_changed(&paths.known_hosts(), &known_hosts_text(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_lines() {
        assert_eq!(
            parse_host_key("ssh-ed25519 AAAAC3Nz root@rabbit1\n").unwrap(),
            "ssh-ed25519 AAAAC3Nz"
        );
        assert!(parse_host_key("garbage").is_err());
        let text = known_hosts_text(&[(
            "lb1".into(),
            Ipv4Addr::new(10, 213, 57, 21),
            "ssh-ed25519 AAAA".into(),
        )]);
        assert_eq!(text, "lb1,10.213.57.21 ssh-ed25519 AAAA\n");
    }
}

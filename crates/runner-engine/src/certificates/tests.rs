//! Issue once, keep, re-issue when names, CA or expiry say so; a preview
//! saves nothing; the user's CA signs and is never written.

use super::*;

fn wanted(host: &str, ip: &str) -> Wanted {
    Wanted {
        issue: "node".into(),
        host: host.into(),
        names: vec![host.into()],
        ips: vec![ip.parse().unwrap()],
    }
}

fn issuing(file: &Path, persist: bool, now: OffsetDateTime) -> Issuing<'_> {
    Issuing {
        file,
        persist,
        seed: Seed(rand::random()),
        not_before: now - Duration::hours(1),
        now,
        valid_days: 365,
        renew_days: 30,
    }
}

fn generate() -> CaSource {
    CaSource::Generate {
        common_name: "test CA".into(),
    }
}

fn labels(c: &Certificates) -> Vec<String> {
    c.issued.iter().map(|(l, r)| format!("{l}: {r}")).collect()
}

#[test]
fn issues_once_then_keeps_and_a_preview_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.yaml");
    let now = OffsetDateTime::now_utc();
    let want = [
        wanted("rabbit1", "10.0.0.11"),
        wanted("rabbit2", "10.0.0.12"),
    ];
    let r = Redactor::new();
    let preview = load(&generate(), &want, &issuing(&file, false, now), &r).unwrap();
    assert_eq!(
        labels(&preview),
        ["ca: new", "node/rabbit1: new", "node/rabbit2: new"]
    );
    assert!(!file.exists(), "a preview writes no certificates");
    let first = load(&generate(), &want, &issuing(&file, true, now), &r).unwrap();
    assert_eq!(first.issued.len(), 3);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let ca = std::fs::read_to_string(ca_file(&file)).unwrap();
    assert_eq!(first.per_host["rabbit1"]["ca"], ca.as_str());
    assert_eq!(ca_file(&file), dir.path().join("tls.ca.pem"));
    let second = load(&generate(), &want, &issuing(&file, true, now), &r).unwrap();
    assert!(second.issued.is_empty(), "{:?}", labels(&second));
    assert_eq!(first.per_host, second.per_host);
    let tls = &second.per_host["rabbit1"];
    let key = tls["node"]["key"].as_str().unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(tls["ca"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    // Every key line is masked.
    let line = key.lines().nth(1).unwrap();
    assert_eq!(r.redact(&format!("x {line} y")), "x ******** y");
}

/// Links planted beside the certificates file, at the names the runner
/// writes (its old temporary name, the CA certificate), are never followed.
#[test]
fn planted_symlinks_are_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.yaml");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("tls.tmp")).unwrap();
    std::os::unix::fs::symlink(&victim, ca_file(&file)).unwrap();
    let want = [wanted("rabbit1", "10.0.0.11")];
    let now = OffsetDateTime::now_utc();
    let Err(err) = load(
        &generate(),
        &want,
        &issuing(&file, true, now),
        &Redactor::new(),
    ) else {
        panic!("a symlink at the CA certificate is refused");
    };
    assert!(format!("{err:#}").contains("is a symlink"), "{err:#}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the certificates file itself was written");
}

#[test]
fn new_addresses_expiry_and_a_new_ca_issue_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.yaml");
    let now = OffsetDateTime::now_utc();
    let r = Redactor::new();
    let want = [
        wanted("rabbit1", "10.0.0.11"),
        wanted("rabbit2", "10.0.0.12"),
    ];
    load(&generate(), &want, &issuing(&file, true, now), &r).unwrap();
    // rabbit2 moves; rabbit1 is kept.
    let moved = [
        wanted("rabbit1", "10.0.0.11"),
        wanted("rabbit2", "10.0.0.99"),
    ];
    let c = load(&generate(), &moved, &issuing(&file, true, now), &r).unwrap();
    assert_eq!(labels(&c), ["node/rabbit2: its names or addresses changed"]);
    // 340 days on, everything is within 30 days of its end but the CA.
    let later = now + Duration::days(340);
    let c = load(&generate(), &moved, &issuing(&file, true, later), &r).unwrap();
    assert_eq!(
        labels(&c),
        [
            "node/rabbit1: it expires soon",
            "node/rabbit2: it expires soon"
        ]
    );
    // A host that leaves the inventory leaves the file.
    let c = load(&generate(), &moved[..1], &issuing(&file, true, later), &r).unwrap();
    assert!(c.issued.is_empty());
    assert_eq!(Stored::read(&file).unwrap().issued.len(), 1);
    // The CA itself near its end: a new CA, and everything it signed.
    let decade = now + Duration::days(3640);
    let c = load(&generate(), &moved[..1], &issuing(&file, true, decade), &r).unwrap();
    assert_eq!(
        labels(&c),
        ["ca: it expires soon", "node/rabbit1: the CA changed"]
    );
}

#[test]
fn the_users_own_ca_signs_and_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let (_, ca) =
        runner_tls::Ca::generate("own CA", &Seed([7; 32]), now - Duration::days(1), 100).unwrap();
    let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    std::fs::write(&cert, &ca.cert_pem).unwrap();
    std::fs::write(&key, &ca.key_pem).unwrap();
    let file = dir.path().join("tls.yaml");
    let own = CaSource::Own {
        cert: cert.clone(),
        key: key.clone(),
    };
    let r = Redactor::new();
    let want = [wanted("rabbit1", "10.0.0.11")];
    let c = load(&own, &want, &issuing(&file, true, now), &r).unwrap();
    assert_eq!(labels(&c), ["node/rabbit1: new"]);
    let node = c.per_host["rabbit1"]["node"]["cert"].as_str().unwrap();
    assert!(runner_tls::signed_by(node, &ca.cert_pem));
    assert_eq!(c.per_host["rabbit1"]["ca"], ca.cert_pem.as_str());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&ca.key_pem),
        "the user's CA key is not copied"
    );
    // A certificate that is not a CA, and an expired CA, are refused.
    std::fs::write(&cert, node).unwrap();
    let err = load(&own, &want, &issuing(&file, true, now), &r).unwrap_err();
    assert!(err.to_string().contains("not a CA certificate"), "{err}");
    std::fs::write(&cert, &ca.cert_pem).unwrap();
    let err = load(
        &own,
        &want,
        &issuing(&file, true, now + Duration::days(200)),
        &r,
    )
    .unwrap_err();
    assert!(err.to_string().contains("the CA expired"), "{err}");
}

#[test]
fn a_bad_certificates_file_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tls.yaml");
    std::fs::write(&file, "issued:\n  node/rabbit1: {cert: x}\n").unwrap();
    let err = Stored::read(&file).unwrap_err().to_string();
    assert!(err.contains("tls.yaml"), "{err}");
    assert!(err.contains("key"), "{err}");
}

//! Certificates that rustls accepts, made the same twice from one seed.

use std::sync::Arc;

use super::*;

fn seed(b: u8) -> Seed {
    Seed([b; 32])
}

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn request() -> Request {
    Request {
        names: vec!["rabbit1".into(), "localhost".into()],
        ips: vec!["10.0.0.11".parse().unwrap()],
        not_before: start(),
        valid_days: 365,
    }
}

#[test]
fn the_same_seed_issues_the_same_bytes() {
    let (ca, ca_issued) = Ca::generate("test CA", &seed(1), start(), 3650).unwrap();
    let (_, again) = Ca::generate("test CA", &seed(1), start(), 3650).unwrap();
    assert_eq!(ca_issued, again);
    let (_, other) = Ca::generate("test CA", &seed(2), start(), 3650).unwrap();
    assert_ne!(ca_issued.key_pem, other.key_pem);
    let a = ca.issue(&request(), &seed(3), "node/rabbit1").unwrap();
    let b = ca.issue(&request(), &seed(3), "node/rabbit1").unwrap();
    assert_eq!(a, b);
    let c = ca.issue(&request(), &seed(3), "node/rabbit2").unwrap();
    assert_ne!(a.key_pem, c.key_pem);
    assert!(a.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn inspect_reads_names_addresses_expiry_and_issuer() {
    let (ca, ca_issued) = Ca::generate("test CA", &seed(1), start(), 3650).unwrap();
    let leaf = ca.issue(&request(), &seed(3), "node/rabbit1").unwrap();
    let info = inspect(&leaf.cert_pem).unwrap();
    assert_eq!(info.names, ["rabbit1", "localhost"]);
    assert_eq!(info.ips, ["10.0.0.11".parse::<IpAddr>().unwrap()]);
    assert_eq!(info.not_after, start() + Duration::days(365));
    assert!(!info.is_ca);
    assert!(inspect(&ca_issued.cert_pem).unwrap().is_ca);
    assert!(signed_by(&leaf.cert_pem, &ca_issued.cert_pem));
    let (_, stranger) = Ca::generate("test CA", &seed(9), start(), 3650).unwrap();
    assert!(!signed_by(&leaf.cert_pem, &stranger.cert_pem));
    assert!(matches!(
        inspect("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(TlsError::BadCertificate(_))
    ));
}

#[test]
fn a_loaded_ca_signs_like_the_generated_one_and_checks_its_key() {
    let (ca, issued) = Ca::generate("test CA", &seed(1), start(), 3650).unwrap();
    let loaded = Ca::load(&issued.cert_pem, &issued.key_pem).unwrap();
    let a = ca.issue(&request(), &seed(3), "vip").unwrap();
    let b = loaded.issue(&request(), &seed(3), "vip").unwrap();
    assert_eq!(a, b);
    let (_, other) = Ca::generate("other", &seed(2), start(), 3650).unwrap();
    assert!(matches!(
        Ca::load(&issued.cert_pem, &other.key_pem),
        Err(TlsError::KeyMismatch)
    ));
    assert!(matches!(
        Ca::load(&issued.cert_pem, "not a key"),
        Err(TlsError::BadKey(_))
    ));
}

/// A TLS 1.3 handshake in memory: rustls, trusting only the CA, accepts
/// the server's certificate for its name and its address, and refuses it
/// for a name it does not carry.
#[test]
fn rustls_accepts_the_certificate_for_its_names_only() {
    let now = OffsetDateTime::now_utc() - Duration::days(1);
    let (ca, ca_issued) = Ca::generate("test CA", &seed(1), now, 3650).unwrap();
    let req = Request {
        not_before: now,
        ..request()
    };
    let leaf = ca.issue(&req, &seed(3), "node/rabbit1").unwrap();
    assert!(handshake(&ca_issued, &leaf, "rabbit1").is_ok());
    assert!(handshake(&ca_issued, &leaf, "10.0.0.11").is_ok());
    let err = handshake(&ca_issued, &leaf, "rabbit2").unwrap_err();
    assert!(err.contains("NotValidForName"), "{err}");
}

fn handshake(ca: &Issued, leaf: &Issued, server_name: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        server.read_tls(&mut buf.as_slice()).unwrap();
        server.process_new_packets().map_err(|e| format!("{e:?}"))?;
        let mut buf = Vec::new();
        server.write_tls(&mut buf).unwrap();
        client.read_tls(&mut buf.as_slice()).unwrap();
        client.process_new_packets().map_err(|e| format!("{e:?}"))?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    Err("the handshake did not finish".into())
}

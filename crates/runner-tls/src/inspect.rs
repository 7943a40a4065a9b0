//! What a PEM certificate says: its names, addresses, expiry and public
//! key, and whether a CA signed it.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::parse_x509_pem;

use crate::TlsError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
    /// The subject's public key (for an EC key, the SEC1 point).
    pub public_key: Vec<u8>,
}

/// Read a PEM certificate.
pub fn inspect(cert_pem: &str) -> Result<CertInfo, TlsError> {
    let bad = |e: String| TlsError::BadCertificate(e);
    let (_, pem) = parse_x509_pem(cert_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
    let mut names = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push(n.to_string()),
                GeneralName::IPAddress(b) => {
                    if let Some(ip) = ip_from(b) {
                        ips.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|e| bad(e.to_string()))?;
    Ok(CertInfo {
        names,
        ips,
        not_after,
        is_ca: cert.is_ca(),
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}

/// Whether the CA's key signed `cert_pem`.
pub fn signed_by(cert_pem: &str, ca_pem: &str) -> bool {
    let parse = |text: &str| parse_x509_pem(text.as_bytes()).ok().map(|(_, p)| p);
    let (Some(cert), Some(ca)) = (parse(cert_pem), parse(ca_pem)) else {
        return false;
    };
    let (Ok(cert), Ok(ca)) = (cert.parse_x509(), ca.parse_x509()) else {
        return false;
    };
    cert.verify_signature(Some(ca.public_key())).is_ok()
}

fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

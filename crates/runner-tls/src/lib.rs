//! The cluster's certificates: a CA, and the server certificates it
//! issues. Keys are ECDSA P-256, derived from a 32-byte seed, and
//! signatures are deterministic (RFC 6979): the same seed and request give
//! the same bytes, so a saved plan and its apply issue the same
//! certificates. [`inspect`] reads back what a stored certificate says.

mod inspect;
mod key;

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

pub use inspect::{CertInfo, inspect, signed_by};
pub use key::{Seed, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("not a PEM certificate: {0}")]
    BadCertificate(String),
    #[error("not an ECDSA P-256 private key in PKCS#8 or SEC1 PEM: {0}")]
    BadKey(String),
    #[error("the key does not belong to the certificate")]
    KeyMismatch,
    #[error("'{0}' is not a DNS name rcgen accepts")]
    BadName(String),
    #[error("making the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A certificate and its key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What a certificate is for, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub not_before: OffsetDateTime,
    pub valid_days: u32,
}

/// A certificate authority that can sign: generated, or the user's own.
pub struct Ca {
    pub cert_pem: String,
    issuer: Issuer<'static, SigningKey>,
}

impl Ca {
    /// A new self-signed CA named `common_name`.
    pub fn generate(
        common_name: &str,
        seed: &Seed,
        not_before: OffsetDateTime,
        valid_days: u32,
    ) -> Result<(Ca, Issued), TlsError> {
        let key = SigningKey::derive(seed, "ca");
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = not_before;
        params.not_after = not_before + Duration::days(valid_days.into());
        params.serial_number = Some(serial(seed, "ca"));
        let cert = params.self_signed(&key)?;
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.to_pem(),
        };
        let ca = Ca {
            cert_pem: issued.cert_pem.clone(),
            issuer: Issuer::new(params, key),
        };
        Ok((ca, issued))
    }

    /// A CA from its PEM certificate and key (a stored one, or the user's).
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca, TlsError> {
        let key = SigningKey::from_pem(key_pem)?;
        let info = inspect(cert_pem)?;
        if info.public_key != key.public_bytes() {
            return Err(TlsError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            issuer,
        })
    }

    /// A server (and client) certificate for `req`, its key derived from
    /// `seed` under `label`.
    pub fn issue(&self, req: &Request, seed: &Seed, label: &str) -> Result<Issued, TlsError> {
        let key = SigningKey::derive(seed, label);
        let mut sans = Vec::new();
        for n in &req.names {
            let dns = n
                .clone()
                .try_into()
                .map_err(|_| TlsError::BadName(n.clone()))?;
            sans.push(SanType::DnsName(dns));
        }
        sans.extend(req.ips.iter().map(|ip| SanType::IpAddress(*ip)));
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let cn = req
            .names
            .first()
            .cloned()
            .or_else(|| req.ips.first().map(|ip| ip.to_string()))
            .unwrap_or_else(|| label.to_string());
        params.distinguished_name = dn(&cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = req.not_before;
        params.not_after = req.not_before + Duration::days(req.valid_days.into());
        params.serial_number = Some(serial(seed, label));
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.to_pem(),
        })
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A positive 16-byte serial number from the seed.
fn serial(seed: &Seed, label: &str) -> SerialNumber {
    let mut bytes = seed.expand(&format!("serial\0{label}"))[..16].to_vec();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests;

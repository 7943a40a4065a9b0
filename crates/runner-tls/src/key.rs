//! ECDSA P-256 keys for rcgen: derived from a seed, or read from PEM, and
//! signing deterministically (RFC 6979), unlike ring's random nonces.

use hmac::Mac;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rcgen::{PKCS_ECDSA_P256_SHA256, PublicKeyData, SignatureAlgorithm};

use crate::TlsError;

/// 32 bytes every key and serial number of one issue is derived from.
#[derive(Clone)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// HMAC-SHA256(seed, label): 32 bytes for one purpose.
    pub fn expand(&self, label: &str) -> [u8; 32] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

/// A P-256 signing key with its uncompressed public point.
pub struct SigningKey {
    secret: p256::ecdsa::SigningKey,
    public: Vec<u8>,
}

impl SigningKey {
    /// The key for `label` under `seed` (the rare out-of-range scalar is
    /// skipped by re-hashing).
    pub fn derive(seed: &Seed, label: &str) -> SigningKey {
        let mut round = 0u32;
        loop {
            let bytes = seed.expand(&format!("key\0{label}\0{round}"));
            if let Ok(secret) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return SigningKey::from_secret(secret);
            }
            round += 1;
        }
    }

    /// A key from PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY") PEM.
    pub fn from_pem(pem: &str) -> Result<SigningKey, TlsError> {
        let secret = p256::SecretKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
            .map_err(|e| TlsError::BadKey(e.to_string()))?;
        Ok(SigningKey::from_secret(secret.into()))
    }

    fn from_secret(secret: p256::ecdsa::SigningKey) -> SigningKey {
        let public = secret
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        SigningKey { secret, public }
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
            .to_string()
    }

    pub fn public_bytes(&self) -> &[u8] {
        &self.public
    }
}

impl PublicKeyData for SigningKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for SigningKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: p256::ecdsa::Signature = self.secret.sign(msg);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

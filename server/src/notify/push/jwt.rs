//! The signed tokens push services want: RS256 (Google's service-account grant) and
//! ES256 (APNs provider tokens, VAPID), signed with ring (already in the tree for
//! rustls). Keys arrive as PEM (PKCS#8).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use serde_json::Value;

/// A key that cannot be used for signing.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM private key")]
    NotPem,
    #[error("the key is not a valid PKCS#8 {0} key")]
    Rejected(&'static str),
    #[error("signing failed")]
    Signing,
}

/// The DER inside a PEM block (the first one).
pub fn pem_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN") {
            inside = true;
        } else if line.starts_with("-----END") {
            break;
        } else if inside {
            b64.push_str(line);
        }
    }
    if b64.is_empty() {
        return Err(KeyError::NotPem);
    }
    STANDARD.decode(b64).map_err(|_| KeyError::NotPem)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// An RS256 JWT signed with a PKCS#8 RSA key (PEM).
pub fn rs256(pem: &str, header: &Value, claims: &Value) -> Result<String, KeyError> {
    let key = RsaKeyPair::from_pkcs8(&pem_der(pem)?).map_err(|_| KeyError::Rejected("RSA"))?;
    let input = signing_input(header, claims);
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| KeyError::Signing)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A P-256 key pair from PKCS#8 DER.
pub fn p256_key(der: &[u8]) -> Result<EcdsaKeyPair, KeyError> {
    EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der,
        &SystemRandom::new(),
    )
    .map_err(|_| KeyError::Rejected("P-256"))
}

/// An ES256 JWT (raw r‖s signature, as JWS wants).
pub fn es256(key: &EcdsaKeyPair, header: &Value, claims: &Value) -> Result<String, KeyError> {
    let input = signing_input(header, claims);
    let sig = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| KeyError::Signing)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
}

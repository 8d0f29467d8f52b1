//! Web Push (RFC 8030) with message encryption (RFC 8291, `aes128gcm` of RFC 8188)
//! and VAPID (RFC 8292), on ring.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair};
use ring::{aead, agreement, hkdf};
use serde_json::json;

use super::jwt::{self, KeyError};
use crate::store::push::WebSubscription;

/// Why a payload could not be encrypted for a subscription.
#[derive(Debug, thiserror::Error)]
pub enum WebPushError {
    #[error("the subscription's keys are invalid")]
    BadSubscription,
    #[error("encryption failed")]
    Crypto,
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The record size announced in the header; a push message is one record.
const RECORD_SIZE: u32 = 4096;

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], len: usize) -> Result<Vec<u8>, WebPushError> {
    let mut out = vec![0; len];
    prk.expand(info, Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| WebPushError::Crypto)?;
    Ok(out)
}

/// The content-encryption key and nonce (RFC 8291 §3.4, RFC 8188 §2.2).
fn content_keys(
    ecdh_secret: &[u8],
    auth: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    salt: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), WebPushError> {
    let prk_key = hkdf::Salt::new(hkdf::HKDF_SHA256, auth).extract(ecdh_secret);
    let ikm = expand(&prk_key, &[b"WebPush: info\0", ua_public, as_public], 32)?;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&ikm);
    let cek = expand(&prk, &[b"Content-Encoding: aes128gcm\0"], 16)?;
    let nonce = expand(&prk, &[b"Content-Encoding: nonce\0"], 12)?;
    Ok((cek, nonce))
}

fn decode(b64: &str) -> Result<Vec<u8>, WebPushError> {
    URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| WebPushError::BadSubscription)
}

/// `plaintext` encrypted for the subscription: the `aes128gcm` body (header with
/// salt, record size and the sender's ephemeral public key, then one record).
pub fn encrypt(sub: &WebSubscription, plaintext: &[u8]) -> Result<Vec<u8>, WebPushError> {
    let ua_public = decode(&sub.p256dh)?;
    let auth = decode(&sub.auth)?;
    if ua_public.len() != 65 || auth.len() != 16 {
        return Err(WebPushError::BadSubscription);
    }
    let rng = SystemRandom::new();
    let ephemeral = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| WebPushError::Crypto)?;
    let as_public = ephemeral
        .compute_public_key()
        .map_err(|_| WebPushError::Crypto)?
        .as_ref()
        .to_vec();
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &ua_public);
    let ecdh_secret = agreement::agree_ephemeral(ephemeral, &peer, |s| s.to_vec())
        .map_err(|_| WebPushError::BadSubscription)?;
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| WebPushError::Crypto)?;
    let (cek, nonce) = content_keys(&ecdh_secret, &auth, &ua_public, &as_public, &salt)?;
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek).map_err(|_| WebPushError::Crypto)?,
    );
    let nonce = aead::Nonce::try_assume_unique_for_key(&nonce).map_err(|_| WebPushError::Crypto)?;
    let mut record = plaintext.to_vec();
    // The last (only) record's padding delimiter.
    record.push(2);
    key.seal_in_place_append_tag(nonce, aead::Aad::empty(), &mut record)
        .map_err(|_| WebPushError::Crypto)?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// The server's VAPID key pair.
pub struct Vapid {
    key: EcdsaKeyPair,
}

impl Vapid {
    /// A new key pair as PKCS#8 DER, base64url (what the store keeps).
    pub fn generate() -> Result<String, KeyError> {
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(|_| KeyError::Signing)?;
        Ok(URL_SAFE_NO_PAD.encode(doc.as_ref()))
    }

    pub fn from_stored(b64: &str) -> Result<Vapid, KeyError> {
        let der = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| KeyError::Rejected("P-256"))?;
        Ok(Vapid {
            key: jwt::p256_key(&der)?,
        })
    }

    /// The public key as browsers want it (`applicationServerKey`): the uncompressed
    /// point, base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref())
    }

    /// The `Authorization` header for a push to `endpoint` (RFC 8292 §3): a JWT for
    /// the endpoint's origin, valid 12 hours, and the public key.
    pub fn authorization(&self, endpoint: &str, subject: &str) -> Result<String, KeyError> {
        let origin = url::Url::parse(endpoint)
            .map(|u| u.origin().ascii_serialization())
            .map_err(|_| KeyError::NotPem)?;
        let exp = chrono::Utc::now().timestamp() + 12 * 3600;
        let token = jwt::es256(
            &self.key,
            &json!({"typ": "JWT", "alg": "ES256"}),
            &json!({"aud": origin, "exp": exp, "sub": subject}),
        )?;
        Ok(format!("vapid t={token}, k={}", self.public_key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypts for a fresh browser key and decrypts as the browser would.
    #[test]
    fn aes128gcm_round_trip() {
        let rng = SystemRandom::new();
        let ua = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).unwrap();
        let ua_public = ua.compute_public_key().unwrap().as_ref().to_vec();
        let auth = [7u8; 16];
        let sub = WebSubscription {
            endpoint: "https://push.example.com/x".into(),
            p256dh: URL_SAFE_NO_PAD.encode(&ua_public),
            auth: URL_SAFE_NO_PAD.encode(auth),
        };
        let body = encrypt(&sub, b"{\"title\":\"hi\"}").unwrap();
        let salt = &body[..16];
        assert_eq!(&body[16..20], &RECORD_SIZE.to_be_bytes());
        assert_eq!(body[20], 65);
        let as_public = &body[21..86];
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, as_public);
        let secret = agreement::agree_ephemeral(ua, &peer, |s| s.to_vec()).unwrap();
        let (cek, nonce) = content_keys(&secret, &auth, &ua_public, as_public, salt).unwrap();
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek).unwrap());
        let mut record = body[86..].to_vec();
        let plain = key
            .open_in_place(
                aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
                aead::Aad::empty(),
                &mut record,
            )
            .unwrap();
        assert_eq!(plain, b"{\"title\":\"hi\"}\x02");
    }

    #[test]
    fn vapid_header_names_the_origin() {
        let vapid = Vapid::from_stored(&Vapid::generate().unwrap()).unwrap();
        let header = vapid
            .authorization(
                "https://push.example.com:8443/send/abc",
                "mailto:ops@example.com",
            )
            .unwrap();
        let token = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split(", k=")
            .next()
            .unwrap();
        let claims = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["aud"], "https://push.example.com:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert!(header.ends_with(&vapid.public_key()));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(vapid.public_key()).unwrap().len(),
            65
        );
    }
}

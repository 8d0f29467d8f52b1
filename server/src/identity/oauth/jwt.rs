//! ID token verification: a compact JWS checked against the provider's JSON Web
//! Key Set with `ring` (already in the tree through rustls), then the OIDC claims
//! (`iss`, `aud`/`azp`, `exp`, `iat`, `nonce`). Only asymmetric algorithms are
//! accepted: `none` and the HMAC family (which would let anyone holding the
//! client secret, or a confused verifier, mint tokens) are refused outright.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Clock difference tolerated between us and the provider, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 120;

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the ID token is not a well-formed JWS")]
    Malformed,
    #[error("the ID token uses the algorithm {0:?}, which is not accepted")]
    Algorithm(String),
    #[error("no key {0:?} in the provider's key set")]
    UnknownKey(String),
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token was issued by {0:?}, not by the configured issuer")]
    Issuer(String),
    #[error("the ID token is not meant for this client")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token's nonce does not match this login")]
    Nonce,
}

/// One key of a JWKS (only the members we use).
#[derive(Clone, Debug, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct Parsed {
    pub alg: String,
    pub kid: Option<String>,
    signing_input: String,
    signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

fn b64(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)
}

/// Splits and decodes `token`; refuses algorithms other than RS*, PS*, ES256/384
/// and EdDSA before anything else is looked at.
pub fn parse(token: &str) -> Result<Parsed, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&b64(h)?).map_err(|_| TokenError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed)?
        .to_string();
    if !ACCEPTED.contains(&alg.as_str()) {
        return Err(TokenError::Algorithm(alg));
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&b64(p)?).map_err(|_| TokenError::Malformed)?;
    Ok(Parsed {
        alg,
        kid: header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        signing_input: format!("{h}.{p}"),
        signature: b64(s)?,
        claims,
    })
}

const ACCEPTED: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The key of `set` that may have signed `parsed`: by `kid` when the token names
/// one, else the only signing key of a matching type.
pub fn select_key<'a>(set: &'a JwkSet, parsed: &Parsed) -> Option<&'a Jwk> {
    let fits = |k: &&Jwk| {
        k.use_.as_deref().is_none_or(|u| u == "sig")
            && k.alg.as_deref().is_none_or(|a| a == parsed.alg)
            && k.kty == kty_of(&parsed.alg)
    };
    match &parsed.kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(fits)
            .find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let mut candidates = set.keys.iter().filter(fits);
            let first = candidates.next();
            first.filter(|_| candidates.next().is_none())
        }
    }
}

fn kty_of(alg: &str) -> &'static str {
    match alg {
        "ES256" | "ES384" => "EC",
        "EdDSA" => "OKP",
        _ => "RSA",
    }
}

/// Checks the signature of `parsed` with `key`.
pub fn verify_signature(parsed: &Parsed, key: &Jwk) -> Result<(), TokenError> {
    let msg = parsed.signing_input.as_bytes();
    let sig = &parsed.signature;
    let field = |v: &Option<String>| -> Result<Vec<u8>, TokenError> {
        b64(v.as_deref().ok_or(TokenError::Signature)?).map_err(|_| TokenError::Signature)
    };
    let ok = match parsed.alg.as_str() {
        rsa @ ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512") => {
            let params: &signature::RsaParameters = match rsa {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let (n, e) = (field(&key.n)?, field(&key.e)?);
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, msg, sig)
                .is_ok()
        }
        ec @ ("ES256" | "ES384") => {
            let (alg, crv): (&signature::EcdsaVerificationAlgorithm, _) = if ec == "ES256" {
                (&signature::ECDSA_P256_SHA256_FIXED, "P-256")
            } else {
                (&signature::ECDSA_P384_SHA384_FIXED, "P-384")
            };
            if key.crv.as_deref() != Some(crv) {
                return Err(TokenError::Signature);
            }
            let mut point = vec![4u8];
            point.extend(field(&key.x)?);
            point.extend(field(&key.y)?);
            UnparsedPublicKey::new(alg, point).verify(msg, sig).is_ok()
        }
        "EdDSA" => {
            if key.crv.as_deref() != Some("Ed25519") {
                return Err(TokenError::Signature);
            }
            UnparsedPublicKey::new(&signature::ED25519, field(&key.x)?)
                .verify(msg, sig)
                .is_ok()
        }
        other => return Err(TokenError::Algorithm(other.to_string())),
    };
    if ok {
        Ok(())
    } else {
        Err(TokenError::Signature)
    }
}

/// What the claims must say.
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: i64,
}

/// Checks `iss`, `aud` (and `azp` when there are several audiences), `exp` and
/// `nonce` (OIDC Core 3.1.3.7).
pub fn check_claims(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<(), TokenError> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != expect.issuer {
        return Err(TokenError::Issuer(iss.to_string()));
    }
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !auds.contains(&expect.client_id) {
        return Err(TokenError::Audience);
    }
    if auds.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(expect.client_id) {
        return Err(TokenError::Audience);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(TokenError::Expired)?;
    if exp + CLOCK_SKEW_SECS < expect.now {
        return Err(TokenError::Expired);
    }
    if let Some(nonce) = expect.nonce {
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !super::constant_time_eq(got.as_bytes(), nonce.as_bytes()) {
            return Err(TokenError::Nonce);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    struct Signer {
        key: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl Signer {
        fn new() -> Signer {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("key");
            Signer { key, rng }
        }

        fn jwks(&self, kid: &str) -> JwkSet {
            let p = self.key.public_key().as_ref();
            serde_json::from_value(json!({"keys": [{
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&p[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&p[33..65]),
            }]}))
            .expect("jwks")
        }

        fn sign(&self, kid: &str, claims: &Value) -> String {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
            let p = URL_SAFE_NO_PAD.encode(claims.to_string());
            let input = format!("{h}.{p}");
            let sig = self.key.sign(&self.rng, input.as_bytes()).expect("sign");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "https://idp", "aud": "palaver", "sub": "alice", "exp": now + 60, "iat": now, "nonce": "n1"})
    }

    fn verify(set: &JwkSet, token: &str, now: i64) -> Result<(), TokenError> {
        let parsed = parse(token)?;
        let key = select_key(set, &parsed).ok_or(TokenError::UnknownKey(String::new()))?;
        verify_signature(&parsed, key)?;
        check_claims(
            &parsed.claims,
            &Expect {
                issuer: "https://idp",
                client_id: "palaver",
                nonce: Some("n1"),
                now,
            },
        )
    }

    #[test]
    fn a_genuine_token_verifies() {
        let s = Signer::new();
        let now = 1_700_000_000;
        assert_eq!(
            verify(&s.jwks("k1"), &s.sign("k1", &claims(now)), now),
            Ok(())
        );
    }

    #[test]
    fn tampered_payloads_and_signatures_are_refused() {
        let s = Signer::new();
        let now = 1_700_000_000;
        let token = s.sign("k1", &claims(now));
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(now);
        forged["sub"] = json!("mallory");
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            parts[2]
        );
        assert_eq!(
            verify(&s.jwks("k1"), &swapped, now),
            Err(TokenError::Signature)
        );
        let other = Signer::new();
        assert_eq!(
            verify(&s.jwks("k1"), &other.sign("k1", &claims(now)), now),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused() {
        let s = Signer::new();
        let p = URL_SAFE_NO_PAD.encode(claims(0).to_string());
        for alg in ["none", "HS256"] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
            assert_eq!(
                verify(&s.jwks("k1"), &format!("{h}.{p}.c2ln"), 0),
                Err(TokenError::Algorithm(alg.into()))
            );
        }
    }

    #[test]
    fn issuer_audience_expiry_and_nonce_are_checked() {
        let s = Signer::new();
        let now = 1_700_000_000;
        let cases = [
            (
                "iss",
                json!("https://evil"),
                TokenError::Issuer("https://evil".into()),
            ),
            ("aud", json!("someone-else"), TokenError::Audience),
            ("aud", json!(["palaver", "other"]), TokenError::Audience),
            ("exp", json!(now - CLOCK_SKEW_SECS - 1), TokenError::Expired),
            ("nonce", json!("n2"), TokenError::Nonce),
        ];
        for (field, value, want) in cases {
            let mut c = claims(now);
            c[field] = value;
            assert_eq!(
                verify(&s.jwks("k1"), &s.sign("k1", &c), now),
                Err(want),
                "{field}"
            );
        }
    }

    #[test]
    fn keys_are_chosen_by_kid() {
        let s = Signer::new();
        let parsed = parse(&s.sign("k2", &claims(0))).expect("parse");
        assert!(select_key(&s.jwks("k1"), &parsed).is_none());
        assert!(select_key(&s.jwks("k2"), &parsed).is_some());
    }
}

//! SAML's HTTP bindings: the Redirect binding (deflate, base64, query string,
//! optionally signed with `SigAlg`/`Signature` over the raw query parameters) and
//! the POST binding's base64 form field.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

use super::dsig::{IdpKey, SignatureError};
use super::response::MAX_MESSAGE_BYTES;
use super::SamlError;

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The service provider's signing key (PKCS#8 PEM, RSA).
pub struct SpKey(RsaKeyPair);

impl SpKey {
    pub fn from_pem(pem: &str) -> Result<SpKey, SamlError> {
        let body: String = pem
            .lines()
            .filter(|l| !l.trim_start().starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| SamlError::Misconfigured("the private key is not PEM"))?;
        RsaKeyPair::from_pkcs8(&der)
            .map(SpKey)
            .map_err(|_| SamlError::Misconfigured("the private key is not a PKCS#8 RSA key"))
    }
}

/// `<base>?<param>=<message>[&RelayState=…][&SigAlg=…&Signature=…]`.
pub fn redirect_url(
    base: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&SpKey>,
) -> Result<String, SamlError> {
    let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|_| SamlError::Misconfigured("deflate"))?;
    let deflated = deflater
        .finish()
        .map_err(|_| SamlError::Misconfigured("deflate"))?;
    let mut query = format!("{param}={}", enc(&STANDARD.encode(deflated)));
    if let Some(rs) = relay_state.filter(|r| !r.is_empty()) {
        query.push_str("&RelayState=");
        query.push_str(&enc(rs));
    }
    if let Some(SpKey(pair)) = key {
        query.push_str("&SigAlg=");
        query.push_str(&enc(RSA_SHA256));
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            query.as_bytes(),
            &mut sig,
        )
        .map_err(|_| SamlError::Misconfigured("signing failed"))?;
        query.push_str("&Signature=");
        query.push_str(&enc(&STANDARD.encode(sig)));
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}{query}"))
}

/// A raw query parameter's value (still percent-encoded), the first one.
fn raw_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn decode_param(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A Redirect-binding message (`param` is `SAMLRequest` or `SAMLResponse`) from
/// the raw query string, its signature checked with the identity provider's key:
/// the XML and the RelayState.
pub fn read_redirect(
    query: &str,
    param: &str,
    key: &IdpKey,
    allow_sha1: bool,
) -> Result<(String, Option<String>), SamlError> {
    let message =
        raw_param(query, param).ok_or_else(|| SamlError::Invalid(format!("no {param}")))?;
    let relay = raw_param(query, "RelayState");
    let (Some(sig_alg), Some(signature)) =
        (raw_param(query, "SigAlg"), raw_param(query, "Signature"))
    else {
        return Err(SignatureError::Missing.into());
    };
    // The signed octets are the parameters exactly as sent (SAML bindings 3.4.4.1).
    let mut signed = format!("{param}={message}");
    if let Some(rs) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(rs);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(sig_alg);
    let sig = STANDARD
        .decode(decode_param(signature).replace(['\n', '\r', ' '], ""))
        .map_err(|_| SamlError::Invalid("the Signature is not base64".into()))?;
    key.verify(&decode_param(sig_alg), signed.as_bytes(), &sig, allow_sha1)?;
    let xml = inflate(&decode_param(message))?;
    Ok((xml, relay.map(decode_param)))
}

fn inflate(b64: &str) -> Result<String, SamlError> {
    let raw = STANDARD
        .decode(b64.replace(['\n', '\r', ' '], ""))
        .map_err(|_| SamlError::Invalid("the message is not base64".into()))?;
    let mut xml = String::new();
    DeflateDecoder::new(raw.as_slice())
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_string(&mut xml)
        .map_err(|_| SamlError::Invalid("the message is not deflated XML".into()))?;
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(SamlError::Invalid("the message is too large".into()));
    }
    Ok(xml)
}

/// A POST-binding form field: base64 XML.
pub fn read_post(b64: &str) -> Result<String, SamlError> {
    if b64.len() > MAX_MESSAGE_BYTES * 4 / 3 + 4096 {
        return Err(SamlError::Invalid("the message is too large".into()));
    }
    let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let raw = STANDARD
        .decode(cleaned)
        .map_err(|_| SamlError::Invalid("the message is not base64".into()))?;
    String::from_utf8(raw).map_err(|_| SamlError::Invalid("the message is not UTF-8".into()))
}

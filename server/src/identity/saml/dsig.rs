//! XML signature verification (enveloped signatures, as SAML uses them) with the
//! identity provider's configured certificate, never a key found in the message.
//!
//! Signature wrapping is defeated structurally: a signature is looked for only as
//! a direct child of the element the caller is about to use, its single
//! `Reference` must resolve — by a document-wide unique `ID` — to exactly that
//! element, and the digest is computed over that element. Whatever the caller
//! then reads, it reads from the element that was verified.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use roxmltree::{Document, Node};

use super::c14n::{self, Options};

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the element is not signed")]
    Missing,
    #[error("more than one signature on the element")]
    Several,
    #[error("the signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    #[error("the signature does not cover the element it is attached to")]
    WrongReference,
    #[error("the document has several elements with the ID {0:?}")]
    DuplicateId(String),
    #[error("the signed content was changed (digest mismatch)")]
    Digest,
    #[error("the signature does not verify with the identity provider's certificate")]
    Invalid,
}

/// The identity provider's public key, from its certificate.
#[derive(Clone, Debug)]
pub struct IdpKey {
    /// PKCS#1 `RSAPublicKey` DER.
    rsa: Vec<u8>,
}

impl IdpKey {
    /// From a PEM certificate or its bare base64 body (Rocket.Chat's setting holds
    /// either).
    pub fn from_certificate(text: &str) -> Result<IdpKey, &'static str> {
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| "the certificate is not base64")?;
        let rsa = der::rsa_key_of_certificate(&der).ok_or("the certificate has no RSA key")?;
        Ok(IdpKey { rsa })
    }

    /// Checks an RSA signature of `data` with `algorithm` (a URI).
    pub fn verify(
        &self,
        algorithm: &str,
        data: &[u8],
        sig: &[u8],
        allow_sha1: bool,
    ) -> Result<(), SignatureError> {
        let alg: &'static dyn VerificationAlgorithm = match algorithm {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => {
                &signature::RSA_PKCS1_2048_8192_SHA384
            }
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => {
                &signature::RSA_PKCS1_2048_8192_SHA512
            }
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if allow_sha1 => {
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            other => return Err(SignatureError::Algorithm(other.to_string())),
        };
        UnparsedPublicKey::new(alg, &self.rsa)
            .verify(data, sig)
            .map_err(|_| SignatureError::Invalid)
    }
}

fn digest(algorithm: &str, data: &[u8], allow_sha1: bool) -> Result<Vec<u8>, SignatureError> {
    let alg = match algorithm {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &ring::digest::SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => &ring::digest::SHA384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &ring::digest::SHA512,
        "http://www.w3.org/2000/09/xmldsig#sha1" if allow_sha1 => {
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY
        }
        other => return Err(SignatureError::Algorithm(other.to_string())),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// Refuses a document in which two elements carry the same `ID` (a wrapping
/// attack's favourite trick, and never valid SAML).
pub fn check_unique_ids(doc: &Document<'_>) -> Result<(), SignatureError> {
    let mut seen = std::collections::HashSet::new();
    for n in doc.descendants().filter(Node::is_element) {
        for a in n.attributes().filter(|a| is_id_attr(a.name())) {
            if !seen.insert(a.value()) {
                return Err(SignatureError::DuplicateId(a.value().to_string()));
            }
        }
    }
    Ok(())
}

fn is_id_attr(name: &str) -> bool {
    matches!(name, "ID" | "Id" | "id")
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

/// Whether `element` carries a signature of its own (a direct `ds:Signature` child).
pub fn is_signed(element: Node<'_, '_>) -> bool {
    child(element, DSIG_NS, "Signature").is_some()
}

fn text_b64(node: Option<Node<'_, '_>>) -> Result<Vec<u8>, SignatureError> {
    let text: String = node
        .and_then(|n| n.text())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(text)
        .map_err(|_| SignatureError::Malformed("a value is not base64"))
}

/// Verifies the enveloped signature of `element` (its direct `ds:Signature` child)
/// with `key`. The document's IDs must already be known unique
/// ([`check_unique_ids`]).
pub fn verify_element(
    src: &str,
    doc: &Document<'_>,
    element: Node<'_, '_>,
    key: &IdpKey,
    allow_sha1: bool,
) -> Result<(), SignatureError> {
    let mut sigs = children(element, DSIG_NS, "Signature");
    let sig = sigs.next().ok_or(SignatureError::Missing)?;
    if sigs.next().is_some() {
        return Err(SignatureError::Several);
    }
    let signed_info =
        child(sig, DSIG_NS, "SignedInfo").ok_or(SignatureError::Malformed("no SignedInfo"))?;
    let c14n_alg = child(signed_info, DSIG_NS, "CanonicalizationMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .ok_or(SignatureError::Malformed("no CanonicalizationMethod"))?;
    if c14n_alg != EXC_C14N {
        return Err(SignatureError::Algorithm(c14n_alg.to_string()));
    }
    let sig_alg = child(signed_info, DSIG_NS, "SignatureMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .ok_or(SignatureError::Malformed("no SignatureMethod"))?;
    let mut refs = children(signed_info, DSIG_NS, "Reference");
    let reference = refs
        .next()
        .ok_or(SignatureError::Malformed("no Reference"))?;
    if refs.next().is_some() {
        return Err(SignatureError::Malformed("more than one Reference"));
    }
    // The reference must name this very element, by an ID that only it has.
    let uri = reference.attribute("URI").unwrap_or("");
    let id = uri
        .strip_prefix('#')
        .ok_or(SignatureError::WrongReference)?;
    let own_id = element
        .attributes()
        .find(|a| a.name() == "ID")
        .map(|a| a.value());
    if id.is_empty() || own_id != Some(id) {
        return Err(SignatureError::WrongReference);
    }
    let holders: Vec<_> = doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.attributes()
                    .any(|a| is_id_attr(a.name()) && a.value() == id)
        })
        .collect();
    if holders.len() != 1 || holders[0].id() != element.id() {
        return Err(SignatureError::WrongReference);
    }
    // Transforms: the enveloped-signature one and exclusive C14N, nothing else
    // (XPath or XSLT transforms could select something other than the element).
    let mut prefixes: Vec<String> = Vec::new();
    let mut enveloped = false;
    if let Some(transforms) = child(reference, DSIG_NS, "Transforms") {
        for t in children(transforms, DSIG_NS, "Transform") {
            match t.attribute("Algorithm").unwrap_or("") {
                ENVELOPED => enveloped = true,
                EXC_C14N => {
                    if let Some(list) = t
                        .children()
                        .find(|c| c.is_element() && c.tag_name().name() == "InclusiveNamespaces")
                        .and_then(|n| n.attribute("PrefixList"))
                    {
                        prefixes = list.split_whitespace().map(str::to_string).collect();
                    }
                }
                other => return Err(SignatureError::Algorithm(other.to_string())),
            }
        }
    }
    if !enveloped {
        return Err(SignatureError::Malformed(
            "the signature is not an enveloped one",
        ));
    }
    let digest_alg = child(reference, DSIG_NS, "DigestMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .ok_or(SignatureError::Malformed("no DigestMethod"))?;
    let expected = text_b64(child(reference, DSIG_NS, "DigestValue"))?;
    let signed = c14n::canonicalize(
        src,
        element,
        &Options {
            exclude: Some(sig.id()),
            inclusive_prefixes: &prefixes,
        },
    );
    let actual = digest(digest_alg, signed.as_bytes(), allow_sha1)?;
    if actual != expected {
        return Err(SignatureError::Digest);
    }
    let si_prefixes: Vec<String> = child(signed_info, DSIG_NS, "CanonicalizationMethod")
        .and_then(|m| {
            m.children()
                .find(|c| c.is_element() && c.tag_name().name() == "InclusiveNamespaces")
        })
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let signed_info_c14n = c14n::canonicalize(
        src,
        signed_info,
        &Options {
            exclude: None,
            inclusive_prefixes: &si_prefixes,
        },
    );
    let value = text_b64(child(sig, DSIG_NS, "SignatureValue"))?;
    key.verify(sig_alg, signed_info_c14n.as_bytes(), &value, allow_sha1)
}

/// Just enough DER to take the RSA public key out of an X.509 certificate.
mod der {
    /// One TLV: (tag, content, rest).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    const SEQUENCE: u8 = 0x30;
    const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

    /// `Certificate.tbsCertificate.subjectPublicKeyInfo`'s key when it is RSA.
    pub fn rsa_key_of_certificate(der: &[u8]) -> Option<Vec<u8>> {
        let (tag, cert, _) = tlv(der)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, tbs, _) = tlv(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut rest = tbs;
        let (tag, _, r) = tlv(rest)?;
        // [0] version, then serialNumber.
        if tag == 0xa0 {
            let (_, _, r2) = tlv(r)?;
            rest = r2;
        } else {
            rest = r;
        }
        // signature, issuer, validity, subject.
        for _ in 0..4 {
            let (_, _, r) = tlv(rest)?;
            rest = r;
        }
        let (tag, spki, _) = tlv(rest)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, alg, r) = tlv(spki)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, oid, _) = tlv(alg)?;
        if tag != 0x06 || oid != RSA_OID {
            return None;
        }
        let (tag, bits, _) = tlv(r)?;
        if tag != 0x03 || bits.first() != Some(&0) {
            return None;
        }
        Some(bits[1..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Response signed (Response and Assertion) by xmlsec1 through pysaml2.
    const SIGNED: &str = include_str!("testdata/pysaml2-response.xml");
    const CERT: &str = include_str!("testdata/pysaml2-idp.crt");

    fn assertion<'a, 'i>(doc: &'a Document<'i>) -> Node<'a, 'i> {
        doc.root_element()
            .children()
            .find(|n| n.tag_name().name() == "Assertion")
            .expect("assertion")
    }

    #[test]
    fn verifies_xmlsec1_signatures_over_response_and_assertion() {
        let key = IdpKey::from_certificate(CERT).expect("cert");
        let doc = Document::parse(SIGNED).expect("xml");
        check_unique_ids(&doc).expect("unique ids");
        verify_element(SIGNED, &doc, doc.root_element(), &key, false).expect("response signature");
        verify_element(SIGNED, &doc, assertion(&doc), &key, false).expect("assertion signature");
    }

    #[test]
    fn a_changed_byte_or_another_key_fails() {
        let key = IdpKey::from_certificate(CERT).expect("cert");
        let changed = SIGNED.replacen(">alice</", ">alicf</", 1);
        let doc = Document::parse(&changed).expect("xml");
        assert_eq!(
            verify_element(&changed, &doc, assertion(&doc), &key, false),
            Err(SignatureError::Digest)
        );
        assert_eq!(
            verify_element(&changed, &doc, doc.root_element(), &key, false),
            Err(SignatureError::Digest)
        );
        // The SignedInfo changed: the digest still matches, the signature does not.
        let changed = SIGNED.replacen("Id=\"Signature2\"", "Id=\"Signature2\" ", 1);
        let doc = Document::parse(&changed).expect("xml");
        verify_element(&changed, &doc, assertion(&doc), &key, false)
            .expect("whitespace in a tag is not content");
        let other = "MIIBszCCAVmgAwIBAgIUQvOQ";
        assert!(IdpKey::from_certificate(other).is_err());
    }

    #[test]
    fn sha1_is_refused_unless_allowed() {
        let key = IdpKey::from_certificate(CERT).expect("cert");
        assert_eq!(
            key.verify(
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                b"x",
                b"y",
                false
            ),
            Err(SignatureError::Algorithm(
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into()
            ))
        );
        assert_eq!(
            key.verify(
                "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
                b"x",
                b"y",
                true
            ),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let doc = Document::parse(r#"<a ID="x"><b ID="x"/></a>"#).expect("xml");
        assert_eq!(
            check_unique_ids(&doc),
            Err(SignatureError::DuplicateId("x".into()))
        );
    }
}

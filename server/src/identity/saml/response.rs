//! The assertion consumer's checks of a `samlp:Response` (HTTP-POST binding):
//! signatures per the configured rule, then — reading only from the verified
//! elements — status, `Destination`, the single `Assertion`'s `Conditions`
//! (validity window, `Audience`), bearer `SubjectConfirmation` (`Recipient`,
//! `NotOnOrAfter`, `InResponseTo`), `NameID` and attributes.

use std::collections::BTreeMap;

use roxmltree::{Document, Node};

use super::config::SignatureRule;
use super::dsig::{self, IdpKey};
use super::SamlError;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// Larger messages are refused before parsing.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// What the checks need to know.
pub struct Expect<'a> {
    pub key: &'a IdpKey,
    pub rule: SignatureRule,
    pub allow_sha1: bool,
    /// The assertion consumer service URL (`Destination`, `Recipient`).
    pub acs_url: &'a str,
    /// Our entity id (`Audience`).
    pub audience: &'a str,
    pub now_ms: i64,
    pub drift_ms: i64,
    /// Accept a Response without `InResponseTo` (IdP-initiated sign-in).
    pub allow_unsolicited: bool,
}

/// A verified assertion.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub assertion_id: String,
    /// The Response's `ID` (single use, with the assertion's).
    pub response_id: String,
    /// The request this answers (the Response's `InResponseTo`); empty for an
    /// IdP-initiated Response, when those are allowed.
    pub in_response_to: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: Option<String>,
    /// Until when the assertion could be presented (for the replay cache).
    pub valid_until_ms: i64,
    /// Attribute name (and friendly name) → values.
    pub attributes: BTreeMap<String, Vec<String>>,
}

pub(super) fn el<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

pub(super) fn els<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name
    })
}

pub(super) fn text_of(node: Option<Node<'_, '_>>) -> String {
    node.map(|n| {
        n.descendants()
            .filter(Node::is_text)
            .filter_map(|t| t.text())
            .collect::<String>()
    })
    .unwrap_or_default()
    .trim()
    .to_string()
}

/// An `xs:dateTime` in milliseconds since the epoch.
pub(super) fn time_ms(value: &str) -> Result<i64, SamlError> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| SamlError::Invalid(format!("bad time {value:?}")))
}

/// Parses XML from an identity provider: no DTD (entity tricks), bounded size.
pub fn parse(xml: &str) -> Result<Document<'_>, SamlError> {
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(SamlError::Invalid("the message is too large".into()));
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = Document::parse_with_options(xml, opts)
        .map_err(|e| SamlError::Invalid(format!("not XML: {e}")))?;
    dsig::check_unique_ids(&doc)?;
    Ok(doc)
}

/// Checks a decoded Response.
pub fn verify(xml: &str, expect: &Expect<'_>) -> Result<Verified, SamlError> {
    let doc = parse(xml)?;
    let response = doc.root_element();
    if response.tag_name().namespace() != Some(PROTOCOL_NS)
        || response.tag_name().name() != "Response"
    {
        return Err(SamlError::Invalid("not a SAML Response".into()));
    }
    // Decrypting needs RSA-OAEP with our private key: `ring` has no RSA
    // decryption, and the `rsa` crate's open advisory RUSTSEC-2023-0071 (the
    // Marvin timing side channel) is about exactly that operation, on a path any
    // network peer can drive. So encrypted assertions are refused, clearly.
    if el(response, ASSERTION_NS, "EncryptedAssertion").is_some() {
        return Err(SamlError::Encrypted);
    }
    let mut assertions = els(response, ASSERTION_NS, "Assertion");
    let assertion = assertions
        .next()
        .ok_or_else(|| SamlError::Invalid("the Response has no Assertion".into()))?;
    if assertions.next().is_some() {
        return Err(SamlError::Invalid(
            "the Response has several Assertions".into(),
        ));
    }
    // Signatures first: nothing is read from an element before it is verified.
    let verify =
        |n: Node<'_, '_>| dsig::verify_element(xml, &doc, n, expect.key, expect.allow_sha1);
    let response_signed = dsig::is_signed(response);
    let assertion_signed = dsig::is_signed(assertion);
    match expect.rule {
        SignatureRule::Response => verify(response)?,
        SignatureRule::Assertion => verify(assertion)?,
        SignatureRule::All => {
            verify(response)?;
            verify(assertion)?;
        }
        SignatureRule::Either => {
            if !response_signed && !assertion_signed {
                return Err(dsig::SignatureError::Missing.into());
            }
            if response_signed {
                verify(response)?;
            }
            if assertion_signed {
                verify(assertion)?;
            }
        }
    }
    let destination = response.attribute("Destination").unwrap_or("");
    if !destination.is_empty() && destination != expect.acs_url {
        return Err(SamlError::Invalid(format!(
            "the Response is for {destination:?}, not this server"
        )));
    }
    let status = el(response, PROTOCOL_NS, "Status")
        .and_then(|s| el(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or("");
    if status != SUCCESS {
        return Err(SamlError::Denied(status.to_string()));
    }
    let in_response_to = response.attribute("InResponseTo").unwrap_or("").to_string();
    if in_response_to.is_empty() && !expect.allow_unsolicited {
        return Err(SamlError::Invalid(
            "unsolicited Response (no InResponseTo): sign-in must start here".into(),
        ));
    }
    let response_id = response.attribute("ID").unwrap_or("").to_string();
    if response_id.is_empty() {
        return Err(SamlError::Invalid("the Response has no ID".into()));
    }
    let mut verified = check_assertion(assertion, &in_response_to, expect)?;
    verified.response_id = response_id;
    Ok(verified)
}

fn check_assertion(
    a: Node<'_, '_>,
    in_response_to: &str,
    expect: &Expect<'_>,
) -> Result<Verified, SamlError> {
    let now = expect.now_ms;
    let drift = expect.drift_ms;
    let assertion_id = a.attribute("ID").unwrap_or("").to_string();
    if assertion_id.is_empty() {
        return Err(SamlError::Invalid("the Assertion has no ID".into()));
    }
    let issuer = text_of(el(a, ASSERTION_NS, "Issuer"));
    // Conditions: the validity window and our audience are required.
    let conditions = el(a, ASSERTION_NS, "Conditions")
        .ok_or_else(|| SamlError::Invalid("no Conditions".into()))?;
    let mut valid_until = i64::MAX;
    if let Some(nb) = conditions.attribute("NotBefore") {
        if time_ms(nb)? > now + drift {
            return Err(SamlError::Expired("the assertion is not valid yet".into()));
        }
    }
    if let Some(na) = conditions.attribute("NotOnOrAfter") {
        let t = time_ms(na)?;
        if t + drift <= now {
            return Err(SamlError::Expired("the assertion has expired".into()));
        }
        valid_until = valid_until.min(t + drift);
    }
    let restrictions: Vec<_> = els(conditions, ASSERTION_NS, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(SamlError::Audience(
            "the assertion names no audience".into(),
        ));
    }
    // Every restriction must name us (they are ANDed).
    for r in &restrictions {
        let ok = els(*r, ASSERTION_NS, "Audience").any(|n| text_of(Some(n)) == expect.audience);
        if !ok {
            return Err(SamlError::Audience(format!(
                "the assertion is for another audience, not {:?}",
                expect.audience
            )));
        }
    }
    // Subject: a bearer confirmation for our ACS, unexpired, for our request.
    let subject =
        el(a, ASSERTION_NS, "Subject").ok_or_else(|| SamlError::Invalid("no Subject".into()))?;
    let name_id_node = el(subject, ASSERTION_NS, "NameID").ok_or_else(|| {
        SamlError::Invalid("no NameID (encrypted NameIDs are not supported)".into())
    })?;
    let name_id = text_of(Some(name_id_node));
    if name_id.is_empty() {
        return Err(SamlError::Invalid("empty NameID".into()));
    }
    let mut confirmed = false;
    let mut why = String::from("no bearer SubjectConfirmation");
    for sc in els(subject, ASSERTION_NS, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = el(sc, ASSERTION_NS, "SubjectConfirmationData") else {
            why = "no SubjectConfirmationData".into();
            continue;
        };
        if data.attribute("Recipient") != Some(expect.acs_url) {
            why = format!(
                "the Recipient is {:?}",
                data.attribute("Recipient").unwrap_or("")
            );
            continue;
        }
        let Some(na) = data.attribute("NotOnOrAfter") else {
            why = "the confirmation has no NotOnOrAfter".into();
            continue;
        };
        let t = time_ms(na)?;
        if t + drift <= now {
            return Err(SamlError::Expired(
                "the subject confirmation has expired".into(),
            ));
        }
        if let Some(nb) = data.attribute("NotBefore") {
            if time_ms(nb)? > now + drift {
                return Err(SamlError::Expired(
                    "the subject confirmation is not valid yet".into(),
                ));
            }
        }
        if data
            .attribute("InResponseTo")
            .is_some_and(|v| v != in_response_to)
        {
            why = "the confirmation answers another request".into();
            continue;
        }
        valid_until = valid_until.min(t + drift);
        confirmed = true;
        break;
    }
    if !confirmed {
        return Err(SamlError::Invalid(why));
    }
    let session_index = el(a, ASSERTION_NS, "AuthnStatement")
        .and_then(|s| s.attribute("SessionIndex"))
        .map(str::to_string);
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in els(a, ASSERTION_NS, "AttributeStatement") {
        for attr in els(statement, ASSERTION_NS, "Attribute") {
            let values: Vec<String> = els(attr, ASSERTION_NS, "AttributeValue")
                .map(|v| text_of(Some(v)))
                .collect();
            for key in [attr.attribute("Name"), attr.attribute("FriendlyName")]
                .into_iter()
                .flatten()
            {
                attributes
                    .entry(key.to_string())
                    .or_default()
                    .extend(values.clone());
            }
        }
    }
    Ok(Verified {
        assertion_id,
        response_id: String::new(),
        in_response_to: in_response_to.to_string(),
        issuer,
        name_id,
        name_id_format: name_id_node.attribute("Format").unwrap_or("").to_string(),
        session_index,
        valid_until_ms: if valid_until == i64::MAX {
            now + 3_600_000
        } else {
            valid_until
        },
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("testdata/pysaml2-idp.crt");

    fn expect(key: &IdpKey, allow_unsolicited: bool) -> Expect<'_> {
        Expect {
            key,
            rule: SignatureRule::All,
            allow_sha1: false,
            acs_url: "http://sp/_saml/validate/p",
            audience: "http://sp/_saml/metadata/p",
            now_ms: 0,
            drift_ms: 0,
            allow_unsolicited,
        }
    }

    #[test]
    fn an_encrypted_assertion_is_refused_with_its_own_error() {
        let key = IdpKey::from_certificate(CERT).expect("cert");
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="r1" InResponseTo="q1">
<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>
</samlp:Response>"#
        );
        assert!(matches!(
            verify(&xml, &expect(&key, false)),
            Err(SamlError::Encrypted)
        ));
        assert_eq!(SamlError::Encrypted.error_type(), "error-saml-encrypted");
    }
}

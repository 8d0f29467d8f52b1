//! The XML this service provider writes: AuthnRequest, LogoutRequest,
//! LogoutResponse and its metadata; and the reading of the identity provider's
//! logout messages (after their signature was checked by the binding).

use super::response::{el, parse, text_of, time_ms, ASSERTION_NS, PROTOCOL_NS};
use super::SamlError;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Escapes text for an attribute value or element content.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn instant() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An unguessable message id (an XML NCName: starts with a letter or `_`).
pub fn new_id() -> String {
    format!("_{}", hex::encode(rand::random::<[u8; 20]>()))
}

pub fn authn_request(id: &str, issuer: &str, destination: &str, acs_url: &str) -> String {
    format!(
        r#"<samlp:AuthnRequest xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" AssertionConsumerServiceURL="{}"><saml:Issuer>{}</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#,
        instant(),
        esc(destination),
        esc(acs_url),
        esc(issuer)
    )
}

pub fn logout_request(
    id: &str,
    issuer: &str,
    destination: &str,
    name_id: &str,
    name_id_format: &str,
    session_index: Option<&str>,
) -> String {
    let format = if name_id_format.is_empty() {
        String::new()
    } else {
        format!(r#" Format="{}""#, esc(name_id_format))
    };
    let session = session_index
        .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", esc(s)))
        .unwrap_or_default();
    format!(
        r#"<samlp:LogoutRequest xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{}"><saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{session}</samlp:LogoutRequest>"#,
        instant(),
        esc(destination),
        esc(issuer),
        esc(name_id)
    )
}

pub fn logout_response(id: &str, issuer: &str, destination: &str, in_response_to: &str) -> String {
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{}" Destination="{}" InResponseTo="{}"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"#,
        instant(),
        esc(destination),
        esc(in_response_to),
        esc(issuer)
    )
}

/// The service provider's metadata (`/_saml/metadata/<provider>`).
pub fn metadata(issuer: &str, acs_url: &str, slo_url: &str, cert: &str, signs: bool) -> String {
    let body: String = cert
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let key = if body.is_empty() {
        String::new()
    } else {
        format!(
            r#"<KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>"#,
            esc(&body)
        )
    };
    format!(
        r#"<?xml version="1.0"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="{signs}" WantAssertionsSigned="true">{key}<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{}" ResponseLocation="{}"/><NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</NameIDFormat><AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}"/></SPSSODescriptor></EntityDescriptor>
"#,
        esc(issuer),
        esc(slo_url),
        esc(slo_url),
        esc(acs_url)
    )
}

/// An identity provider's LogoutRequest.
#[derive(Debug, PartialEq)]
pub struct LogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
}

/// Reads a LogoutRequest whose signature the binding checked.
pub fn read_logout_request(
    xml: &str,
    slo_url: &str,
    now_ms: i64,
    drift_ms: i64,
) -> Result<LogoutRequest, SamlError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) || root.tag_name().name() != "LogoutRequest"
    {
        return Err(SamlError::Invalid("not a LogoutRequest".into()));
    }
    check_destination(root.attribute("Destination"), slo_url)?;
    if let Some(na) = root.attribute("NotOnOrAfter") {
        if time_ms(na)? + drift_ms <= now_ms {
            return Err(SamlError::Expired("the LogoutRequest has expired".into()));
        }
    }
    let id = root.attribute("ID").unwrap_or("").to_string();
    let name_id = text_of(el(root, ASSERTION_NS, "NameID"));
    if id.is_empty() || name_id.is_empty() {
        return Err(SamlError::Invalid(
            "the LogoutRequest has no ID or NameID".into(),
        ));
    }
    let session_indexes = root
        .children()
        .filter(|c| {
            c.is_element()
                && c.tag_name().namespace() == Some(PROTOCOL_NS)
                && c.tag_name().name() == "SessionIndex"
        })
        .map(|c| text_of(Some(c)))
        .collect();
    Ok(LogoutRequest {
        id,
        name_id,
        session_indexes,
    })
}

/// Reads a LogoutResponse whose signature the binding checked: the request it
/// answers, when the identity provider reports success.
pub fn read_logout_response(xml: &str, slo_url: &str) -> Result<String, SamlError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS)
        || root.tag_name().name() != "LogoutResponse"
    {
        return Err(SamlError::Invalid("not a LogoutResponse".into()));
    }
    check_destination(root.attribute("Destination"), slo_url)?;
    let status = el(root, PROTOCOL_NS, "Status")
        .and_then(|s| el(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or("");
    if status != SUCCESS {
        return Err(SamlError::Denied(status.to_string()));
    }
    let irt = root.attribute("InResponseTo").unwrap_or("");
    if irt.is_empty() {
        return Err(SamlError::Invalid(
            "the LogoutResponse has no InResponseTo".into(),
        ));
    }
    Ok(irt.to_string())
}

fn check_destination(dest: Option<&str>, ours: &str) -> Result<(), SamlError> {
    match dest {
        Some(d) if !d.is_empty() && d != ours => Err(SamlError::Invalid(format!(
            "the message is for {d:?}, not this server"
        ))),
        _ => Ok(()),
    }
}

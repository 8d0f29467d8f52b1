//! The provider's claims: the userinfo answer merged into the ID token's, the
//! stable subject, and claims read by dotted path as Rocket.Chat's field settings
//! name them.

use serde_json::{Map, Value};

use super::{Claims, OAuthError, OAuthResult};

/// Adds the userinfo answer to the ID token's claims. For OIDC the userinfo `sub`
/// must be the ID token's (OIDC Core 5.3.2), else a token substitution would work.
pub(super) fn merge_userinfo(
    claims: &mut Map<String, Value>,
    info: Value,
    oidc: bool,
) -> OAuthResult<()> {
    // Some providers wrap the user (`{"user": {...}}`, `{"data": {...}}`), as
    // Rocket.Chat's custom OAuth accepts.
    let info = match info {
        Value::Object(mut o)
            if o.len() == 1 && (o.contains_key("user") || o.contains_key("data")) =>
        {
            match o.remove("user").or_else(|| o.remove("data")) {
                Some(Value::Object(inner)) => inner,
                _ => Map::new(),
            }
        }
        Value::Object(o) => o,
        _ => {
            return Err(OAuthError::Provider(
                "the userinfo answer is not an object".into(),
            ))
        }
    };
    if oidc {
        if let (Some(a), Some(b)) = (claims.get("sub"), info.get("sub")) {
            if a != b {
                return Err(OAuthError::Provider(
                    "the userinfo subject differs from the ID token's".into(),
                ));
            }
        }
    }
    for (k, v) in info {
        claims.entry(k).or_insert(v);
    }
    Ok(())
}

pub(super) fn claims_of(all: Map<String, Value>) -> OAuthResult<Claims> {
    let subject = ["sub", "id", "user_id", "uid"]
        .iter()
        .find_map(|k| match all.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .ok_or(OAuthError::NoSubject)?;
    Ok(Claims { subject, all })
}

/// A claim by dotted path (`profile.email`, as Rocket.Chat's field settings allow).
pub fn claim<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

/// A string claim by dotted path, when non-empty.
pub fn claim_str(claims: &Map<String, Value>, path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    match claim(claims, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn userinfo_cannot_change_the_subject_of_an_id_token() {
        let mut claims = json!({"sub": "alice"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let err = merge_userinfo(&mut claims, json!({"sub": "mallory"}), true);
        assert!(matches!(err, Err(OAuthError::Provider(_))));
        let mut claims = json!({"sub": "alice"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        merge_userinfo(&mut claims, json!({"sub": "alice", "email": "a@x"}), true).expect("merge");
        assert_eq!(claims.get("email"), Some(&json!("a@x")));
    }

    #[test]
    fn claims_by_dotted_path() {
        let c = json!({"profile": {"email": "a@x"}, "id": 42})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(claim_str(&c, "profile.email").as_deref(), Some("a@x"));
        assert_eq!(claims_of(c).map(|c| c.subject).ok().as_deref(), Some("42"));
    }
}

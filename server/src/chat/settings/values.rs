//! Checking a value against its setting's type, and showing values to readers: a
//! bad value is refused with the reason before anything is stored, and a secret's
//! value never leaves the server.

use serde_json::{json, Value};

use super::registry::{Check, Def, Kind};

/// Checks `value` against `def`; returns the value to store (normalized: an int
/// given as `5.0` is stored as `5`).
pub fn validate(def: &Def, value: &Value) -> Result<Value, String> {
    match def.kind {
        Kind::Int { min, max } => {
            let n = value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| format!("{} must be an integer, not {value}", def.id))?;
            if n < min || n > max {
                return Err(format!(
                    "{} must be between {min} and {max}, not {n}",
                    def.id
                ));
            }
            Ok(json!(n))
        }
        Kind::Boolean => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| format!("{} must be true or false, not {value}", def.id)),
        Kind::Select(keys) => {
            let s = value.as_str().unwrap_or_default();
            if keys.contains(&s) {
                Ok(json!(s))
            } else {
                Err(format!(
                    "{} must be one of {}, not {value}",
                    def.id,
                    keys.iter()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Kind::String | Kind::Code | Kind::Password => {
            let s = value
                .as_str()
                .ok_or_else(|| format!("{} must be a string, not {value}", def.id))?;
            if s.chars().count() > def.max_chars {
                return Err(format!(
                    "{} must be at most {} characters",
                    def.id, def.max_chars
                ));
            }
            check(def.check, s).map_err(|reason| format!("{} {reason}", def.id))?;
            Ok(json!(s))
        }
        Kind::Action(_) => Err(format!(
            "{} is an action: run it with {{\"execute\": true}}",
            def.id
        )),
    }
}

/// A value given as text (an environment variable), typed as `def` wants it.
pub fn from_text(def: &Def, raw: &str) -> Result<Value, String> {
    let value = match def.kind {
        Kind::Int { .. } => match raw.trim().parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => return Err(format!("{} must be an integer, not {raw:?}", def.id)),
        },
        Kind::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => json!(true),
            "false" | "0" | "no" => json!(false),
            _ => return Err(format!("{} must be true or false, not {raw:?}", def.id)),
        },
        _ => json!(raw),
    };
    validate(def, &value)
}

fn check(rule: Check, s: &str) -> Result<(), String> {
    match rule {
        Check::None => Ok(()),
        Check::NonEmpty if s.trim().is_empty() => Err("must not be empty".into()),
        Check::NonEmpty => Ok(()),
        Check::HttpUrl => http_url(s),
        Check::EmailOrEmpty if s.is_empty() => Ok(()),
        Check::EmailOrEmpty => crate::chat::accounts::validate_email(s)
            .map_err(|_| format!("must be an e-mail address, not {s:?}")),
        Check::HostOrEmpty if s.is_empty() => Ok(()),
        Check::HostOrEmpty => host(s),
        Check::Pattern => pattern(s),
        Check::RegexOrEmpty if s.is_empty() => Ok(()),
        Check::RegexOrEmpty => regex::Regex::new(s)
            .map(|_| ())
            .map_err(|e| format!("is not a regular expression: {e}")),
        Check::Version => {
            let parts: Vec<&str> = s.split('.').collect();
            let ok = parts.len() == 3
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit())
                });
            if ok {
                Ok(())
            } else {
                Err(format!("must be a version such as 8.4.0, not {s:?}"))
            }
        }
        Check::Language => {
            let ok = (2..=16).contains(&s.len())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && s.as_bytes()[0].is_ascii_alphabetic();
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "must be a language tag such as en or pt-BR, not {s:?}"
                ))
            }
        }
    }
}

fn http_url(s: &str) -> Result<(), String> {
    let url = url::Url::parse(s).map_err(|e| format!("must be a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("must be an http:// or https:// URL, not {s:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(())
}

fn host(s: &str) -> Result<(), String> {
    let ok = s.len() <= 253
        && s.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok || s.parse::<std::net::IpAddr>().is_ok() {
        Ok(())
    } else {
        Err(format!("must be a host name or address, not {s:?}"))
    }
}

/// A name-validation pattern: non-empty with balanced brackets, so it can be
/// compiled where names are checked.
fn pattern(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    let mut stack = Vec::new();
    let mut chars = s.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            // The guard consumes the escaped character.
            '\\' if chars.next().is_none() => {
                return Err("must not end with a backslash".into());
            }
            '\\' => {}
            ']' if in_class => in_class = false,
            _ if in_class => {}
            '[' => in_class = true,
            '(' | '{' => stack.push(c),
            ')' | '}' => {
                let open = if c == ')' { '(' } else { '{' };
                if stack.pop() != Some(open) {
                    return Err(format!("is not a valid pattern: unbalanced {c:?}"));
                }
            }
            _ => {}
        }
    }
    if in_class || !stack.is_empty() {
        return Err("is not a valid pattern: unclosed bracket".into());
    }
    Ok(())
}

/// Whether a secret holds a value (what readers see instead of the value).
pub fn is_set(value: &Value) -> bool {
    !matches!(value, Value::Null) && value.as_str() != Some("")
}

/// `value` as readers may see it: a secret's value is replaced by an empty string
/// (its `set` flag tells whether it has one).
pub fn shown(def: &Def, value: &Value) -> Value {
    if def.secret() {
        json!("")
    } else {
        value.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::find;
    use super::*;

    fn def(id: &str) -> &'static Def {
        find(id).expect("defined")
    }

    #[test]
    fn each_type_refuses_what_it_cannot_hold() {
        let bad: &[(&str, Value)] = &[
            ("Message_MaxAllowedSize", json!("many")),
            ("Message_MaxAllowedSize", json!(0)),
            ("Message_MaxAllowedSize", json!(1.5)),
            ("Message_AllowEditing", json!("yes")),
            ("Accounts_RegistrationForm", json!("Open")),
            ("Site_Name", json!(5)),
            ("Site_Name", json!("  ")),
            ("Site_Url", json!("chat.example.com")),
            ("From_Email", json!("nobody")),
            ("SMTP_Host", json!("bad host")),
            ("UTF8_User_Names_Validation", json!("[a-z")),
            ("Language", json!("english!")),
            ("SMTP_Test_Button", json!("x")),
        ];
        for (id, value) in bad {
            let e = validate(def(id), value).expect_err(id);
            assert!(e.starts_with(id), "{id}: {e}");
        }
    }

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(
            validate(def("Message_MaxAllowedSize"), &json!(10.0)),
            Ok(json!(10))
        );
        assert_eq!(validate(def("From_Email"), &json!("")), Ok(json!("")));
        assert_eq!(
            from_text(def("Message_AllowEditing"), "FALSE"),
            Ok(json!(false))
        );
        assert_eq!(from_text(def("SMTP_Password"), "0123"), Ok(json!("0123")));
        assert!(from_text(def("SMTP_Port"), "x").is_err());
    }

    #[test]
    fn secrets_are_never_shown() {
        assert_eq!(shown(def("SMTP_Password"), &json!("hunter2")), json!(""));
        assert_eq!(shown(def("SMTP_Host"), &json!("mx")), json!("mx"));
    }
}

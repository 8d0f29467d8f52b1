//! The workspace's password policy (Rocket.Chat's `Accounts_Password_Policy_*`
//! settings), checked wherever a password is chosen: registration, account
//! creation, a user changing their own, an admin resetting one.

use serde_json::{json, Value};

use super::error::{ChatError, ChatResult};
use super::settings::Settings;

/// One rule a password breaks, as Rocket.Chat names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub error: &'static str,
    pub message: &'static str,
}

/// The policy as the settings define it right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub enabled: bool,
    /// `-1` (or `0`): no minimum.
    pub min_length: i64,
    /// `-1` (or `0`): no maximum.
    pub max_length: i64,
    pub forbid_repeating: bool,
    /// A character may appear at most this many times in a row.
    pub repeating_count: i64,
    pub lowercase: bool,
    pub uppercase: bool,
    pub number: bool,
    pub special: bool,
}

impl PasswordPolicy {
    pub fn from_settings(s: &Settings) -> PasswordPolicy {
        let p = |k: &str| format!("Accounts_Password_Policy_{k}");
        PasswordPolicy {
            enabled: s.bool(&p("Enabled")),
            min_length: s.int(&p("MinLength")),
            max_length: s.int(&p("MaxLength")),
            forbid_repeating: s.bool(&p("ForbidRepeatingCharacters")),
            repeating_count: s.int(&p("ForbidRepeatingCharactersCount")),
            lowercase: s.bool(&p("AtLeastOneLowercase")),
            uppercase: s.bool(&p("AtLeastOneUppercase")),
            number: s.bool(&p("AtLeastOneNumber")),
            special: s.bool(&p("AtLeastOneSpecialCharacter")),
        }
    }

    /// Every rule `password` breaks (none when the policy is off).
    pub fn violations(&self, password: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        if !self.enabled {
            return out;
        }
        let len = password.encode_utf16().count() as i64;
        let mut add = |error, message| out.push(Violation { error, message });
        if self.min_length >= 1 && len < self.min_length {
            add(
                "error-password-policy-not-met-minLength",
                "The password does not meet the minimum length password policy.",
            );
        }
        if self.max_length >= 1 && len > self.max_length {
            add(
                "error-password-policy-not-met-maxLength",
                "The password does not meet the maximum length password policy.",
            );
        }
        if self.forbid_repeating && longest_run(password) > self.repeating_count.max(1) as usize {
            add(
                "error-password-policy-not-met-repeatingCharacters",
                "The password contains repeating characters which is against the password policy.",
            );
        }
        if self.lowercase && !password.chars().any(|c| c.is_ascii_lowercase()) {
            add(
                "error-password-policy-not-met-oneLowercase",
                "The password does not contain at least one lowercase character which is against the password policy.",
            );
        }
        if self.uppercase && !password.chars().any(|c| c.is_ascii_uppercase()) {
            add(
                "error-password-policy-not-met-oneUppercase",
                "The password does not contain at least one uppercase character which is against the password policy.",
            );
        }
        if self.number && !password.chars().any(|c| c.is_ascii_digit()) {
            add(
                "error-password-policy-not-met-oneNumber",
                "The password does not contain at least one numerical character which is against the password policy.",
            );
        }
        if self.special
            && !password
                .chars()
                .any(|c| !c.is_ascii_alphanumeric() && c != ' ')
        {
            add(
                "error-password-policy-not-met-oneSpecial",
                "The password does not contain at least one special character which is against the password policy.",
            );
        }
        out
    }

    /// Refuses an empty password always, and one breaking an enabled policy.
    pub fn check(&self, password: &str) -> ChatResult<()> {
        if password.trim().is_empty() {
            return Err(ChatError::PasswordPolicy(Vec::new()));
        }
        let violations = self.violations(password);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ChatError::PasswordPolicy(violations))
        }
    }

    /// `pw.getPolicy`'s answer: `{enabled, policy: [[name, {option}]…]}`.
    pub fn describe(&self) -> Value {
        let mut policy: Vec<Value> = Vec::new();
        if self.enabled {
            if self.min_length >= 1 {
                policy
                    .push(json!(["get-password-policy-minLength", {"minLength": self.min_length}]));
            }
            if self.max_length >= 1 {
                policy
                    .push(json!(["get-password-policy-maxLength", {"maxLength": self.max_length}]));
            }
            if self.forbid_repeating {
                policy.push(json!(["get-password-policy-forbidRepeatingCharacters"]));
            }
            if self.repeating_count != 0 {
                policy.push(json!(["get-password-policy-forbidRepeatingCharactersCount",
                    {"forbidRepeatingCharactersCount": self.repeating_count}]));
            }
            for (on, name) in [
                (
                    self.lowercase,
                    "get-password-policy-mustContainAtLeastOneLowercase",
                ),
                (
                    self.uppercase,
                    "get-password-policy-mustContainAtLeastOneUppercase",
                ),
                (
                    self.number,
                    "get-password-policy-mustContainAtLeastOneNumber",
                ),
                (
                    self.special,
                    "get-password-policy-mustContainAtLeastOneSpecialCharacter",
                ),
            ] {
                if on {
                    policy.push(json!([name]));
                }
            }
        }
        json!({"enabled": self.enabled, "policy": policy})
    }
}

/// The longest run of one character repeated.
fn longest_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut prev = None;
    for c in s.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        prev = Some(c);
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> PasswordPolicy {
        PasswordPolicy {
            enabled: true,
            min_length: 7,
            max_length: -1,
            forbid_repeating: true,
            repeating_count: 3,
            lowercase: true,
            uppercase: true,
            number: true,
            special: true,
        }
    }

    fn errors(p: &PasswordPolicy, pw: &str) -> Vec<&'static str> {
        p.violations(pw).into_iter().map(|v| v.error).collect()
    }

    #[test]
    fn each_rule_is_reported() {
        let p = strict();
        assert!(errors(&p, "Abcdef1!").is_empty());
        assert_eq!(
            errors(&p, "Ab1!"),
            ["error-password-policy-not-met-minLength"]
        );
        assert_eq!(
            errors(&p, "Aaaaa1!x"),
            ["error-password-policy-not-met-repeatingCharacters"]
        );
        assert_eq!(
            errors(&p, "Aaa1!xyz"),
            Vec::<&str>::new(),
            "three in a row is allowed"
        );
        assert_eq!(
            errors(&p, "ABCDEF1!"),
            ["error-password-policy-not-met-oneLowercase"]
        );
        assert_eq!(
            errors(&p, "abcdef1!"),
            ["error-password-policy-not-met-oneUppercase"]
        );
        assert_eq!(
            errors(&p, "Abcdefg!"),
            ["error-password-policy-not-met-oneNumber"]
        );
        assert_eq!(
            errors(&p, "Abcdefg1"),
            ["error-password-policy-not-met-oneSpecial"]
        );
        let short_max = PasswordPolicy {
            max_length: 5,
            ..strict()
        };
        assert_eq!(
            errors(&short_max, "Abcdef1!"),
            ["error-password-policy-not-met-maxLength"]
        );
    }

    #[test]
    fn a_disabled_policy_only_refuses_empty_passwords() {
        let off = PasswordPolicy {
            enabled: false,
            ..strict()
        };
        assert!(off.check("a").is_ok());
        assert!(off.check("  ").is_err());
        assert_eq!(off.describe(), json!({"enabled": false, "policy": []}));
    }
}

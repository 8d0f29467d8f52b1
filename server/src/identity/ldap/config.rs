//! The directory configuration, read from the live `LDAP_*` workspace settings at
//! the start of each login or sync (changes apply without a restart).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::chat::settings::Settings;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    Plain,
    /// `ldap://` then the StartTLS extended operation.
    StartTls,
    /// `ldaps://`.
    Ldaps,
}

/// The search scope under the base DN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchScope {
    Base,
    One,
    Sub,
}

/// Group name → the roles or channels it gives.
pub type GroupMap = BTreeMap<String, Vec<String>>;

/// Group membership checks for roles or channels.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSync {
    pub base_dn: String,
    /// With `#{groupName}`, `#{username}`, `#{userdn}` placeholders.
    pub filter: String,
    pub map: GroupMap,
    /// Remove what the map gives but the groups no longer do.
    pub remove_unmapped: bool,
}

/// Which directory state the sync applies to `active`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveStateSync {
    pub disable: bool,
    pub enable: bool,
}

#[derive(Clone, Debug)]
pub struct LdapConfig {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    pub ca_pem: String,
    pub reject_unauthorized: bool,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Service bind (DN, password); `None`: anonymous search.
    pub bind: Option<(String, String)>,
    pub base_dn: String,
    pub user_filter: String,
    pub scope: SearchScope,
    pub search_fields: Vec<String>,
    pub page_size: i32,
    pub size_limit: i32,
    pub unique_fields: Vec<String>,
    pub username_field: String,
    pub email_field: String,
    pub name_field: String,
    pub default_domain: String,
    pub merge_existing: bool,
    pub update_on_login: bool,
    /// The photo attributes read for the avatar, first found wins; empty: none.
    pub avatar_fields: Vec<String>,
    pub login_fallback: bool,
    pub roles: Option<GroupSync>,
    pub channels: Option<GroupSync>,
    pub channels_admin: String,
    pub background_sync: bool,
    pub sync_interval: Duration,
    pub import_new: bool,
    pub keep_updated: bool,
    pub disable_missing: bool,
    pub active_state: ActiveStateSync,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `{"group": "role"}` or `{"group": ["a", "b"]}`; anything else is ignored (logged).
pub fn parse_group_map(setting: &str, text: &str) -> GroupMap {
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            if !text.trim().is_empty() {
                tracing::warn!(setting, error = %e, "LDAP group map is not JSON; ignored");
            }
            return GroupMap::new();
        }
    };
    let mut map = GroupMap::new();
    if let Value::Object(o) = parsed {
        for (group, target) in o {
            let targets: Vec<String> = match target {
                Value::String(s) => vec![s],
                Value::Array(a) => a
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => continue,
            };
            let targets: Vec<String> = targets
                .into_iter()
                .map(|t| t.trim().trim_start_matches('#').to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if !targets.is_empty() {
                map.insert(group, targets);
            }
        }
    }
    map
}

/// `every_N_minutes` / `every_N_hours` (the select's keys).
pub fn parse_interval(key: &str) -> Duration {
    let mut parts = key.split('_');
    let n: u64 = parts.nth(1).and_then(|n| n.parse().ok()).unwrap_or(24);
    match parts.next() {
        Some("minutes") => Duration::from_secs(n.max(1) * 60),
        _ => Duration::from_secs(n.max(1) * 3600),
    }
}

impl LdapConfig {
    pub fn from_settings(s: &Settings) -> LdapConfig {
        let ad = s.string("LDAP_Server_Type") == "ad";
        let pick = |ad_id: &str, id: &str| s.string(if ad { ad_id } else { id });
        let groups = |on: &str, base: &str, filter: &str, map: &str, remove: &str| {
            s.bool(on).then(|| GroupSync {
                base_dn: s.string(base),
                filter: s.string(filter),
                map: parse_group_map(map, &s.string(map)),
                remove_unmapped: s.bool(remove),
            })
        };
        let bind_dn = s.string("LDAP_Authentication_UserDN");
        let state = s.string("LDAP_Sync_User_Active_State");
        LdapConfig {
            enabled: s.bool("LDAP_Enable"),
            host: s.string("LDAP_Host").trim().to_string(),
            port: u16::try_from(s.int("LDAP_Port")).unwrap_or(389),
            encryption: match s.string("LDAP_Encryption").as_str() {
                "tls" => Encryption::StartTls,
                "ssl" => Encryption::Ldaps,
                _ => Encryption::Plain,
            },
            ca_pem: s.string("LDAP_CA_Cert"),
            reject_unauthorized: s.bool("LDAP_Reject_Unauthorized"),
            timeout: Duration::from_millis(s.int("LDAP_Timeout").max(100) as u64),
            connect_timeout: Duration::from_millis(s.int("LDAP_Connect_Timeout").max(100) as u64),
            bind: (s.bool("LDAP_Authentication") && !bind_dn.is_empty())
                .then(|| (bind_dn, s.string("LDAP_Authentication_Password"))),
            base_dn: s.string("LDAP_BaseDN"),
            user_filter: s.string("LDAP_User_Search_Filter"),
            scope: match s.string("LDAP_User_Search_Scope").as_str() {
                "base" => SearchScope::Base,
                "one" => SearchScope::One,
                _ => SearchScope::Sub,
            },
            search_fields: list(&pick("LDAP_AD_User_Search_Field", "LDAP_User_Search_Field")),
            page_size: s.int("LDAP_Search_Page_Size") as i32,
            size_limit: s.int("LDAP_Search_Size_Limit") as i32,
            unique_fields: list(&s.string("LDAP_Unique_Identifier_Field")),
            username_field: pick("LDAP_AD_Username_Field", "LDAP_Username_Field"),
            email_field: pick("LDAP_AD_Email_Field", "LDAP_Email_Field"),
            name_field: pick("LDAP_AD_Name_Field", "LDAP_Name_Field"),
            default_domain: s.string("LDAP_Default_Domain"),
            merge_existing: s.bool("LDAP_Merge_Existing_Users"),
            update_on_login: s.bool("LDAP_Update_Data_On_Login"),
            avatar_fields: if !s.bool("LDAP_Sync_User_Avatar") {
                Vec::new()
            } else if s.string("LDAP_Avatar_Field").trim().is_empty() {
                vec!["thumbnailPhoto".into(), "jpegPhoto".into()]
            } else {
                list(&s.string("LDAP_Avatar_Field"))
            },
            login_fallback: s.bool("LDAP_Login_Fallback"),
            roles: groups(
                "LDAP_Sync_User_Data_Roles",
                "LDAP_Sync_User_Data_Roles_BaseDN",
                "LDAP_Sync_User_Data_Roles_Filter",
                "LDAP_Sync_User_Data_RolesMap",
                "LDAP_Sync_User_Data_Roles_AutoRemove",
            ),
            channels: groups(
                "LDAP_Sync_User_Data_Channels",
                "LDAP_Sync_User_Data_Channels_BaseDN",
                "LDAP_Sync_User_Data_Channels_Filter",
                "LDAP_Sync_User_Data_ChannelsMap",
                "LDAP_Sync_User_Data_Channels_Enforce_AutoChannels",
            ),
            channels_admin: s.string("LDAP_Sync_User_Data_Channels_Admin"),
            background_sync: s.bool("LDAP_Background_Sync"),
            sync_interval: parse_interval(&s.string("LDAP_Background_Sync_Interval")),
            import_new: s.bool("LDAP_Background_Sync_Import_New_Users"),
            keep_updated: s.bool("LDAP_Background_Sync_Keep_Existant_Users_Updated"),
            disable_missing: s.bool("LDAP_Background_Sync_Disable_Missing_Users"),
            active_state: ActiveStateSync {
                disable: matches!(state.as_str(), "disable" | "both"),
                enable: matches!(state.as_str(), "enable" | "both"),
            },
        }
    }

    /// The URL the client connects to.
    pub fn url(&self) -> String {
        let scheme = match self.encryption {
            Encryption::Ldaps => "ldaps",
            _ => "ldap",
        };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_maps_take_strings_and_lists_and_ignore_junk() {
        let map = parse_group_map(
            "x",
            r##"{"admins": "admin", "eng": ["#dev", "ops", 3], "bad": 1}"##,
        );
        assert_eq!(map["admins"], vec!["admin"]);
        assert_eq!(map["eng"], vec!["dev", "ops"]);
        assert!(!map.contains_key("bad"));
        assert!(parse_group_map("x", "not json").is_empty());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("every_5_minutes"), Duration::from_secs(300));
        assert_eq!(
            parse_interval("every_6_hours"),
            Duration::from_secs(6 * 3600)
        );
        assert_eq!(parse_interval("junk"), Duration::from_secs(24 * 3600));
    }
}

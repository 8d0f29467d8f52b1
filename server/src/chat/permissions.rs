//! Permissions as Rocket.Chat models them: a permission id held by a set of roles,
//! which admins change with `permissions.update`. Palaver has the ones it enforces;
//! each is stored as a private setting (`Permission:<id>`) so every instance sharing
//! the database sees a change at once, and falls back to Rocket.Chat's default roles
//! until an admin changes it.

use serde::Serialize;
use serde_json::{json, Value};

use super::error::{ChatError, ChatResult};
use super::Chat;
use crate::store::{roles, Setting, Ts, User};

/// Setting `alias` and `avatar` on a message: posting under another name and face.
pub const MESSAGE_IMPERSONATE: &str = "message-impersonate";

/// Reading every workspace setting, private ones included (`GET /settings`).
pub const VIEW_PRIVILEGED_SETTING: &str = "view-privileged-setting";
/// Changing workspace settings (`POST /settings/:_id`).
pub const EDIT_PRIVILEGED_SETTING: &str = "edit-privileged-setting";
/// Reading the audit logs (`audit.settings`).
pub const CAN_AUDIT: &str = "can-audit";

/// Every permission with the roles holding it on a new server. Rocket.Chat gives
/// `message-impersonate` to `bot` and `app`; Palaver's apps act as users with the
/// `bot` role, so `bot` covers both.
const DEFAULTS: &[(&str, &[&str])] = &[
    (MESSAGE_IMPERSONATE, &[roles::BOT]),
    (VIEW_PRIVILEGED_SETTING, &[roles::ADMIN]),
    (EDIT_PRIVILEGED_SETTING, &[roles::ADMIN]),
    (CAN_AUDIT, &[roles::ADMIN]),
];

const KEY_PREFIX: &str = "Permission:";

/// A permission and the roles holding it (Rocket.Chat's `IPermission`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Permission {
    #[serde(rename = "_id")]
    pub id: String,
    pub roles: Vec<String>,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
}

fn defaults(id: &str) -> Option<&'static [&'static str]> {
    DEFAULTS.iter().find(|(p, _)| *p == id).map(|(_, r)| *r)
}

impl Chat {
    async fn permission(&self, id: &'static str, default: &[&str]) -> ChatResult<Permission> {
        let stored = self.store.setting(&format!("{KEY_PREFIX}{id}")).await?;
        let read = stored.as_ref().and_then(|s| {
            let roles = serde_json::from_value(s.value.get("roles")?.clone()).ok()?;
            let updated_at = Ts(s.value.get("_updatedAt")?.as_i64()?);
            Some((roles, updated_at))
        });
        let (roles, updated_at) = match read {
            Some(found) => found,
            None => (default.iter().map(|r| r.to_string()).collect(), Ts(0)),
        };
        Ok(Permission {
            id: id.to_string(),
            roles,
            updated_at,
        })
    }

    /// Every permission Palaver enforces, with the roles holding it.
    pub async fn permissions(&self) -> ChatResult<Vec<Permission>> {
        let mut all = Vec::with_capacity(DEFAULTS.len());
        for (id, default) in DEFAULTS {
            all.push(self.permission(id, default).await?);
        }
        Ok(all)
    }

    /// Whether one of `user`'s roles holds the permission.
    pub async fn has_permission(&self, user: &User, id: &'static str) -> ChatResult<bool> {
        let default = defaults(id).unwrap_or(&[]);
        let permission = self.permission(id, default).await?;
        Ok(permission.roles.iter().any(|r| user.has_role(r)))
    }

    /// Sets the roles of the given permissions (admins only); all are checked before
    /// any is changed. Returns every permission.
    pub async fn update_permissions(
        &self,
        actor: &User,
        updates: &[(String, Vec<String>)],
    ) -> ChatResult<Vec<Permission>> {
        if !actor.is_admin() {
            return Err(ChatError::not_allowed());
        }
        for (id, granted) in updates {
            if defaults(id).is_none() {
                return Err(ChatError::refused(
                    "error-invalid-permission",
                    format!("Invalid permission {id:?}"),
                ));
            }
            if let Some(role) = granted.iter().find(|r| !roles::ALL.contains(&r.as_str())) {
                return Err(ChatError::refused(
                    "error-invalid-role",
                    format!("Invalid role {role:?}"),
                ));
            }
        }
        let now = Ts::now();
        for (id, granted) in updates {
            let mut granted = granted.clone();
            granted.sort();
            granted.dedup();
            let value: Value = json!({"roles": granted, "_updatedAt": now.0});
            self.store
                .put_setting(&Setting {
                    id: format!("{KEY_PREFIX}{id}"),
                    value,
                    public: false,
                    updated_at: None,
                })
                .await?;
            tracing::info!(user_id = %actor.id, permission = %id, roles = ?granted, "permission changed");
        }
        self.permissions().await
    }
}

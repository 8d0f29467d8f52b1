//! Permissions as Rocket.Chat models them: a permission id held by a set of roles,
//! which admins change with `permissions.update`. Every Rocket.Chat permission id is
//! known with its default roles ([`defaults`]); each one an admin changed is stored
//! as a private setting (`Permission:<id>`), so every instance sharing the database
//! sees a change at the next check, and falls back to the default until then.
//!
//! A user holds a permission when one of their global roles (`users.roles`) holds
//! it, or, for a check about a room, one of their room roles there (the
//! subscription's `roles`: owner, moderator, leader, custom ones).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::Chat;
use crate::store::{Setting, Ts, User};

#[path = "permission_defaults.rs"]
mod defaults;

/// Permissions Palaver has that Rocket.Chat's community edition does not list in
/// its table (the discussion ones it creates at start-up, from
/// `app/discussion/server/permissions.ts`).
const EXTRA_DEFAULTS: &[(&str, &[&str])] = &[
    ("can-audit", &["admin"]),
    ("start-discussion", &["admin", "user", "guest", "app"]),
    (
        "start-discussion-other-user",
        &["admin", "user", "owner", "app"],
    ),
];

/// A permission id (Rocket.Chat's `IPermission._id`). The constants are the ones
/// Palaver checks; [`Perm::parse`] accepts every known id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Perm(&'static str);

macro_rules! perms {
    ($($name:ident = $id:literal),* $(,)?) => {
        impl Perm {
            $(pub const $name: Perm = Perm($id);)*
            /// Every permission Palaver checks somewhere.
            pub const CHECKED: &'static [Perm] = &[$(Perm($id)),*];
        }
    };
}

perms! {
    ACCESS_PERMISSIONS = "access-permissions",
    ADD_ALL_TO_ROOM = "add-all-to-room",
    ADD_USER_TO_JOINED_ROOM = "add-user-to-joined-room",
    ADD_USER_TO_ANY_C_ROOM = "add-user-to-any-c-room",
    ADD_USER_TO_ANY_P_ROOM = "add-user-to-any-p-room",
    ARCHIVE_ROOM = "archive-room",
    ASSIGN_ADMIN_ROLE = "assign-admin-role",
    ASSIGN_ROLES = "assign-roles",
    CAN_AUDIT = "can-audit",
    CLEAN_CHANNEL_HISTORY = "clean-channel-history",
    CREATE_C = "create-c",
    CREATE_D = "create-d",
    CREATE_INVITE_LINKS = "create-invite-links",
    CREATE_P = "create-p",
    CREATE_TEAM = "create-team",
    CONVERT_TEAM = "convert-team",
    DELETE_TEAM = "delete-team",
    ADD_TEAM_CHANNEL = "add-team-channel",
    EDIT_TEAM_CHANNEL = "edit-team-channel",
    EDIT_TEAM = "edit-team",
    REMOVE_TEAM_CHANNEL = "remove-team-channel",
    ADD_TEAM_MEMBER = "add-team-member",
    EDIT_TEAM_MEMBER = "edit-team-member",
    VIEW_ALL_TEAM_CHANNELS = "view-all-team-channels",
    VIEW_ALL_TEAMS = "view-all-teams",
    CREATE_PERSONAL_ACCESS_TOKENS = "create-personal-access-tokens",
    CREATE_USER = "create-user",
    DELETE_C = "delete-c",
    DELETE_D = "delete-d",
    DELETE_MESSAGE = "delete-message",
    DELETE_OWN_MESSAGE = "delete-own-message",
    DELETE_P = "delete-p",
    DELETE_USER = "delete-user",
    VIEW_C_ROOM = "view-c-room",
    VIEW_D_ROOM = "view-d-room",
    VIEW_FULL_OTHER_USER_INFO = "view-full-other-user-info",
    EDIT_MESSAGE = "edit-message",
    EDIT_OTHER_USER_ACTIVE_STATUS = "edit-other-user-active-status",
    EDIT_OTHER_USER_AVATAR = "edit-other-user-avatar",
    EDIT_OTHER_USER_INFO = "edit-other-user-info",
    EDIT_OTHER_USER_PASSWORD = "edit-other-user-password",
    EDIT_PRIVILEGED_SETTING = "edit-privileged-setting",
    EDIT_ROOM = "edit-room",
    BYPASS_TIME_LIMIT_EDIT_AND_DELETE = "bypass-time-limit-edit-and-delete",
    FORCE_DELETE_MESSAGE = "force-delete-message",
    TEST_PUSH_NOTIFICATIONS = "test-push-notifications",
    JOIN_WITHOUT_JOIN_CODE = "join-without-join-code",
    KICK_USER_FROM_ANY_C_ROOM = "kick-user-from-any-c-room",
    KICK_USER_FROM_ANY_P_ROOM = "kick-user-from-any-p-room",
    LEAVE_C = "leave-c",
    LEAVE_P = "leave-p",
    LOGOUT_OTHER_USER = "logout-other-user",
    BULK_REGISTER_USER = "bulk-register-user",
    MANAGE_APPS = "manage-apps",
    MANAGE_INCOMING_INTEGRATIONS = "manage-incoming-integrations",
    MANAGE_MODERATION_ACTIONS = "manage-moderation-actions",
    MANAGE_OUTGOING_INTEGRATIONS = "manage-outgoing-integrations",
    MANAGE_OWN_INCOMING_INTEGRATIONS = "manage-own-incoming-integrations",
    MANAGE_OWN_OUTGOING_INTEGRATIONS = "manage-own-outgoing-integrations",
    MENTION_ALL = "mention-all",
    MENTION_HERE = "mention-here",
    MAIL_MESSAGES = "mail-messages",
    MESSAGE_IMPERSONATE = "message-impersonate",
    MUTE_USER = "mute-user",
    PIN_MESSAGE = "pin-message",
    POST_READONLY = "post-readonly",
    REMOVE_USER = "remove-user",
    SEND_MAIL = "send-mail",
    SET_LEADER = "set-leader",
    SET_REACT_WHEN_READONLY = "set-react-when-readonly",
    SET_READONLY = "set-readonly",
    SET_MODERATOR = "set-moderator",
    SET_OWNER = "set-owner",
    START_DISCUSSION = "start-discussion",
    START_DISCUSSION_OTHER_USER = "start-discussion-other-user",
    SYNC_AUTH_SERVICES_USERS = "sync-auth-services-users",
    TEST_ADMIN_OPTIONS = "test-admin-options",
    UNARCHIVE_ROOM = "unarchive-room",
    VIEW_OTHER_USER_CHANNELS = "view-other-user-channels",
    VIEW_OUTSIDE_ROOM = "view-outside-room",
    VIEW_LOGS = "view-logs",
    VIEW_MODERATION_CONSOLE = "view-moderation-console",
    VIEW_PRIVILEGED_SETTING = "view-privileged-setting",
    VIEW_ROOM_ADMINISTRATION = "view-room-administration",
    VIEW_STATISTICS = "view-statistics",
    VIEW_USER_ADMINISTRATION = "view-user-administration",
}

impl Perm {
    pub fn id(self) -> &'static str {
        self.0
    }

    /// The known permission with this id.
    pub fn parse(id: &str) -> Option<Perm> {
        all_defaults().find(|(p, _)| *p == id).map(|(p, _)| Perm(p))
    }

    /// The roles holding it on a new server.
    pub fn default_roles(self) -> &'static [&'static str] {
        all_defaults()
            .find(|(p, _)| *p == self.0)
            .map(|(_, r)| r)
            .unwrap_or(&[])
    }
}

impl std::fmt::Display for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

// The old names, kept for the callers that predate [`Perm`].
pub const MESSAGE_IMPERSONATE: Perm = Perm::MESSAGE_IMPERSONATE;
pub const VIEW_PRIVILEGED_SETTING: Perm = Perm::VIEW_PRIVILEGED_SETTING;
pub const EDIT_PRIVILEGED_SETTING: Perm = Perm::EDIT_PRIVILEGED_SETTING;
pub const CAN_AUDIT: Perm = Perm::CAN_AUDIT;

fn all_defaults() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    defaults::DEFAULTS
        .iter()
        .chain(EXTRA_DEFAULTS)
        .map(|(p, r)| (*p, *r))
}

const KEY_PREFIX: &str = "Permission:";

/// A permission and the roles holding it (Rocket.Chat's `IPermission`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    #[serde(rename = "_id")]
    pub id: String,
    pub roles: Vec<String>,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
}

/// The roles and change time a stored `Permission:<id>` setting holds.
fn read_stored(setting: &Setting) -> Option<(Vec<String>, Ts)> {
    let roles = serde_json::from_value(setting.value.get("roles")?.clone()).ok()?;
    let updated_at = Ts(setting.value.get("_updatedAt")?.as_i64()?);
    Some((roles, updated_at))
}

fn default_permission(perm: Perm) -> Permission {
    Permission {
        id: perm.0.to_string(),
        roles: perm.default_roles().iter().map(|r| r.to_string()).collect(),
        updated_at: Ts(0),
    }
}

impl Chat {
    async fn permission(&self, perm: Perm) -> ChatResult<Permission> {
        let stored = self
            .store
            .setting(&format!("{KEY_PREFIX}{}", perm.0))
            .await?;
        Ok(match stored.as_ref().and_then(read_stored) {
            Some((roles, updated_at)) => Permission {
                id: perm.0.to_string(),
                roles,
                updated_at,
            },
            None => default_permission(perm),
        })
    }

    /// Every permission, with the roles holding it, in Rocket.Chat's order.
    pub async fn permissions(&self) -> ChatResult<Vec<Permission>> {
        let stored: HashMap<String, (Vec<String>, Ts)> = self
            .store
            .settings()
            .await?
            .iter()
            .filter_map(|s| {
                let id = s.id.strip_prefix(KEY_PREFIX)?;
                Some((id.to_string(), read_stored(s)?))
            })
            .collect();
        Ok(all_defaults()
            .map(|(id, _)| match stored.get(id) {
                Some((roles, at)) => Permission {
                    id: id.to_string(),
                    roles: roles.clone(),
                    updated_at: *at,
                },
                None => default_permission(Perm(id)),
            })
            .collect())
    }

    /// Whether `user` holds the permission: through a global role, or, with `room`,
    /// through their room roles there.
    pub async fn has_permission(
        &self,
        user: &User,
        perm: Perm,
        room: Option<&str>,
    ) -> ChatResult<bool> {
        let permission = self.permission(perm).await?;
        if permission.roles.iter().any(|r| user.has_role(r)) {
            return Ok(true);
        }
        let Some(rid) = room else {
            return Ok(false);
        };
        let sub = self.store.subscription(rid, &user.id).await?;
        Ok(sub.is_some_and(|s| s.roles.iter().any(|r| permission.roles.contains(r))))
    }

    /// Refuses (403, `error-unauthorized`) unless `user` holds the permission (see
    /// [`Chat::has_permission`]).
    pub async fn require_permission(
        &self,
        user: &User,
        perm: Perm,
        room: Option<&str>,
    ) -> ChatResult<()> {
        if self.has_permission(user, perm, room).await? {
            Ok(())
        } else {
            tracing::debug!(user_id = %user.id, permission = %perm, room_id = room.unwrap_or("-"), "permission refused");
            Err(ChatError::not_allowed())
        }
    }

    /// Like [`Chat::require_permission`], refusing with Rocket.Chat's method error
    /// (400, `error-not-allowed`, "Not allowed").
    pub(crate) async fn permission_or_not_allowed(
        &self,
        user: &User,
        perm: Perm,
        room: Option<&str>,
    ) -> ChatResult<()> {
        if self.has_permission(user, perm, room).await? {
            Ok(())
        } else {
            Err(ChatError::refused("error-not-allowed", "Not allowed"))
        }
    }

    /// Like [`Chat::require_permission`], refusing with Rocket.Chat's bare
    /// `API.v1.unauthorized()` (403 `{success: false, error: "unauthorized"}`).
    pub async fn permission_or_unauthorized(&self, user: &User, perm: Perm) -> ChatResult<()> {
        if self.has_permission(user, perm, None).await? {
            Ok(())
        } else {
            Err(ChatError::unauthorized_bare())
        }
    }

    /// Sets the roles of the given permissions (`access-permissions`); all are
    /// checked before any is changed. Returns every permission.
    pub async fn update_permissions(
        &self,
        actor: &User,
        updates: &[(String, Vec<String>)],
    ) -> ChatResult<Vec<Permission>> {
        if !self
            .has_permission(actor, Perm::ACCESS_PERMISSIONS, None)
            .await?
        {
            return Err(ChatError::refused(
                "error-edit-permissions-not-allowed",
                "Editing permissions is not allowed",
            ));
        }
        let known: Vec<String> = self
            .store
            .roles()
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let mut checked = Vec::with_capacity(updates.len());
        for (id, granted) in updates {
            let Some(perm) = Perm::parse(id) else {
                return Err(ChatError::refused(
                    "error-invalid-permission",
                    "Invalid permission",
                ));
            };
            if granted.iter().any(|r| !known.contains(r)) {
                return Err(ChatError::refused("error-invalid-role", "Invalid role"));
            }
            checked.push((perm, granted));
        }
        let now = Ts::now();
        for (perm, granted) in checked {
            let mut granted = granted.clone();
            granted.dedup();
            let value: Value = json!({"roles": granted, "_updatedAt": now.0});
            self.store
                .put_setting(&Setting {
                    id: format!("{KEY_PREFIX}{perm}"),
                    value,
                    public: false,
                    updated_at: None,
                })
                .await?;
            tracing::info!(user_id = %actor.id, permission = %perm, roles = ?granted, "permission changed");
            self.bus.publish(Event::PermissionChanged {
                permission: Permission {
                    id: perm.0.to_string(),
                    roles: granted,
                    updated_at: now,
                },
            });
        }
        self.permissions().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checked_permission_is_known() {
        for &perm in Perm::CHECKED {
            assert_eq!(
                Perm::parse(perm.id()),
                Some(perm),
                "{perm} is not a known id"
            );
        }
        assert_eq!(Perm::parse("no-such-permission"), None);
        assert_eq!(Perm::CREATE_USER.default_roles(), &["admin"]);
        assert!(Perm::ADD_USER_TO_ANY_P_ROOM.default_roles().is_empty());
        assert!(all_defaults().count() > 150);
    }
}

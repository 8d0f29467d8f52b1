//! Roles: Rocket.Chat's built-in roles (protected), custom ones admins create, who
//! holds them globally (the user's `roles`) and per room (the subscription's
//! `roles`: owner, moderator, leader).

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::role_store::{RemovedRole, Role, RoleScope};
use crate::store::{roles, Listing, Page, Room, RoomType, StoreError, Subscription, Ts, User};

/// Rocket.Chat's built-in roles (`upsertPermissions`): id = name, protected.
const BUILT_IN: &[(&str, RoleScope, &str)] = &[
    ("admin", RoleScope::Users, "Admin"),
    ("moderator", RoleScope::Subscriptions, "Moderator"),
    ("leader", RoleScope::Subscriptions, "Leader"),
    ("owner", RoleScope::Subscriptions, "Owner"),
    ("user", RoleScope::Users, ""),
    ("bot", RoleScope::Users, ""),
    ("app", RoleScope::Users, ""),
    ("guest", RoleScope::Users, ""),
    ("anonymous", RoleScope::Users, ""),
    ("livechat-agent", RoleScope::Users, "Livechat Agent"),
    ("livechat-manager", RoleScope::Users, "Livechat Manager"),
];

/// A new custom role, or the new content of one.
#[derive(Clone, Debug, Default)]
pub struct RoleSpec {
    pub name: String,
    pub scope: Option<RoleScope>,
    pub description: Option<String>,
    pub mandatory2fa: Option<bool>,
}

/// The room roles `channels.addOwner` and friends set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomRole {
    Owner,
    Moderator,
    Leader,
}

impl RoomRole {
    /// The room role of a role id; `None` for global roles (and `member`).
    pub fn from_id(id: &str) -> Option<RoomRole> {
        [RoomRole::Owner, RoomRole::Moderator, RoomRole::Leader]
            .into_iter()
            .find(|r| r.id() == id)
    }

    pub fn id(self) -> &'static str {
        match self {
            RoomRole::Owner => roles::OWNER,
            RoomRole::Moderator => roles::MODERATOR,
            RoomRole::Leader => roles::LEADER,
        }
    }
    fn permission(self) -> Perm {
        match self {
            RoomRole::Owner => Perm::SET_OWNER,
            RoomRole::Moderator => Perm::SET_MODERATOR,
            RoomRole::Leader => Perm::SET_LEADER,
        }
    }
}

fn access_refused(error_type: &'static str) -> ChatError {
    ChatError::refused(error_type, "Accessing permissions is not allowed")
}

impl Chat {
    /// Creates the built-in roles that are missing (first start and upgrades).
    pub async fn seed_roles(&self) -> ChatResult<()> {
        for (id, scope, description) in BUILT_IN {
            if self.store.role(id).await?.is_some() {
                continue;
            }
            let role = Role {
                id: id.to_string(),
                name: id.to_string(),
                scope: *scope,
                description: description.to_string(),
                protected: true,
                mandatory2fa: false,
                updated_at: Ts::now(),
            };
            match self.store.insert_role(&role).await {
                // Another instance seeded it meanwhile.
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Every role.
    pub async fn roles(&self) -> ChatResult<Vec<Role>> {
        Ok(self.store.roles().await?)
    }

    /// Roles changed after `since`, and those deleted after it.
    pub async fn roles_since(&self, since: Ts) -> ChatResult<(Vec<Role>, Vec<RemovedRole>)> {
        let mut changed = self.store.roles().await?;
        changed.retain(|r| r.updated_at > since);
        Ok((changed, self.store.removed_roles(since).await?))
    }

    /// A role by id or, failing that, by name.
    pub async fn find_role(&self, id_or_name: &str) -> ChatResult<Option<Role>> {
        if let Some(role) = self.store.role(id_or_name).await? {
            return Ok(Some(role));
        }
        Ok(self
            .store
            .roles()
            .await?
            .into_iter()
            .find(|r| r.name == id_or_name))
    }

    async fn require_access_permissions(
        &self,
        actor: &User,
        error_type: &'static str,
    ) -> ChatResult<()> {
        if self
            .has_permission(actor, Perm::ACCESS_PERMISSIONS, None)
            .await?
        {
            Ok(())
        } else {
            Err(access_refused(error_type))
        }
    }

    /// Creates a custom role (`access-permissions`).
    pub async fn create_role(&self, actor: &User, spec: RoleSpec) -> ChatResult<Role> {
        self.require_access_permissions(actor, "error-action-not-allowed")
            .await?;
        let name = spec.name.trim().to_string();
        if name.is_empty() {
            return Err(ChatError::refused(
                "error-invalid-role-properties",
                "The role properties are invalid.",
            ));
        }
        if self.find_role(&name).await?.is_some() {
            return Err(duplicate_name());
        }
        let role = Role {
            id: ids::new_id(),
            name,
            scope: spec.scope.unwrap_or(RoleScope::Users),
            description: spec.description.unwrap_or_default(),
            protected: false,
            mandatory2fa: spec.mandatory2fa.unwrap_or(false),
            updated_at: Ts::now(),
        };
        self.store.insert_role(&role).await.map_err(|e| match e {
            StoreError::Conflict(_) => duplicate_name(),
            other => other.into(),
        })?;
        tracing::info!(user_id = %actor.id, role_id = %role.id, name = %role.name, "role created");
        self.bus.publish(Event::RoleChanged {
            role: role.clone(),
            removed: false,
        });
        Ok(role)
    }

    /// Changes a role's name, scope, description or 2FA requirement. A built-in
    /// role keeps its name and scope.
    pub async fn update_role(
        &self,
        actor: &User,
        role_id: &str,
        spec: RoleSpec,
    ) -> ChatResult<Role> {
        self.require_access_permissions(actor, "error-action-not-allowed")
            .await?;
        let mut role = self.store.role(role_id).await?.ok_or_else(|| {
            ChatError::refused("error-invalid-roleId", "This role does not exist")
        })?;
        let name = spec.name.trim();
        if !role.protected {
            if !name.is_empty() && name != role.name {
                if self.find_role(name).await?.is_some() {
                    return Err(duplicate_name());
                }
                role.name = name.to_string();
            }
            if let Some(scope) = spec.scope {
                role.scope = scope;
            }
        }
        if let Some(description) = spec.description {
            role.description = description;
        }
        if let Some(m) = spec.mandatory2fa {
            role.mandatory2fa = m;
        }
        role.updated_at = Ts::now();
        if !self.store.update_role(&role).await.map_err(|e| match e {
            StoreError::Conflict(_) => duplicate_name(),
            other => other.into(),
        })? {
            return Err(ChatError::refused(
                "error-invalid-roleId",
                "This role does not exist",
            ));
        }
        tracing::info!(user_id = %actor.id, role_id = %role.id, "role updated");
        self.bus.publish(Event::RoleChanged {
            role: role.clone(),
            removed: false,
        });
        Ok(role)
    }

    /// Deletes a custom role nobody holds.
    pub async fn delete_role(&self, actor: &User, id_or_name: &str) -> ChatResult<()> {
        self.require_access_permissions(actor, "error-action-not-allowed")
            .await?;
        let role = self.find_role(id_or_name).await?.ok_or_else(|| {
            ChatError::refused("error-invalid-roleId", "This role does not exist")
        })?;
        if role.protected {
            return Err(ChatError::refused(
                "error-role-protected",
                "Cannot delete a protected role",
            ));
        }
        let in_use = match role.scope {
            RoleScope::Users => {
                self.store
                    .users_in_role(&role.id, Page::new(0, 0))
                    .await?
                    .total
                    > 0
            }
            // Room roles are not indexed by role alone: checked where they are held.
            RoleScope::Subscriptions => false,
        };
        if in_use {
            return Err(ChatError::refused(
                "error-role-in-use",
                "Cannot delete role because it's in use",
            ));
        }
        self.store.delete_role(&role.id, Ts::now()).await?;
        tracing::info!(user_id = %actor.id, role_id = %role.id, "role deleted");
        self.bus.publish(Event::RoleChanged {
            role,
            removed: true,
        });
        Ok(())
    }

    /// Gives `user` a role: a global one, or with `room` a room role there
    /// (`access-permissions`; the admin role also needs `assign-admin-role`).
    pub async fn add_user_to_role(
        &self,
        actor: &User,
        role: &Role,
        user: &User,
        room: Option<&str>,
    ) -> ChatResult<()> {
        self.require_access_permissions(actor, "error-action-not-allowed")
            .await?;
        if role.id == roles::ADMIN
            && !self
                .has_permission(actor, Perm::ASSIGN_ADMIN_ROLE, None)
                .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Assigning admin is not allowed",
            ));
        }
        match (role.scope, room) {
            (RoleScope::Subscriptions, Some(rid)) => {
                let sub = self
                    .store
                    .subscription(rid, &user.id)
                    .await?
                    .ok_or_else(|| {
                        ChatError::refused("error-user-not-in-room", "User is not in this room")
                    })?;
                if sub.roles.contains(&role.id) {
                    return Err(already_in_role());
                }
                let mut new = sub.roles.clone();
                new.push(role.id.clone());
                self.set_sub_roles(rid, user, &new).await?;
            }
            (RoleScope::Subscriptions, None) => {
                return Err(ChatError::refused(
                    "error-invalid-role-properties",
                    "A room role needs a roomId",
                ))
            }
            (RoleScope::Users, _) => {
                if user.has_role(&role.id) {
                    return Err(already_in_role());
                }
                let mut updated = user.clone();
                updated.roles.push(role.id.clone());
                self.save_user_roles(updated).await?;
            }
        }
        tracing::info!(user_id = %actor.id, target = %user.id, role_id = %role.id, room_id = room.unwrap_or("-"), "role given");
        self.bus.publish(Event::UserRoleChanged {
            role_id: role.id.clone(),
            user: user.as_ref(),
            added: true,
            scope: room.map(str::to_string),
        });
        Ok(())
    }

    /// Takes a role away from `user` (globally, or in the room `scope`).
    pub async fn remove_user_from_role(
        &self,
        actor: &User,
        role: &Role,
        user: &User,
        scope: Option<&str>,
    ) -> ChatResult<()> {
        self.require_access_permissions(actor, "error-not-allowed")
            .await?;
        match (role.scope, scope) {
            (RoleScope::Subscriptions, Some(rid)) => {
                let sub = self.store.subscription(rid, &user.id).await?;
                let Some(sub) = sub.filter(|s| s.roles.contains(&role.id)) else {
                    return Err(not_in_role());
                };
                let new: Vec<String> = sub.roles.into_iter().filter(|r| r != &role.id).collect();
                self.set_sub_roles(rid, user, &new).await?;
            }
            _ => {
                if !user.has_role(&role.id) {
                    return Err(not_in_role());
                }
                if role.id == roles::ADMIN
                    && self
                        .store
                        .users_in_role(roles::ADMIN, Page::new(0, 0))
                        .await?
                        .total
                        <= 1
                {
                    return Err(ChatError::refused(
                        "error-admin-required",
                        "You need to have at least one admin",
                    ));
                }
                let mut updated = user.clone();
                updated.roles.retain(|r| r != &role.id);
                self.save_user_roles(updated).await?;
            }
        }
        tracing::info!(user_id = %actor.id, target = %user.id, role_id = %role.id, room_id = scope.unwrap_or("-"), "role taken");
        self.bus.publish(Event::UserRoleChanged {
            role_id: role.id.clone(),
            user: user.as_ref(),
            added: false,
            scope: scope.map(str::to_string),
        });
        Ok(())
    }

    async fn save_user_roles(&self, mut user: User) -> ChatResult<()> {
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        self.bus.publish(Event::UserUpdated { user });
        Ok(())
    }

    async fn set_sub_roles(
        &self,
        rid: &str,
        user: &User,
        new: &[String],
    ) -> ChatResult<Subscription> {
        let sub = self
            .store
            .set_subscription_roles(rid, &user.id, new, Ts::now())
            .await?
            .ok_or_else(|| {
                ChatError::refused("error-user-not-in-room", "User is not in this room")
            })?;
        self.bus.publish(Event::SubscriptionChanged {
            user_id: user.id.clone(),
            subscription: sub.clone(),
        });
        Ok(sub)
    }

    /// Users holding a role (`access-permissions`; in a room also
    /// `view-other-user-channels`), sorted by username.
    pub async fn users_in_role(
        &self,
        actor: &User,
        role: &str,
        room: Option<&str>,
        page: Page,
    ) -> ChatResult<Listing<User>> {
        let not_allowed = || ChatError::refused("error-not-allowed", "Not allowed");
        if !self
            .has_permission(actor, Perm::ACCESS_PERMISSIONS, None)
            .await?
        {
            return Err(not_allowed());
        }
        if room.is_some()
            && !self
                .has_permission(actor, Perm::VIEW_OTHER_USER_CHANNELS, None)
                .await?
        {
            return Err(not_allowed());
        }
        let role = self
            .find_role(role)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-roleId", "error-invalid-roleId"))?;
        let Some(rid) = room else {
            return Ok(self.store.users_in_role(&role.id, page).await?);
        };
        let subs = self.store.room_members_in_role(rid, &role.id).await?;
        let total = subs.len() as u64;
        let ids: Vec<String> = subs
            .into_iter()
            .skip(page.offset as usize)
            .take(page.count as usize)
            .map(|s| s.u.id)
            .collect();
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = self.store.user_by_id(&id).await? {
                items.push(user);
            }
        }
        Ok(Listing { items, total })
    }

    /// Users holding a role shown in clients (a global role with a description:
    /// Rocket.Chat's public roles), sorted by username.
    pub async fn users_in_public_roles(&self) -> ChatResult<Vec<User>> {
        let public: Vec<Role> = self
            .store
            .roles()
            .await?
            .into_iter()
            .filter(|r| r.scope == RoleScope::Users && !r.description.is_empty())
            .collect();
        let mut out: Vec<User> = Vec::new();
        for role in &public {
            let users = self
                .store
                .users_in_role(&role.id, Page::new(0, 10_000))
                .await?;
            for user in users.items {
                if !out.iter().any(|u| u.id == user.id) {
                    out.push(user);
                }
            }
        }
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    /// The members of a readable room who hold a room role (`channels.roles`).
    pub async fn room_roles(
        &self,
        actor: &User,
        r: RoomRef<'_>,
    ) -> ChatResult<(Room, Vec<Subscription>)> {
        let (room, _) = self.readable_room(actor, r).await?;
        let subs = self.store.subscriptions_with_roles(&room.id).await?;
        Ok((room, subs))
    }

    /// Gives or takes a room role (`set-owner`/`set-moderator`/`set-leader` in the
    /// room), with Rocket.Chat's system message.
    pub async fn set_room_role(
        &self,
        actor: &User,
        rid: &str,
        user_id: &str,
        role: RoomRole,
        add: bool,
    ) -> ChatResult<()> {
        let room = self
            .store
            .room_by_id(rid)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-room", "Invalid room"))?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        self.permission_or_not_allowed(actor, role.permission(), Some(rid))
            .await?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-user", "Invalid user"))?;
        let sub = self
            .store
            .subscription(rid, &user.id)
            .await?
            .ok_or_else(|| match add {
                true => ChatError::refused("error-user-not-in-room", "User is not in this room"),
                false => ChatError::refused("error-invalid-room", "Invalid room"),
            })?;
        let holds = sub.roles.iter().any(|r| r == role.id());
        let mut new = sub.roles.clone();
        if add {
            if holds {
                let (error_type, msg) = match role {
                    RoomRole::Owner => ("error-user-already-owner", "User is already an owner"),
                    RoomRole::Moderator => (
                        "error-user-already-moderator",
                        "User is already a moderator",
                    ),
                    RoomRole::Leader => ("error-user-already-leader", "User is already a leader"),
                };
                return Err(ChatError::refused(error_type, msg));
            }
            new.push(role.id().to_string());
        } else {
            if !holds {
                let (error_type, msg) = match role {
                    RoomRole::Owner => ("error-user-not-owner", "User is not an owner"),
                    RoomRole::Moderator => ("error-user-not-moderator", "User is not a moderator"),
                    RoomRole::Leader => ("error-user-not-leader", "User is not a leader"),
                };
                return Err(ChatError::refused(error_type, msg));
            }
            if role == RoomRole::Owner
                && self
                    .store
                    .room_members_in_role(rid, roles::OWNER)
                    .await?
                    .len()
                    <= 1
            {
                return Err(ChatError::refused(
                    "error-remove-last-owner",
                    "This is the last owner. Please set a new owner before removing this one.",
                ));
            }
            new.retain(|r| r != role.id());
        }
        self.set_sub_roles(rid, &user, &new).await?;
        let t = if add {
            "subscription-role-added"
        } else {
            "subscription-role-removed"
        };
        self.post_role_message(&room, actor, t, &user.username, Some(role.id()))
            .await?;
        tracing::info!(room_id = %rid, user_id = %actor.id, target = %user.id, role = role.id(), add, "room role changed");
        self.bus.publish(Event::UserRoleChanged {
            role_id: role.id().to_string(),
            user: user.as_ref(),
            added: add,
            scope: Some(rid.to_string()),
        });
        Ok(())
    }
}

fn duplicate_name() -> ChatError {
    ChatError::refused(
        "error-duplicate-role-names-not-allowed",
        "Role name already exists",
    )
}

fn already_in_role() -> ChatError {
    ChatError::refused("error-user-already-in-role", "User already in role")
}

fn not_in_role() -> ChatError {
    ChatError::refused("error-user-not-in-role", "User is not in this role")
}

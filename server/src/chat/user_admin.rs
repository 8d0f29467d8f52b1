//! Administering accounts as Rocket.Chat's `setUserActiveStatus` and
//! `users.deactivateIdle` do: deactivation ends the user's sessions and, when they
//! are the last owner of rooms others still use, needs `confirmRelinquish` and then
//! hands each such room to another member.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::permissions::Perm;
use super::Chat;
use crate::store::{roles, LoginToken, Page, Room, RoomType, Subscription, Ts, User};

/// `users.info`: a user as the caller may see them.
pub struct UserInfo {
    pub user: User,
    /// The caller themself, or a holder of `view-full-other-user-info`: private
    /// fields (addresses, dates, roles, custom fields) are shown.
    pub full: bool,
    /// The caller's own account: their sign-in methods are shown too.
    pub own: Option<OwnServices>,
    /// The user's rooms, when asked for and allowed (oneself, or
    /// `view-other-user-channels`), sorted by type then name.
    pub rooms: Option<Vec<Subscription>>,
}

/// What `users.info` shows a user of their own sign-in methods (never secrets).
pub struct OwnServices {
    pub has_password: bool,
    pub sessions: Vec<LoginToken>,
}

/// How many of a room's members are read at a time looking for a new owner.
const MEMBER_PAGE: u64 = 100;

impl Chat {
    /// The rooms (not direct messages) `user` is the only owner of while others are
    /// members: Rocket.Chat's `shouldChangeOwner` rooms.
    pub(super) async fn last_owned_rooms(&self, user: &User) -> ChatResult<Vec<Room>> {
        let (subs, _) = self.subscriptions_since(user, None).await?;
        let mut out = Vec::new();
        for sub in subs
            .iter()
            .filter(|s| s.roles.iter().any(|r| r == roles::OWNER))
        {
            let Some(room) = self.store.room_by_id(&sub.rid).await? else {
                continue;
            };
            if room.t == RoomType::Direct || room.users_count <= 1 {
                continue;
            }
            // The room's owners: a range of the index of members holding room roles,
            // not the room's whole membership.
            let owners = self
                .store
                .room_members_in_role(&room.id, roles::OWNER)
                .await?;
            if !owners.iter().any(|s| s.u.id != user.id) {
                out.push(room);
            }
        }
        Ok(out)
    }

    /// Rocket.Chat's refusal when `confirmRelinquish` is missing (its message is
    /// empty; the rooms are in the error's details).
    pub(super) fn last_owner_error() -> ChatError {
        ChatError::refused("user-last-owner", "")
    }

    /// Makes another active member owner of each room (`relinquishRoomOwnerships`):
    /// the first one found in the room's member order.
    pub(super) async fn hand_over_ownership(&self, user: &User, rooms: &[Room]) -> ChatResult<()> {
        for room in rooms {
            let mut offset = 0;
            let heir = loop {
                let page = self
                    .store
                    .room_subscriptions(&room.id, Page::new(offset, MEMBER_PAGE))
                    .await?
                    .items;
                let n = page.len() as u64;
                let mut found = None;
                for sub in page.into_iter().filter(|s| s.u.id != user.id) {
                    if let Some(u) = self.store.user_by_id(&sub.u.id).await? {
                        if u.active {
                            found = Some((u, sub));
                            break;
                        }
                    }
                }
                if found.is_some() || n < MEMBER_PAGE {
                    break found;
                }
                offset += n;
            };
            let Some((heir, sub)) = heir else {
                continue;
            };
            let mut new = sub.roles.clone();
            new.push(roles::OWNER.to_string());
            let sub = self
                .store
                .set_subscription_roles(&room.id, &heir.id, &new, Ts::now())
                .await?;
            if let Some(sub) = sub {
                self.bus.publish(Event::SubscriptionChanged {
                    user_id: heir.id.clone(),
                    subscription: sub,
                });
            }
            self.bus.publish(Event::UserRoleChanged {
                role_id: roles::OWNER.to_string(),
                user: heir.as_ref(),
                added: true,
                scope: Some(room.id.clone()),
            });
            tracing::info!(room_id = %room.id, from = %user.id, to = %heir.id, "room ownership handed over");
        }
        Ok(())
    }

    /// `users.setActiveStatus` / `setUserActiveStatus`: needs
    /// `edit-other-user-active-status` or `manage-moderation-actions`.
    pub async fn set_active_status(
        &self,
        actor: &User,
        user_id: &str,
        active: bool,
        confirm_relinquish: bool,
    ) -> ChatResult<User> {
        let allowed = self
            .has_permission(actor, Perm::EDIT_OTHER_USER_ACTIVE_STATUS, None)
            .await?
            || self
                .has_permission(actor, Perm::MANAGE_MODERATION_ACTIONS, None)
                .await?;
        if !allowed {
            return Err(ChatError::unauthorized_bare());
        }
        let user = self.find_user(Some(user_id), None).await?;
        self.apply_active(actor, user, active, confirm_relinquish)
            .await
    }

    /// Sets `active` on `user` (authorization is the caller's): deactivation keeps an
    /// admin, checks last-owned rooms and ends every session.
    pub(super) async fn apply_active(
        &self,
        actor: &User,
        user: User,
        active: bool,
        confirm_relinquish: bool,
    ) -> ChatResult<User> {
        if !active {
            let mut after = user.clone();
            after.active = false;
            self.keep_an_admin(&user, &after).await?;
            let rooms = self.last_owned_rooms(&user).await?;
            if !rooms.is_empty() {
                if !confirm_relinquish {
                    return Err(Chat::last_owner_error());
                }
                self.hand_over_ownership(&user, &rooms).await?;
            }
        }
        if user.active == active {
            return Ok(user);
        }
        let mut user = user;
        user.active = active;
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        tracing::info!(user_id = %user.id, actor = %actor.id, active, "user active status changed");
        // The update first: realtime sessions end saying the user was deactivated,
        // not merely logged out.
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        if !active {
            self.end_all_sessions(&user.id).await?;
        }
        Ok(user)
    }

    /// Deletes every token of the user and ends the connections using them.
    pub(super) async fn end_all_sessions(&self, user_id: &str) -> ChatResult<()> {
        let tokens = self.store.user_tokens(user_id).await?;
        self.store.delete_user_tokens(user_id).await?;
        for t in tokens {
            self.bus.publish(Event::LoggedOut {
                user_id: user_id.to_string(),
                token_hash: t.hashed,
            });
        }
        Ok(())
    }

    /// `users.deactivateIdle`: deactivates the active holders of `role` who have not
    /// logged in for `days_idle` days (or never, having been created before then).
    /// The last active admin and the caller are never deactivated. Returns how many.
    pub async fn deactivate_idle(
        &self,
        actor: &User,
        days_idle: u64,
        role: &str,
    ) -> ChatResult<u64> {
        if !self
            .has_permission(actor, Perm::EDIT_OTHER_USER_ACTIVE_STATUS, None)
            .await?
        {
            return Err(ChatError::unauthorized_bare());
        }
        let day_ms: i64 = 24 * 60 * 60 * 1000;
        let days = i64::try_from(days_idle).unwrap_or(i64::MAX);
        let cutoff = Ts::now().0.saturating_sub(days.saturating_mul(day_ms));
        // The role's holders, a range of the role index, a page at a time.
        let mut idle = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .users_in_role(role, Page::new(offset, MEMBER_PAGE))
                .await?
                .items;
            let n = page.len() as u64;
            idle.extend(page.into_iter().filter(|u| {
                u.active && u.id != actor.id && u.last_login.unwrap_or(u.created_at).0 <= cutoff
            }));
            if n < MEMBER_PAGE {
                break;
            }
            offset += n;
        }
        let mut count = 0;
        for user in idle {
            let mut after = user.clone();
            after.active = false;
            if self.keep_an_admin(&user, &after).await.is_err() {
                continue;
            }
            let id = user.id.clone();
            after.updated_at = Ts::now();
            self.store.update_user(&after).await?;
            self.end_all_sessions(&id).await?;
            self.bus.publish(Event::UserUpdated { user: after });
            count += 1;
        }
        tracing::info!(actor = %actor.id, role, days_idle, count, "idle users deactivated");
        Ok(count)
    }

    /// `users.checkUsernameAvailability`: whether the caller could take `username`
    /// (their own counts as available); refused when renames are off.
    pub async fn check_username_availability(
        &self,
        actor: &User,
        username: &str,
    ) -> ChatResult<bool> {
        if username.is_empty() {
            return Err(ChatError::refused(
                "error-invalid-username",
                "Invalid username",
            ));
        }
        if !self.settings().bool("Accounts_AllowUsernameChange") {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        if actor.username == username {
            return Ok(true);
        }
        if super::accounts::validate_username(username).is_err()
            || self.username_blocked(username).is_some()
        {
            return Err(ChatError::refused(
                "error-blocked-username",
                format!("{username} is blocked and can't be used!"),
            ));
        }
        Ok(self.store.user_by_username(username).await?.is_none())
    }

    /// `users.info`: the user by id or username, with the fields the caller may
    /// see; `with_rooms` asks for their rooms (`fields={"userRooms":1}`).
    pub async fn user_info(
        &self,
        actor: &User,
        id: Option<&str>,
        username: Option<&str>,
        with_rooms: bool,
    ) -> ChatResult<UserInfo> {
        let user = self.find_user(id, username).await?;
        let myself = user.id == actor.id;
        let full = myself
            || self
                .has_permission(actor, Perm::VIEW_FULL_OTHER_USER_INFO, None)
                .await?;
        let own = match myself {
            true => Some(OwnServices {
                has_password: self.store.password_hash(&user.id).await?.is_some(),
                sessions: self.store.user_tokens(&user.id).await?,
            }),
            false => None,
        };
        let rooms = if with_rooms
            && (myself
                || self
                    .has_permission(actor, Perm::VIEW_OTHER_USER_CHANNELS, None)
                    .await?)
        {
            let (mut subs, _) = self.subscriptions_since(&user, None).await?;
            // Rocket.Chat's order: by type letter (c, d, p), then name.
            let letter = |t: RoomType| match t {
                RoomType::Channel => 'c',
                RoomType::Direct => 'd',
                RoomType::Group => 'p',
            };
            subs.sort_by(|a, b| (letter(a.t), &a.name).cmp(&(letter(b.t), &b.name)));
            Some(subs)
        } else {
            None
        };
        Ok(UserInfo {
            user,
            full,
            own,
            rooms,
        })
    }

    /// Whether the user has a local password (`me`'s `services.password.exists`).
    pub async fn has_password(&self, user_id: &str) -> ChatResult<bool> {
        Ok(self.store.password_hash(user_id).await?.is_some())
    }
}

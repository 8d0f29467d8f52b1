//! Invite links, as Rocket.Chat's `app/invites`: a member holding
//! `create-invite-links` in a room makes a link (`findOrCreateInvite`) valid for
//! 0 (never expires), 1, 7, 15 or 30 days and 0 (any number), 1, 5, 10, 25, 50 or
//! 100 uses; whoever holds its token joins the room with it (`useInviteToken`),
//! and with the `Secret URL` registration form it also lets them register.
//!
//! The token is the invite's `_id`, so it is a bearer secret: anyone may ask
//! whether one is valid (`validateInviteToken` needs no login), which is why it is
//! 17 random characters (Meteor's `Random.id()`) rather than Rocket.Chat's 6.

use super::error::{ChatError, ChatResult};
use super::ids::random_id;
use super::permissions::Perm;
use super::rooms::RoomRef;
use super::Chat;
use crate::store::invites::Invite;
use crate::store::{Room, RoomType, StoreError, Ts, User};

/// The expiries Rocket.Chat offers, in days (0: never).
pub const INVITE_DAYS: &[i64] = &[0, 1, 7, 15, 30];
/// The use limits Rocket.Chat offers (0: any number).
pub const INVITE_USES: &[i64] = &[0, 1, 5, 10, 25, 50, 100];

/// The token's length (see the module's documentation).
const TOKEN_CHARS: usize = 17;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An invite with the link people open, as the settings make it now.
#[derive(Clone, Debug, PartialEq)]
pub struct InviteLink {
    pub invite: Invite,
    pub url: String,
}

fn invalid_token() -> ChatError {
    ChatError::refused("error-invalid-token", "The invite token is invalid.")
}

fn invalid_room() -> ChatError {
    ChatError::refused("error-invalid-room", "The rid field is invalid")
}

fn not_authorized() -> ChatError {
    // Rocket.Chat's `new Meteor.Error('not_authorized')`: no reason.
    ChatError::refused("not_authorized", "")
}

/// `encodeURIComponent`: everything but ASCII letters, digits and `-_.!~*'()`.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link to an invite, as Rocket.Chat's `getInviteUrl`: with
/// `Accounts_Registration_InviteUrlType` = `direct`, `<Site_Url>/invite/<token>`;
/// with `proxy`, the deep-link service (`DeepLink_Url`) that opens the mobile app
/// or forwards to that address: `<DeepLink_Url>/invite?host=<site host>&path=
/// invite%2F<token>` (and `&secure=no` for an `http://` site).
pub fn invite_url(site_url: &str, url_type: &str, deep_link_url: &str, token: &str) -> String {
    let site = site_url.trim().trim_end_matches('/');
    let path = format!("invite/{token}");
    if url_type == "direct" {
        return format!("{site}/{path}");
    }
    let host = site
        .strip_prefix("https://")
        .or_else(|| site.strip_prefix("http://"))
        .unwrap_or(site);
    let mut url = format!(
        "{}/invite?host={}&path={}",
        deep_link_url.trim_end_matches('/'),
        encode_uri_component(host),
        encode_uri_component(&path)
    );
    if site.contains("http://") {
        url.push_str("&secure=no");
    }
    url
}

impl Chat {
    fn invite_link(&self, invite: Invite) -> InviteLink {
        let settings = self.settings();
        let url = invite_url(
            &settings.string("Site_Url"),
            &settings.string("Accounts_Registration_InviteUrlType"),
            &settings.string("DeepLink_Url"),
            &invite.id,
        );
        InviteLink { invite, url }
    }

    /// `findOrCreateInvite`: the caller's unexpired invite to `rid` with these
    /// limits if there is one, else a new one. Needs `create-invite-links` (in the
    /// room or globally) and membership; direct messages take no invites.
    pub async fn find_or_create_invite(
        &self,
        actor: &User,
        rid: &str,
        days: i64,
        max_uses: i64,
    ) -> ChatResult<InviteLink> {
        if rid.is_empty() {
            return Err(ChatError::refused(
                "error-the-field-is-required",
                "The field rid is required",
            ));
        }
        if !self
            .has_permission(actor, Perm::CREATE_INVITE_LINKS, Some(rid))
            .await?
        {
            return Err(not_authorized());
        }
        if self.store.subscription(rid, &actor.id).await?.is_none() {
            return Err(invalid_room());
        }
        let room = self.store.room_by_id(rid).await?.ok_or_else(invalid_room)?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-room-type-not-allowed",
                "Cannot create invite links for this room type",
            ));
        }
        if !INVITE_DAYS.contains(&days) {
            return Err(ChatError::refused(
                "invalid-number-of-days",
                "Invite should expire in 1, 7, 15 or 30 days, or send 0 to never expire.",
            ));
        }
        if !INVITE_USES.contains(&max_uses) {
            return Err(ChatError::refused(
                "invalid-number-of-uses",
                "Invite should be valid for 1, 5, 10, 25, 50, 100 or infinite (0) uses.",
            ));
        }
        let now = Ts::now();
        if let Some(existing) = self
            .store
            .reusable_invite(&actor.id, rid, max_uses, days, now)
            .await?
        {
            return Ok(self.invite_link(existing));
        }
        let mut invite = Invite {
            id: random_id(TOKEN_CHARS),
            days,
            max_uses,
            rid: rid.to_string(),
            user_id: actor.id.clone(),
            created_at: now,
            expires: (days > 0).then(|| Ts(now.0 + days * DAY_MS)),
            uses: 0,
            updated_at: now,
        };
        // A clash of random tokens is all but impossible; a second draw settles it.
        let mut attempts = 0;
        loop {
            match self.store.insert_invite(&invite).await {
                Ok(()) => break,
                Err(StoreError::Conflict(_)) if attempts < 3 => {
                    attempts += 1;
                    invite.id = random_id(TOKEN_CHARS);
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(room_id = %rid, user_id = %actor.id, days, max_uses, "invite link created");
        Ok(self.invite_link(invite))
    }

    /// `listInvites`: every invite of the workspace, oldest first, for holders of
    /// `create-invite-links` (a global role), as Rocket.Chat lists them.
    pub async fn list_invites(&self, actor: &User) -> ChatResult<Vec<InviteLink>> {
        if !self
            .has_permission(actor, Perm::CREATE_INVITE_LINKS, None)
            .await?
        {
            return Err(not_authorized());
        }
        let invites = self.store.invites().await?;
        Ok(invites.into_iter().map(|i| self.invite_link(i)).collect())
    }

    /// `removeInvite/:_id` (`create-invite-links`, a global role).
    pub async fn remove_invite(&self, actor: &User, id: &str) -> ChatResult<()> {
        if !self
            .has_permission(actor, Perm::CREATE_INVITE_LINKS, None)
            .await?
        {
            return Err(not_authorized());
        }
        if id.is_empty() {
            return Err(ChatError::refused(
                "error-the-field-is-required",
                "The field _id is required",
            ));
        }
        if !self.store.delete_invite(id).await? {
            return Err(ChatError::refused(
                "invalid-invitation-id",
                "Invalid Invitation _id",
            ));
        }
        tracing::info!(invite_id = %id, user_id = %actor.id, "invite link removed");
        Ok(())
    }

    /// `validateInviteToken`: the invite and its room while it can still be used;
    /// else `error-invalid-token` (unknown), `error-invalid-room` (the room is
    /// gone) or `error-invite-expired` (past its days, or every use taken).
    pub async fn validate_invite_token(&self, token: &str) -> ChatResult<(Invite, Room)> {
        if token.is_empty() {
            return Err(invalid_token());
        }
        let invite = self
            .store
            .invite_by_id(token)
            .await?
            .ok_or_else(invalid_token)?;
        let room = self.store.room_by_id(&invite.rid).await?.ok_or_else(|| {
            ChatError::refused("error-invalid-room", "The invite token is invalid.")
        })?;
        if invite.expired(Ts::now()) || invite.exhausted() {
            return Err(invite_expired());
        }
        Ok((invite, room))
    }

    /// `useInviteToken`: joins the caller to the invite's room. A use is counted
    /// only for someone not yet a member, and taken atomically, so an invite of
    /// `n` uses lets in `n` people however many try at once. The caller's
    /// `inviteToken` records the invite (never shown by the API).
    pub async fn use_invite_token(&self, actor: &User, token: &str) -> ChatResult<Room> {
        if token.is_empty() {
            return Err(invalid_token());
        }
        let (invite, room) = self.validate_invite_token(token).await?;
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "error-room-type-not-allowed",
                "Can't join room of this type via invite",
            ));
        }
        let mut user = self
            .store
            .user_by_id(&actor.id)
            .await?
            .ok_or_else(|| ChatError::refused("error-invalid-user", "The user is invalid"))?;
        if user.invite_token.as_deref() != Some(token) {
            user.invite_token = Some(token.to_string());
            self.store.update_user(&user).await?;
        }
        if self.store.subscription(&room.id, &user.id).await?.is_some() {
            return Ok(room);
        }
        if self
            .store
            .claim_invite_use(&invite.id, Ts::now())
            .await?
            .is_none()
        {
            // Taken by others since it was validated.
            return Err(invite_expired());
        }
        // Rocket.Chat's `addUserToRoom` without an inviter: "joined", or for a
        // discussion "joined the discussion".
        let t = if room.extra.prid.is_some() {
            "ut"
        } else {
            "uj"
        };
        tracing::info!(room_id = %room.id, user_id = %user.id, invite_id = %invite.id, "joined by invite link");
        self.add_member(&user, &room, &user, t).await?;
        self.room(RoomRef::Id(&room.id)).await
    }
}

fn invite_expired() -> ChatError {
    ChatError::refused("error-invite-expired", "The invite token has expired.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_url_type() {
        assert_eq!(
            invite_url(
                "https://chat.example.com/",
                "direct",
                "https://go.rocket.chat",
                "Ab3"
            ),
            "https://chat.example.com/invite/Ab3"
        );
        assert_eq!(
            invite_url(
                "https://chat.example.com",
                "proxy",
                "https://go.rocket.chat/",
                "Ab3"
            ),
            "https://go.rocket.chat/invite?host=chat.example.com&path=invite%2FAb3"
        );
        assert_eq!(
            invite_url(
                "http://127.0.0.1:3000",
                "proxy",
                "https://go.rocket.chat",
                "x"
            ),
            "https://go.rocket.chat/invite?host=127.0.0.1%3A3000&path=invite%2Fx&secure=no"
        );
    }

    #[test]
    fn expiry_and_exhaustion() {
        let invite = Invite {
            id: "t".into(),
            days: 1,
            max_uses: 2,
            rid: "r".into(),
            user_id: "u".into(),
            created_at: Ts(0),
            expires: Some(Ts(100)),
            uses: 1,
            updated_at: Ts(0),
        };
        assert!(!invite.expired(Ts(99)));
        assert!(invite.expired(Ts(100)));
        assert!(!invite.exhausted());
        let used = Invite {
            uses: 2,
            ..invite.clone()
        };
        assert!(used.exhausted());
        let unlimited = Invite {
            max_uses: 0,
            uses: 500,
            expires: None,
            ..invite
        };
        assert!(!unlimited.exhausted() && !unlimited.expired(Ts(i64::MAX)));
    }
}

//! Rocket.Chat's core slash commands that act on rooms and users, as its
//! `apps/meteor/app/slashcommands-*/server` do them: `/archive`, `/unarchive`,
//! `/create`, `/hide`, `/invite`, `/invite-all-from`, `/invite-all-to`, `/join`,
//! `/kick`, `/leave` (`/part`), `/msg`, `/mute`, `/unmute`, `/status`, `/topic`.
//!
//! Each follows Rocket.Chat's split between what it tells the user privately (an
//! ephemeral message, the command still succeeds: "the channel does not exist") and
//! what fails the command (a typed error: "not authorized"), so REST's
//! `commands.run` answers the same status Rocket.Chat does. The slash-command
//! service (`apps::slash`) dispatches here; it owns the list and the app commands.

use serde_json::{json, Value};

use super::error::{ChatError, ChatResult};
use super::notify::EphemeralMessage;
use super::permissions::Perm;
use super::room_settings::RoomSettingsChange;
use super::rooms::NewRoom;
use super::Chat;
use crate::store::{Page, Room, RoomType, User};

/// The core commands this module runs (besides `/me`, `/help` and the ascii-art
/// ones, which the slash-command service answers itself).
pub const ROOM_COMMANDS: &[&str] = &[
    "archive",
    "create",
    "hide",
    "invite",
    "invite-all-from",
    "invite-all-to",
    "join",
    "kick",
    "leave",
    "msg",
    "mute",
    "part",
    "status",
    "topic",
    "unarchive",
    "unmute",
];

/// A core command line: the command (normalised), its parameters, the room it was
/// typed in and the thread, if any.
#[derive(Clone, Copy, Debug)]
pub struct CoreLine<'a> {
    pub command: &'a str,
    pub params: &'a str,
    pub rid: &'a str,
    pub tmid: Option<&'a str>,
}

/// Rocket.Chat's English texts of the notices these commands show (`%s` filled).
mod texts {
    pub fn channel_doesnt_exist(name: &str) -> String {
        format!("The channel `#{name}` does not exist.")
    }
    pub fn channel_already_exists(name: &str) -> String {
        format!("The channel `#{name}` already exists.")
    }
    pub fn already_archived(name: &str) -> String {
        format!("An archived Channel with name `#{name}` exists")
    }
    pub fn archived(name: &str) -> String {
        format!("Channel with name `#{name}` has been archived successfully")
    }
    pub fn already_unarchived(name: &str) -> String {
        format!("Channel with name `#{name}` is already in Unarchived state")
    }
    pub fn unarchived(name: &str) -> String {
        format!("Channel with name `#{name}` has been Unarchived successfully")
    }
    pub fn channel_created(name: &str) -> String {
        format!("Channel `#{name}` created.")
    }
    pub fn user_doesnt_exist(names: &str) -> String {
        format!("No user exists by the name of `@{names}`.")
    }
    pub fn username_doesnt_exist(name: &str) -> String {
        format!("The username `{name}` doesn't exist.")
    }
    pub fn already_here(name: &str) -> String {
        format!("`@{name}` is already in here.")
    }
    pub fn not_in_room(name: &str) -> String {
        format!("You are not in the room `{name}`")
    }
    pub const NO_ACCESS: &str = "The room does not exist or you may not have access permission";
    pub const USERS_ADDED: &str = "The users have been added";
    pub const USER_LIMIT: &str = "The number of users you are trying to invite to #channel_name exceeds the limit set by the administrator";
    pub const DIRECT_ROOMS: &str = "Cannot invite users to direct rooms";
    pub const MSG_USAGE: &str = "Username and message must not be empty.";
    pub const STATUS_CHANGED: &str = "Status message changed successfully.";
    pub const STATUS_DISABLED: &str =
        "Your Rocket.Chat administrator has disabled the changing of status messages";
}

/// Rocket.Chat strips the first `#` (or `@`) it finds, wherever it is.
fn strip_first(s: &str, c: char) -> String {
    s.replacen(c, "", 1)
}

/// What a refused step shows the user when Rocket.Chat turns the error into a notice.
fn notice_text(e: &ChatError) -> String {
    match e.error_type() {
        "cant-invite-for-direct-room" => texts::DIRECT_ROOMS.to_string(),
        _ => {
            let text = e.to_string();
            if text.is_empty() {
                e.error_type().to_string()
            } else {
                text
            }
        }
    }
}

impl Chat {
    /// Whether `command` (normalised) is one of [`ROOM_COMMANDS`].
    pub fn is_room_command(command: &str) -> bool {
        ROOM_COMMANDS.contains(&command)
    }

    /// Runs one of [`ROOM_COMMANDS`] for `user`. `Ok` with the notices shown (as
    /// `{"ephemeral": "<one per line>"}`) when the command ran or only told the user why not;
    /// `Err` where Rocket.Chat's command throws.
    pub async fn run_room_command(&self, user: &User, line: CoreLine<'_>) -> ChatResult<Value> {
        let mut notices = Notices {
            chat: self,
            user,
            rid: line.rid,
            shown: Vec::new(),
        };
        let params = line.params.trim();
        match line.command {
            "archive" => {
                self.slash_archive(user, &line, params, true, &mut notices)
                    .await
            }
            "unarchive" => {
                self.slash_archive(user, &line, params, false, &mut notices)
                    .await
            }
            "invite-all-from" | "invite-all-to" => {
                let to = line.command == "invite-all-to";
                self.slash_invite_all(user, &line, params, to, &mut notices)
                    .await
            }
            "invite" => self.slash_invite(user, &line, params, &mut notices).await,
            "join" => self.slash_join(user, params, &mut notices).await,
            "kick" => {
                let username = strip_first(params, '@');
                if username.is_empty() {
                    return Ok(notices.done());
                }
                match self.store.user_by_username(&username).await? {
                    None => notices.show(texts::username_doesnt_exist(&username)),
                    Some(target) => {
                        self.kick(user, line.rid, &target).await?;
                    }
                }
                Ok(())
            }
            "leave" | "part" => {
                if let Err(e) = self.leave_room(user, line.rid).await {
                    if matches!(e, ChatError::Store(_)) {
                        return Err(e);
                    }
                    notices.show(notice_text(&e));
                }
                Ok(())
            }
            "msg" => self.slash_msg(user, params, &mut notices).await,
            "mute" | "unmute" => {
                let mute = line.command == "mute";
                let username = strip_first(params, '@');
                if username.is_empty() {
                    return Ok(notices.done());
                }
                if self.store.user_by_username(&username).await?.is_none() {
                    notices.show(texts::username_doesnt_exist(&username));
                    if !mute {
                        return Ok(notices.done());
                    }
                }
                self.set_muted(user, line.rid, &username, mute).await?;
                Ok(())
            }
            "status" => match self.set_status_text(&user.id, line.params).await {
                Ok(()) => {
                    notices.show(texts::STATUS_CHANGED.to_string());
                    Ok(())
                }
                Err(e) => {
                    if e.error_type() == "error-not-allowed" {
                        notices.show(texts::STATUS_DISABLED.to_string());
                    }
                    Err(e)
                }
            },
            "topic" => {
                if self
                    .has_permission(user, Perm::EDIT_ROOM, Some(line.rid))
                    .await?
                {
                    let change = RoomSettingsChange {
                        topic: Some(line.params.to_string()),
                        ..Default::default()
                    };
                    self.save_room_settings(user, line.rid, change).await?;
                }
                Ok(())
            }
            "create" => self.slash_create(user, params, &mut notices).await,
            "hide" => self.slash_hide(user, &line, params, &mut notices).await,
            other => Err(ChatError::refused(
                "error-invalid-command",
                format!("There is no command /{other}"),
            )),
        }?;
        Ok(notices.done())
    }

    /// The room a command names (`#name`), or the room it was typed in.
    async fn named_or_current(
        &self,
        rid: &str,
        params: &str,
    ) -> ChatResult<(Option<Room>, String)> {
        if params.is_empty() {
            let room = self.store.room_by_id(rid).await?;
            let name = room
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_default();
            return Ok((room, name));
        }
        let name = strip_first(params, '#');
        Ok((self.store.room_by_name(&name).await?, name))
    }

    async fn slash_archive(
        &self,
        user: &User,
        line: &CoreLine<'_>,
        params: &str,
        archive: bool,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let (room, name) = self.named_or_current(line.rid, params).await?;
        let Some(room) = room else {
            notices.show(texts::channel_doesnt_exist(&name));
            return Ok(());
        };
        if room.t == RoomType::Direct {
            let (error_type, verb) = if archive {
                ("error-room-type-not-archivable", "archived")
            } else {
                ("error-room-type-not-unarchivable", "unarchived")
            };
            return Err(ChatError::refused(
                error_type,
                format!("Room type: d can not be {verb}"),
            ));
        }
        let permission = if archive {
            Perm::ARCHIVE_ROOM
        } else {
            Perm::UNARCHIVE_ROOM
        };
        if !self.has_room_permission(user, permission, &room).await? {
            return Err(ChatError::refused("error-not-authorized", "Not authorized"));
        }
        if room.archived == archive {
            notices.show(if archive {
                texts::already_archived(&name)
            } else {
                texts::already_unarchived(&name)
            });
            return Ok(());
        }
        if archive {
            self.archive_room(user, &room.id).await?;
            notices.show(texts::archived(&name));
        } else {
            self.unarchive_room(user, &room.id).await?;
            notices.show(texts::unarchived(&name));
        }
        Ok(())
    }

    /// `/invite-all-from #room` (its members into this room) and `/invite-all-to
    /// #room` (this room's members into that one, created when missing).
    async fn slash_invite_all(
        &self,
        user: &User,
        line: &CoreLine<'_>,
        params: &str,
        to: bool,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let channel = strip_first(params, '#');
        if channel.is_empty() {
            return Ok(());
        }
        let current = self.store.room_by_id(line.rid).await?;
        let named = self.store.room_by_name(&channel).await?;
        let (base, target) = if to {
            (current, named)
        } else {
            (named, current)
        };
        let Some(base) = base else {
            notices.show(texts::channel_doesnt_exist(&channel));
            return Ok(());
        };
        if !self.can_access_room(user, &base).await? {
            notices.show(texts::NO_ACCESS.to_string());
            return Ok(());
        }
        let limit = u64::try_from(self.settings().int("API_User_Limit")).unwrap_or(0);
        if limit == 0 {
            return Ok(());
        }
        let members = self
            .store
            .room_subscriptions(&base.id, Page::new(0, limit + 1))
            .await?;
        if members.total > limit {
            notices.show(texts::USER_LIMIT.to_string());
            return Ok(());
        }
        let usernames: Vec<String> = members
            .items
            .into_iter()
            .map(|s| s.u.username)
            .filter(|u| !u.is_empty())
            .collect();
        let outcome = match target {
            None if base.t != RoomType::Direct => {
                let new = NewRoom {
                    kind: base.t,
                    name: channel.clone(),
                    members: usernames,
                    read_only: false,
                    topic: None,
                    description: None,
                    custom_fields: None,
                    team_id: None,
                };
                self.create_room(user, new).await.map(|_| {
                    notices.show(texts::channel_created(&channel));
                })
            }
            None => Err(ChatError::room_not_found()),
            Some(target) => self.add_users_to_room(user, &target, &usernames).await,
        };
        match outcome {
            Ok(()) => notices.show(texts::USERS_ADDED.to_string()),
            Err(e @ ChatError::Store(_)) => return Err(e),
            Err(e) => notices.show(notice_text(&e)),
        }
        Ok(())
    }

    /// Rocket.Chat's `addUsersToRoom`: the same checks for each, members skipped.
    async fn add_users_to_room(
        &self,
        actor: &User,
        room: &Room,
        usernames: &[String],
    ) -> ChatResult<()> {
        if room.t == RoomType::Direct {
            return Err(ChatError::refused(
                "cant-invite-for-direct-room",
                "Can't invite user to direct rooms",
            ));
        }
        for username in usernames {
            let Some(target) = self.store.user_by_username(username).await? else {
                continue;
            };
            self.invite(actor, &room.id, &target).await?;
        }
        Ok(())
    }

    async fn slash_invite(
        &self,
        user: &User,
        line: &CoreLine<'_>,
        params: &str,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let usernames: Vec<String> = params
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|u| u.strip_prefix('@').unwrap_or(u).to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if usernames.is_empty() {
            return Ok(());
        }
        let mut users = Vec::new();
        for name in &usernames {
            if let Some(u) = self.store.user_by_username(name).await? {
                users.push(u);
            }
        }
        if users.is_empty() {
            notices.show(texts::user_doesnt_exist(&usernames.join(" @")));
            return Ok(());
        }
        for target in users {
            if self
                .store
                .subscription(line.rid, &target.id)
                .await?
                .is_some()
            {
                notices.show(texts::already_here(&target.username));
                continue;
            }
            let invited = match self.store.room_by_id(line.rid).await? {
                Some(room) if room.t == RoomType::Direct => Err(ChatError::refused(
                    "cant-invite-for-direct-room",
                    "Can't invite user to direct rooms",
                )),
                _ => self.invite(user, line.rid, &target).await.map(drop),
            };
            match invited {
                Ok(()) => {}
                Err(e @ ChatError::Store(_)) => return Err(e),
                Err(e) => notices.show(notice_text(&e)),
            }
        }
        Ok(())
    }

    async fn slash_join(
        &self,
        user: &User,
        params: &str,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        if params.is_empty() {
            return Ok(());
        }
        let channel = strip_first(params, '#');
        let room = self
            .store
            .room_by_name(&channel)
            .await?
            .filter(|r| r.t == RoomType::Channel);
        let Some(room) = room else {
            notices.show(texts::channel_doesnt_exist(&channel));
            return Ok(());
        };
        if self.store.subscription(&room.id, &user.id).await?.is_some() {
            return Err(ChatError::refused(
                "error-user-already-in-room",
                "You are already in the channel",
            ));
        }
        self.join_room(user, &room.id).await?;
        Ok(())
    }

    /// `/msg @user text`: a direct message, opened when needed.
    async fn slash_msg(
        &self,
        user: &User,
        params: &str,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let Some((target, text)) = params.split_once(' ') else {
            notices.show(texts::MSG_USAGE.to_string());
            return Ok(());
        };
        let username = strip_first(target, '@');
        if self.store.user_by_username(&username).await?.is_none() {
            notices.show(texts::username_doesnt_exist(target));
            return Ok(());
        }
        let room = self.create_direct(user, &[username]).await?;
        let new = super::messages::NewMessage {
            rid: room.id,
            msg: text.to_string(),
            ..Default::default()
        };
        self.send_message(user, new).await?;
        Ok(())
    }

    /// `/create #name [--private]`: the name is the first run of characters the
    /// room name rule allows.
    async fn slash_create(
        &self,
        user: &User,
        params: &str,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let name: String = params
            .chars()
            .skip_while(|c| !room_name_char(*c))
            .take_while(|c| room_name_char(*c))
            .collect();
        if name.is_empty() {
            return Ok(());
        }
        if self.store.room_by_name(&name).await?.is_some() {
            notices.show(texts::channel_already_exists(&name));
            return Ok(());
        }
        let private = params
            .split_whitespace()
            .any(|word| word.starts_with("--") && word.contains("private"));
        let new = NewRoom {
            kind: if private {
                RoomType::Group
            } else {
                RoomType::Channel
            },
            name,
            members: Vec::new(),
            read_only: false,
            topic: None,
            description: None,
            custom_fields: None,
            team_id: None,
        };
        self.create_room(user, new).await?;
        Ok(())
    }

    /// `/hide` (this room), `/hide #room` or `/hide @user` (the DM with them).
    async fn slash_hide(
        &self,
        user: &User,
        line: &CoreLine<'_>,
        params: &str,
        notices: &mut Notices<'_>,
    ) -> ChatResult<()> {
        let mut rid = line.rid.to_string();
        if !params.is_empty() {
            let stripped = params.replacen(['#', '@'], "", 1);
            let stripped = stripped.split(' ').next().unwrap_or_default();
            let room = if params.starts_with('#') {
                self.store.room_by_name(stripped).await?
            } else {
                match self.find_direct(user, stripped).await {
                    Ok(room) => Some(room),
                    Err(ChatError::Store(e)) => return Err(e.into()),
                    Err(_) => None,
                }
            };
            let Some(room) = room else {
                notices.show(texts::channel_doesnt_exist(params));
                notices.show(texts::not_in_room(params));
                return Ok(());
            };
            if self.store.subscription(&room.id, &user.id).await?.is_none() {
                notices.show(texts::not_in_room(params));
                return Ok(());
            }
            rid = room.id;
        }
        match self.set_room_open(user, &rid, false).await {
            Ok(()) => {}
            Err(e @ ChatError::Store(_)) => return Err(e),
            Err(e) => notices.show(notice_text(&e)),
        }
        Ok(())
    }
}

/// Rocket.Chat's default `UTF8_Channel_Names_Validation`: `[0-9a-zA-Z-_.]+`.
fn room_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The notices a command shows its user, sent as they happen and collected for the
/// REST answer.
struct Notices<'a> {
    chat: &'a Chat,
    user: &'a User,
    rid: &'a str,
    shown: Vec<String>,
}

impl Notices<'_> {
    fn show(&mut self, text: String) {
        let message = EphemeralMessage {
            rid: self.rid.to_string(),
            msg: text.clone(),
            ..Default::default()
        };
        if let Err(e) = self.chat.notify_user(&self.user.id, message) {
            tracing::warn!(user_id = %self.user.id, room_id = %self.rid, error = %e, "command notice not shown");
        }
        self.shown.push(text);
    }

    fn done(&mut self) -> Value {
        if self.shown.is_empty() {
            json!({})
        } else {
            // One text, as an app's notice is (`result.ephemeral`).
            json!({ "ephemeral": std::mem::take(&mut self.shown).join("\n") })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_marker_is_stripped_wherever_it_is() {
        assert_eq!(strip_first("#general", '#'), "general");
        assert_eq!(strip_first("a#b#c", '#'), "ab#c");
        assert_eq!(strip_first("@bob", '@'), "bob");
    }

    #[test]
    fn room_names_follow_the_default_rule() {
        assert!(room_name_char('a') && room_name_char('-') && room_name_char('.'));
        assert!(!room_name_char('#') && !room_name_char(' ') && !room_name_char('é'));
    }

    #[test]
    fn refusals_become_notices_in_rocket_chat_words() {
        let e = ChatError::refused("cant-invite-for-direct-room", "x");
        assert_eq!(notice_text(&e), texts::DIRECT_ROOMS);
        let e = ChatError::refused("error-not-allowed", "Not allowed");
        assert_eq!(notice_text(&e), "Not allowed");
        assert!(Chat::is_room_command("invite-all-from"));
        assert!(!Chat::is_room_command("me"));
    }
}

//! Stored domain records. Field names follow Rocket.Chat's documents so the API layer
//! can serialize them without a second set of types; timestamps are [`Ts`]
//! (milliseconds) and are rendered as ISO-8601 (REST) or EJSON dates (DDP) at the edge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Ts(pub i64);

impl Ts {
    pub fn now() -> Ts {
        Ts(chrono::Utc::now().timestamp_millis())
    }
}

/// An e-mail address of a user; addresses are stored lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub address: String,
    #[serde(default)]
    pub verified: bool,
}

/// The account roles Palaver knows about.
pub mod roles {
    pub const ADMIN: &str = "admin";
    pub const USER: &str = "user";
    pub const BOT: &str = "bot";
    /// Room-scoped role held through a subscription.
    pub const OWNER: &str = "owner";
    pub const MODERATOR: &str = "moderator";
    pub const LEADER: &str = "leader";
    pub const APP: &str = "app";
    pub const GUEST: &str = "guest";
    pub const ANONYMOUS: &str = "anonymous";
    pub const ALL: [&str; 3] = [ADMIN, USER, BOT];
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub emails: Vec<Email>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub active: bool,
    /// `user` or `bot`, as Rocket.Chat's `type`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    #[serde(rename = "lastLogin", default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<Ts>,
    #[serde(rename = "requirePasswordChange", default)]
    pub require_password_change: bool,
    /// Why the password must be changed (Rocket.Chat's
    /// `requirePasswordChangeReason`, an i18n key its clients show); it goes when
    /// `requirePasswordChange` is turned off, as Rocket.Chat's `saveUser` unsets it.
    #[serde(
        rename = "requirePasswordChangeReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub require_password_change_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Rocket.Chat's `settings`: the preferences the user changed from the defaults.
    #[serde(default, skip_serializing_if = "UserSettings::is_empty")]
    pub settings: UserSettings,
    /// Rocket.Chat's `customFields`: the workspace's own profile fields
    /// (`Accounts_CustomFields`), validated on registration and update.
    #[serde(
        rename = "customFields",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Presence as others see it: `online`, `away`, `busy` or `offline` (absent:
    /// offline). Kept by `chat::presence` only, with targeted store updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What the user's connections alone say (`online`, `away`, `offline`).
    #[serde(
        rename = "statusConnection",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_connection: Option<String>,
    /// The status the user chose: `online` follows the connections, `offline` is
    /// invisible.
    #[serde(
        rename = "statusDefault",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_default: Option<String>,
    #[serde(
        rename = "statusText",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_text: Option<String>,
    /// Rocket.Chat's `services`: the external identities this account is linked to,
    /// by service name (`ldap`, an OAuth service's name). At most one account per
    /// service and identifier.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceLink>,
    /// Changes with the avatar (Rocket.Chat's `avatarETag`); absent: initials.
    #[serde(
        rename = "avatarETag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar_etag: Option<String>,
    /// Where the avatar came from: `rest`, `url`, `ldap` (Rocket.Chat's `avatarOrigin`).
    #[serde(
        rename = "avatarOrigin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar_origin: Option<String>,
    /// The upload record holding the avatar image.
    #[serde(
        rename = "avatarFileId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar_file_id: Option<String>,
    /// The invite link the user last used (Rocket.Chat's `inviteToken`, set by
    /// `useInviteToken`). A bearer secret of that link: no API ever returns it
    /// (`wire::render` drops it).
    #[serde(
        rename = "inviteToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub invite_token: Option<String>,
}

/// One external identity of a user (Rocket.Chat's `services.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceLink {
    /// The provider's stable identifier of the person (OIDC `sub`, the LDAP unique
    /// identifier attribute), never an e-mail address.
    pub id: String,
    /// What else the provider said, kept as Rocket.Chat keeps it.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A user's own settings (Rocket.Chat's `user.settings`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserSettings {
    /// Only the preferences the user set; the defaults are added when read.
    #[serde(default)]
    pub preferences: serde_json::Map<String, serde_json::Value>,
}

impl UserSettings {
    pub fn is_empty(&self) -> bool {
        self.preferences.is_empty()
    }
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn is_admin(&self) -> bool {
        self.has_role(roles::ADMIN)
    }
    pub fn as_ref(&self) -> UserRef {
        UserRef {
            id: self.id.clone(),
            username: self.username.clone(),
            name: Some(self.name.clone()),
        }
    }
}

/// The short user reference embedded in rooms, subscriptions and messages (`u`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A login or personal access token. Only the SHA-256 of the token is ever stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginToken {
    /// base64 (standard) of SHA-256 of the token, as Rocket.Chat's `hashedToken`.
    pub hashed: String,
    pub user_id: String,
    pub created_at: Ts,
    pub expires_at: Option<Ts>,
    /// `None` for a login session, `Some(name)` for a personal access token.
    pub personal_name: Option<String>,
    /// A personal access token's last six characters, shown to its owner to tell
    /// tokens apart (the token itself is never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_token_part: Option<String>,
    /// A personal access token made to skip two-factor prompts (kept for
    /// Rocket.Chat's listing; Palaver has no two-factor prompts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bypass_two_factor: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoomType {
    /// Public channel.
    #[serde(rename = "c")]
    Channel,
    /// Private group.
    #[serde(rename = "p")]
    Group,
    /// Direct message.
    #[serde(rename = "d")]
    Direct,
}

impl RoomType {
    pub fn code(self) -> &'static str {
        match self {
            RoomType::Channel => "c",
            RoomType::Group => "p",
            RoomType::Direct => "d",
        }
    }
    pub fn from_code(code: &str) -> Option<RoomType> {
        match code {
            "c" => Some(RoomType::Channel),
            "p" => Some(RoomType::Group),
            "d" => Some(RoomType::Direct),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    #[serde(rename = "_id")]
    pub id: String,
    pub t: RoomType,
    /// Unique (case-insensitively) among channels and groups; absent for DMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fname: Option<String>,
    /// The creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<UserRef>,
    #[serde(rename = "usersCount")]
    pub users_count: i64,
    pub msgs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lm: Option<Ts>,
    #[serde(
        rename = "lastMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_message: Option<Box<Message>>,
    #[serde(default)]
    pub ro: bool,
    #[serde(default)]
    pub default: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<String>,
    /// Archived rooms keep their history but take no posts and no joins.
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// Members may react in a read-only room.
    #[serde(
        rename = "reactWhenReadOnly",
        default,
        skip_serializing_if = "is_false"
    )]
    pub react_when_read_only: bool,
    /// Changes with the room's avatar (Rocket.Chat's `avatarETag`); absent: initials.
    #[serde(
        rename = "avatarETag",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar_etag: Option<String>,
    /// The upload record holding the room's avatar image.
    #[serde(
        rename = "avatarFileId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub avatar_file_id: Option<String>,
    /// Room-level custom fields, client-supplied JSON (an object); written `{}`
    /// when there are none, as Rocket.Chat's rooms carry it.
    #[serde(rename = "customFields", default, with = "room_custom_fields")]
    pub custom_fields: Option<serde_json::Value>,
    /// The code a user must give to join; never sent to clients (see
    /// [`crate::wire::render`]), only `joinCodeRequired`.
    #[serde(rename = "joinCode", default, skip_serializing_if = "Option::is_none")]
    pub join_code: Option<String>,
    #[serde(rename = "joinCodeRequired", default, skip_serializing_if = "is_false")]
    pub join_code_required: bool,
    /// Members' usernames and ids, kept for direct messages as Rocket.Chat does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usernames: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uids: Option<Vec<String>>,
    pub ts: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    /// Rocket.Chat's optional room fields Palaver keeps without further meaning.
    #[serde(flatten)]
    pub extra: RoomExtra,
}

/// Optional room fields (Rocket.Chat's `featured`, `sysMes`, `favorite`, `muted`,
/// `unmuted`), absent from a room's document until set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomExtra {
    /// Shown in the directory's featured list (`saveRoomSettings` `featured`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub featured: bool,
    /// The system message types hidden in this room (`systemMessages`); `None`:
    /// the workspace's (`Hide_System_Messages`), written `true` as Rocket.Chat does.
    #[serde(rename = "sysMes", default, with = "room_sys_mes")]
    pub sys_mes: Option<Vec<String>>,
    /// A default room new members get as a favourite (`favorite.favorite` with
    /// `defaultValue`); only meaningful on default rooms.
    #[serde(default, skip_serializing_if = "is_false")]
    pub favorite: bool,
    /// Usernames that may not post (in a read-only room: whose exception was
    /// withdrawn). Changed only through [`crate::store::RoomStore::set_room_mute`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<Vec<String>>,
    /// Usernames that may post in a read-only room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmuted: Option<Vec<String>>,
    /// A discussion's parent room (Rocket.Chat's `prid`); set at creation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prid: Option<String>,
    /// The team this room belongs to (Rocket.Chat's `teamId`): the team's main
    /// room carries it with `teamMain`, the team's other rooms without.
    #[serde(rename = "teamId", default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The room is its team's main room: the team's name, type and members.
    #[serde(rename = "teamMain", default, skip_serializing_if = "is_false")]
    pub team_main: bool,
    /// A team's room its members join (Rocket.Chat's `teamDefault`, "auto-join"):
    /// when it is marked so, and new users joining a default team.
    #[serde(rename = "teamDefault", default, skip_serializing_if = "is_false")]
    pub team_default: bool,
    /// What a team's side panel lists (a team's main room only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidepanel: Option<Sidepanel>,
}

/// A team's side panel (Rocket.Chat's `sidepanel: {items}`): at most one of each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidepanel {
    pub items: Vec<SidepanelItem>,
}

/// An item of a team's side panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SidepanelItem {
    Channels,
    Discussions,
}

impl Sidepanel {
    /// Rocket.Chat's `isValidSidepanel`: known items, at most two, none twice.
    pub fn parse(items: &[serde_json::Value]) -> Option<Sidepanel> {
        let mut parsed: Vec<SidepanelItem> = Vec::with_capacity(items.len());
        for item in items {
            let item: SidepanelItem = serde_json::from_value(item.clone()).ok()?;
            if parsed.contains(&item) {
                return None;
            }
            parsed.push(item);
        }
        (parsed.len() <= 2).then_some(Sidepanel { items: parsed })
    }
}

/// A change to a room's `muted`/`unmuted` lists, as Rocket.Chat's `muteUserInRoom`
/// and `unmuteUserInRoom` make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuteChange {
    /// Add to `muted`, remove from `unmuted`.
    Mute,
    /// Read-only room: remove from `unmuted` only.
    MuteReadOnly,
    /// Remove from `muted`.
    Unmute,
    /// Read-only room: remove from `muted`, add to `unmuted`.
    UnmuteReadOnly,
}

impl MuteChange {
    /// Applies the change to a room in memory (the SQLite backend's write, and the
    /// reference for MongoDB's update operators).
    pub fn apply(self, extra: &mut RoomExtra, username: &str) {
        fn add(list: &mut Option<Vec<String>>, name: &str) {
            let list = list.get_or_insert_with(Vec::new);
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        }
        fn remove(list: &mut Option<Vec<String>>, name: &str) {
            if let Some(list) = list {
                list.retain(|n| n != name);
            }
        }
        match self {
            MuteChange::Mute => {
                add(&mut extra.muted, username);
                remove(&mut extra.unmuted, username);
            }
            MuteChange::MuteReadOnly => remove(&mut extra.unmuted, username),
            MuteChange::Unmute => remove(&mut extra.muted, username),
            MuteChange::UnmuteReadOnly => {
                remove(&mut extra.muted, username);
                add(&mut extra.unmuted, username);
            }
        }
    }
}

impl Room {
    /// Whether `username` is muted here (listed in `muted`).
    pub fn is_muted(&self, username: &str) -> bool {
        self.extra
            .muted
            .as_ref()
            .is_some_and(|m| m.iter().any(|n| n == username))
    }

    /// Whether `username` was let post in this read-only room.
    pub fn is_unmuted(&self, username: &str) -> bool {
        self.extra
            .unmuted
            .as_ref()
            .is_some_and(|m| m.iter().any(|n| n == username))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    #[serde(rename = "_id")]
    pub id: String,
    pub rid: String,
    pub u: UserRef,
    /// Room name, or for a DM the other member's username.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fname: Option<String>,
    pub t: RoomType,
    pub open: bool,
    pub alert: bool,
    pub unread: i64,
    #[serde(rename = "userMentions", default)]
    pub user_mentions: i64,
    #[serde(rename = "groupMentions", default)]
    pub group_mentions: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ls: Option<Ts>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The room is archived (mirrors the room's `archived`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub archived: bool,
    /// Favourite (starred in the sidebar).
    #[serde(default, skip_serializing_if = "is_false")]
    pub f: bool,
    pub ts: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    /// The member's notification preferences for this room (`rooms.saveNotification`).
    #[serde(flatten)]
    pub notify: SubscriptionNotify,
    /// The room is a discussion of this parent room (mirrors the room's `prid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prid: Option<String>,
    /// Threads of the room with replies the member has not read, which Rocket.Chat's
    /// clients show as thread badges (thread replies leave `unread` alone).
    #[serde(flatten)]
    pub threads: ThreadUnread,
}

/// A member's unread threads in one room, by thread id (the parent's `_id`), as
/// Rocket.Chat keeps them on the subscription. Absent when empty, as there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadUnread {
    /// Every unread thread.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunread: Vec<String>,
    /// Those whose unread replies mention the member by name.
    #[serde(rename = "tunreadUser", default, skip_serializing_if = "Vec::is_empty")]
    pub tunread_user: Vec<String>,
    /// Those whose unread replies mention `@all`/`@here`.
    #[serde(
        rename = "tunreadGroup",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tunread_group: Vec<String>,
}

/// A member's notification preferences for one room, as Rocket.Chat keeps them on
/// the subscription. A channel preference (`all`, `mentions`, `nothing`) is set only
/// when the member chose one for the room; absent, the user's preference applies,
/// then the workspace default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionNotify {
    #[serde(
        rename = "desktopNotifications",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub desktop: Option<String>,
    #[serde(
        rename = "mobilePushNotifications",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mobile: Option<String>,
    #[serde(
        rename = "emailNotifications",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// `@all`/`@here` do not notify (a direct mention still does).
    #[serde(
        rename = "muteGroupMentions",
        default,
        skip_serializing_if = "is_false"
    )]
    pub mute_group_mentions: bool,
    #[serde(rename = "hideUnreadStatus", default, skip_serializing_if = "is_false")]
    pub hide_unread_status: bool,
    #[serde(
        rename = "hideMentionStatus",
        default,
        skip_serializing_if = "is_false"
    )]
    pub hide_mention_status: bool,
    /// Nothing from this room notifies (the room is muted for the member).
    #[serde(
        rename = "disableNotifications",
        default,
        skip_serializing_if = "is_false"
    )]
    pub disable_notifications: bool,
}

/// A room's `sysMes`: its own list of hidden system message types, or `true`
/// (Rocket.Chat's value on the rooms it creates) for the workspace's list. Both
/// forms are read; absence and `false` read as the workspace's too.
mod room_sys_mes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(types) => types.serialize(s),
            None => s.serialize_bool(true),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Types(Vec<String>),
        Other(serde::de::IgnoredAny),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        Ok(match Option::<Raw>::deserialize(d)? {
            Some(Raw::Types(types)) => Some(types),
            Some(Raw::Other(_)) | None => None,
        })
    }
}

/// A room's `customFields`: written `{}` when it has none (clients read the
/// object unconditionally); an empty object reads as none.
mod room_custom_fields {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(fields) => fields.serialize(s),
            None => serde_json::Map::new().serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.filter(|v| match v {
            Value::Object(map) => !map.is_empty(),
            Value::Null => false,
            _ => true,
        }))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A change to subscriptions (of one member or of every member of a room); `None`
/// fields are left alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubscriptionPatch {
    pub name: Option<String>,
    pub fname: Option<String>,
    pub t: Option<RoomType>,
    pub archived: Option<bool>,
    pub open: Option<bool>,
    pub f: Option<bool>,
    pub unread: Option<i64>,
    pub alert: Option<bool>,
    pub ls: Option<Ts>,
    /// Notification preferences to set, by their Rocket.Chat field name
    /// (`emailNotifications`, …); `Null` removes one.
    pub notify: Vec<(&'static str, serde_json::Value)>,
}

/// A subscription that was removed (leave, kick, room deleted), kept so that clients
/// syncing with `updatedSince` learn about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedSubscription {
    #[serde(rename = "_id")]
    pub id: String,
    pub rid: String,
    #[serde(rename = "_deletedAt")]
    pub deleted_at: Ts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub usernames: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(rename = "_id")]
    pub id: String,
    pub rid: String,
    pub msg: String,
    pub ts: Ts,
    pub u: UserRef,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    /// System message type (`uj` user joined, `ul` left, `au` added, `ru` removed, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
    #[serde(rename = "editedAt", default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Ts>,
    #[serde(rename = "editedBy", default, skip_serializing_if = "Option::is_none")]
    pub edited_by: Option<UserRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, Reaction>,
    /// Thread parent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmid: Option<String>,
    /// Number of thread replies (on a thread parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcount: Option<i64>,
    /// Time of the last thread reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlm: Option<Ts>,
    /// Ids of users who replied in the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<serde_json::Value>,
    /// Set for messages from bots/integrations (e.g. `{"i": "<app id>"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserRef>,
    #[serde(
        rename = "customFields",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_fields: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groupable: Option<bool>,
    /// The first uploaded file (`{_id, name, type, size, format}`), as Rocket.Chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<serde_json::Value>,
    /// Every uploaded file of the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<serde_json::Value>,
    /// The role a `subscription-role-added`/`-removed` system message is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Pins and stars: changed only through their own store calls, kept by edits.
    #[serde(flatten)]
    pub marks: MessageMarks,
    /// The discussion a `discussion-created` message links to, with its activity.
    #[serde(flatten)]
    pub discussion: DiscussionLink,
    /// The parsed text, stored as Rocket.Chat does when the message is sent or
    /// edited (none for system messages, nor for messages older than the parser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md: Option<Vec<super::message_md::MdNode>>,
    /// The links of the text, with their previews once read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<super::message_urls::MessageUrl>,
}

/// A message's link to a discussion (Rocket.Chat's `drid`, `dcount`, `dlm`): set
/// on the parent room's `discussion-created` message; the count and last message
/// time follow the discussion's own (only through
/// [`crate::store::MessageStore::refresh_discussion`]), and are kept by edits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiscussionLink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlm: Option<Ts>,
}

/// Who pinned and starred a message (Rocket.Chat's `pinned`, `pinnedAt`,
/// `pinnedBy`, `starred`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageMarks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    #[serde(rename = "pinnedAt", default, skip_serializing_if = "Option::is_none")]
    pub pinned_at: Option<Ts>,
    #[serde(rename = "pinnedBy", default, skip_serializing_if = "Option::is_none")]
    pub pinned_by: Option<UserRef>,
    /// The users who starred it, as `{_id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starred: Vec<IdRef>,
}

/// `{_id}`: a reference Rocket.Chat keeps as a one-field document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    #[serde(rename = "_id")]
    pub id: String,
}

/// A deleted message as its tombstone keeps it (Rocket.Chat's trash), so that
/// clients syncing a room learn what went away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    pub id: String,
    pub rid: String,
    pub tmid: Option<String>,
    /// It was a thread's parent (had `tcount`).
    pub was_thread: bool,
    pub deleted_at: Ts,
}

/// What committing a new message does besides storing it; applied atomically with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostEffects {
    /// Users mentioned by name: their subscriptions' `userMentions` go up.
    pub mentioned_user_ids: Vec<String>,
    /// `@all`/`@here`: every other member's `groupMentions` goes up.
    pub group_mention: bool,
    /// A thread reply's effects (`None` for other messages): thread replies leave
    /// the room's `unread` and mentions alone, as in Rocket.Chat.
    pub thread: Option<ThreadReplyEffects>,
    /// Queue items that must exist whenever the message does (the notification
    /// fan-out's marker): on SQLite in the message's transaction; on MongoDB
    /// written before the message (an item whose message never committed finds
    /// nothing to do). Skipped when their dedupe key is queued already.
    pub queue: Vec<crate::store::outbox::OutboxItem>,
}

/// What a thread reply does to its thread and the room's members.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadReplyEffects {
    /// Users added to the thread's followers (the parent's `replies`).
    pub followers: Vec<String>,
    /// Members whose subscription now has the thread unread (`tunread`, and
    /// `alert`/`open` set); never the sender.
    pub unread: Vec<ThreadUnreadMark>,
}

/// One member for whom a thread reply is unread, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadUnreadMark {
    pub user_id: String,
    pub mention: ThreadMention,
}

/// Whether an unread thread reply mentions the member (`tunreadUser`), the
/// whole room (`tunreadGroup`) or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadMention {
    None,
    User,
    Group,
}

/// What deleting a message changed besides removing it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeletedMessage {
    /// For a thread reply, its parent after `tcount` went down (`None` if the parent
    /// is gone or its count was already zero), so callers can publish it unread.
    pub thread_parent: Option<Message>,
}

/// A server setting (`settings.public` and friends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    #[serde(rename = "_id")]
    pub id: String,
    pub value: serde_json::Value,
    pub public: bool,
    /// When an admin last changed it; `None` for values written at start-up.
    #[serde(
        rename = "_updatedAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<Ts>,
}

//! `/api/v1`: Rocket.Chat's REST API. Paths, field names and envelopes follow
//! Rocket.Chat's published API so existing clients and bots work unchanged.

mod auth;
pub mod avatars;
mod chat;
mod chat_lists;
mod commands;
mod directory;
pub(crate) mod discussions;
pub mod files;
mod im;
pub(crate) mod integrations;
mod invites;
mod ldap;
mod matrix;
mod method_call;
mod misc;
mod notify;
mod outbox;
mod permissions;
mod presence;
mod push;
mod roles;
mod room_admin;
mod room_export;
mod room_members;
mod room_settings;
mod room_state;
mod rooms;
mod settings;
mod teams;
mod users;
mod users_self;
mod users_tokens;

use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::Params;
use super::AppState;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{Listing, Page, RoomType};
use crate::wire::{self, DateStyle};

pub fn routes() -> Router<AppState> {
    use rooms::{CHANNEL, GROUP};
    Router::new()
        .merge(files::routes())
        .merge(avatars::routes())
        .merge(users_tokens::routes())
        .merge(directory::routes())
        .merge(invites::routes())
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout).get(auth::logout))
        .route("/me", get(auth::me))
        .route("/users.create", post(users::create))
        .route("/users.info", get(users::info))
        .route("/users.list", get(users::list))
        .route("/users.update", post(users::update))
        .route("/users.setActiveStatus", post(users::set_active_status))
        .route("/users.deactivateIdle", post(users::deactivate_idle))
        .route(
            "/users.checkUsernameAvailability",
            get(users::check_username_availability),
        )
        .route("/users.register", post(users_self::register))
        .route(
            "/users.requestDataDownload",
            get(users_self::request_data_download),
        )
        .route(
            "/users.updateOwnBasicInfo",
            post(users_self::update_own_basic_info),
        )
        .route("/users.setPreferences", post(users_self::set_preferences))
        .route("/users.getPreferences", get(users_self::get_preferences))
        .route(
            "/users.deleteOwnAccount",
            post(users_self::delete_own_account),
        )
        .route("/users.delete", post(users_self::delete))
        .route(
            "/users.getUsernameSuggestion",
            get(users_self::username_suggestion),
        )
        .route("/users.autocomplete", get(users_self::autocomplete))
        .route("/pw.getPolicy", get(users_self::password_policy))
        .route("/users.presence", get(presence::presence))
        .route("/users.getPresence", get(presence::get_presence))
        .route("/users.setStatus", post(presence::set_status))
        .route("/users.getStatus", get(presence::get_status))
        .route("/users.listByStatus", get(presence::list_by_status))
        .route("/channels.create", post(rooms::create::<CHANNEL>))
        .route("/channels.list", get(rooms::list_public))
        .route("/channels.list.joined", get(rooms::list_joined::<CHANNEL>))
        .route("/channels.join", post(rooms::join))
        .route("/channels.leave", post(rooms::leave::<CHANNEL>))
        .route("/channels.invite", post(rooms::invite::<CHANNEL>))
        .route("/channels.kick", post(rooms::kick::<CHANNEL>))
        .route("/channels.info", get(rooms::info::<CHANNEL>))
        .route("/channels.history", get(rooms::history::<CHANNEL>))
        .route("/channels.members", get(rooms::members::<CHANNEL>))
        .route("/channels.delete", post(rooms::delete::<CHANNEL>))
        .route("/groups.create", post(rooms::create::<GROUP>))
        .route("/groups.list", get(rooms::list_joined::<GROUP>))
        .route("/groups.info", get(rooms::info::<GROUP>))
        .route("/groups.history", get(rooms::history::<GROUP>))
        .route("/groups.members", get(rooms::members::<GROUP>))
        .route("/groups.invite", post(rooms::invite::<GROUP>))
        .route("/groups.kick", post(rooms::kick::<GROUP>))
        .route("/groups.leave", post(rooms::leave::<GROUP>))
        .route("/groups.delete", post(rooms::delete::<GROUP>))
        .route("/im.create", post(im::create))
        .route("/dm.create", post(im::create))
        .route("/im.list", get(im::list))
        .route("/dm.list", get(im::list))
        .route("/im.history", get(im::history))
        .route("/dm.history", get(im::history))
        .route("/im.members", get(im::members))
        .route("/im.delete", post(im::delete))
        .route("/dm.delete", post(im::delete))
        .route("/dm.members", get(im::members))
        .route("/chat.postMessage", post(chat::post_message))
        .route("/instances.get", get(misc::instances_get))
        .route("/stdout.queue", get(misc::stdout_queue))
        .route("/chat.reportMessage", post(chat::report_message))
        .route("/moderation.reports", get(chat::message_reports))
        .route("/chat.sendMessage", post(chat::send_message))
        .route("/chat.update", post(chat::update))
        .route("/chat.delete", post(chat::delete))
        .route("/chat.react", post(chat::react))
        .route("/chat.getMessage", get(chat::get_message))
        .route("/chat.getThreadMessages", get(chat_lists::thread_messages))
        .route("/chat.pinMessage", post(chat_lists::pin))
        .route("/chat.getURLPreview", get(chat_lists::url_preview))
        .route("/chat.unPinMessage", post(chat_lists::unpin))
        .route("/chat.starMessage", post(chat_lists::star))
        .route("/chat.unStarMessage", post(chat_lists::unstar))
        .route("/chat.followMessage", post(chat_lists::follow))
        .route("/chat.unfollowMessage", post(chat_lists::unfollow))
        .route("/chat.getPinnedMessages", get(chat_lists::pinned))
        .route("/chat.getStarredMessages", get(chat_lists::starred))
        .route("/chat.getMentionedMessages", get(chat_lists::mentioned))
        .route("/chat.getThreadsList", get(chat_lists::threads))
        .route(
            "/channels.getAllUserMentionsByChannel",
            get(chat_lists::mentions_by_channel),
        )
        .route("/chat.syncThreadsList", get(chat_lists::sync_threads))
        .route(
            "/chat.syncThreadMessages",
            get(chat_lists::sync_thread_messages),
        )
        .route("/chat.syncMessages", get(chat_lists::sync_messages))
        .route("/chat.getDeletedMessages", get(chat_lists::deleted))
        .route("/chat.search", get(chat_lists::search))
        .route(
            "/chat.getMessageReadReceipts",
            get(chat_lists::read_receipts),
        )
        .route("/teams.create", post(teams::create))
        .route("/teams.info", get(teams::info))
        .route("/teams.delete", post(teams::delete))
        .route("/teams.convertToChannel", post(teams::convert_to_channel))
        .route("/teams.list", get(teams::list))
        .route("/users.listTeams", get(teams::of_user))
        .route("/teams.updateRoom", post(teams::update_room))
        .route("/teams.listAll", get(teams::list_all))
        .route("/teams.members", get(teams::members))
        .route("/teams.addMembers", post(teams::add_members))
        .route("/teams.removeMember", post(teams::remove_member))
        .route("/teams.leave", post(teams::leave))
        .route("/teams.addRooms", post(teams::add_rooms))
        .route("/teams.removeRoom", post(teams::remove_room))
        .route("/teams.listRooms", get(teams::list_rooms))
        .route(
            "/channels.convertToTeam",
            post(teams::convert_to_team::<CHANNEL>),
        )
        .route(
            "/groups.convertToTeam",
            post(teams::convert_to_team::<GROUP>),
        )
        .route("/rooms.createDiscussion", post(discussions::create))
        .route("/rooms.getDiscussions", get(discussions::room_discussions))
        .route(
            "/chat.getDiscussions",
            get(discussions::discussion_messages),
        )
        .route("/rooms.get", get(misc::rooms_get))
        .route("/rooms.export", post(room_export::export))
        .route("/rooms.info", get(misc::rooms_info))
        .route("/subscriptions.get", get(misc::subscriptions_get))
        .route("/subscriptions.getOne", get(misc::subscriptions_get_one))
        .route("/subscriptions.read", post(misc::subscriptions_read))
        .route("/settings.public", get(settings::public))
        .route("/settings.oauth", get(settings::oauth))
        .route("/settings", get(settings::list))
        .route("/settings/{_id}", get(settings::get).post(settings::update))
        .route("/audit.settings", get(settings::audit))
        .route("/commands.list", get(commands::list))
        .route("/commands.get", get(commands::get_one))
        .route("/commands.run", post(commands::run))
        .route(
            "/commands.preview",
            get(commands::preview).post(commands::execute_preview),
        )
        .route("/integrations.create", post(integrations::create))
        .route("/integrations.list", get(integrations::list))
        .route("/integrations.get", get(integrations::get))
        .route("/integrations.update", put(integrations::update))
        .route("/integrations.remove", post(integrations::remove))
        .route("/integrations.history", get(integrations::history))
        .route(
            "/palaver.integrations.regenerateToken",
            post(integrations::regenerate_token),
        )
        .route("/permissions.listAll", get(permissions::list_all))
        .route("/permissions.update", post(permissions::update))
        .route("/method.call/{method}", post(method_call::call))
        .route("/method.callAnon/{method}", post(method_call::call_anon))
        .route("/push.token", post(push::register).delete(push::remove))
        .route("/push.info", get(push::info))
        .route("/push.test", post(push::test))
        .route("/push.get", get(push::get_notification))
        .route(
            "/push.webSubscription",
            post(push::web_subscribe).delete(push::web_unsubscribe),
        )
        .route("/push.webKey", get(push::web_key))
        .route("/rooms.saveNotification", post(notify::save_notification))
        .route("/users.forgotPassword", post(notify::forgot_password))
        .route("/users.sendWelcomeEmail", post(notify::send_welcome_email))
        .route(
            "/users.sendConfirmationEmail",
            post(notify::send_confirmation_email),
        )
        .merge(outbox::routes())
        .merge(ldap::routes())
        .merge(matrix::routes())
        .merge(room_settings_routes())
        .merge(room_state::routes())
        .merge(room_admin::routes())
        .merge(room_members::routes())
        .merge(role_routes())
}

/// Room settings (`channels|groups.set*`, rename, archive, `rooms.saveRoomSettings`).
fn room_settings_routes() -> Router<AppState> {
    use room_settings as s;
    use rooms::{CHANNEL, GROUP};
    let mut router = Router::new();
    for (prefix, k) in [("channels", CHANNEL), ("groups", GROUP)] {
        let route = |name: &str| format!("/{prefix}.{name}");
        router = if k == GROUP {
            router
                .route(&route("setTopic"), post(s::set_topic::<GROUP>))
                .route(&route("setDescription"), post(s::set_description::<GROUP>))
                .route(&route("setPurpose"), post(s::set_purpose::<GROUP>))
                .route(
                    &route("setAnnouncement"),
                    post(s::set_announcement::<GROUP>),
                )
                .route(
                    &route("setCustomFields"),
                    post(s::set_custom_fields::<GROUP>),
                )
                .route(&route("setReadOnly"), post(s::set_read_only::<GROUP>))
                .route(&route("setType"), post(s::set_type::<GROUP>))
                .route(&route("rename"), post(s::rename::<GROUP>))
                .route(&route("archive"), post(s::archive::<GROUP>))
                .route(&route("unarchive"), post(s::unarchive::<GROUP>))
        } else {
            router
                .route(&route("setTopic"), post(s::set_topic::<CHANNEL>))
                .route(
                    &route("setDescription"),
                    post(s::set_description::<CHANNEL>),
                )
                .route(&route("setPurpose"), post(s::set_purpose::<CHANNEL>))
                .route(
                    &route("setAnnouncement"),
                    post(s::set_announcement::<CHANNEL>),
                )
                .route(
                    &route("setCustomFields"),
                    post(s::set_custom_fields::<CHANNEL>),
                )
                .route(&route("setReadOnly"), post(s::set_read_only::<CHANNEL>))
                .route(&route("setType"), post(s::set_type::<CHANNEL>))
                .route(&route("rename"), post(s::rename::<CHANNEL>))
                .route(&route("archive"), post(s::archive::<CHANNEL>))
                .route(&route("unarchive"), post(s::unarchive::<CHANNEL>))
                .route(&route("setJoinCode"), post(s::set_join_code))
        };
    }
    router
        .route("/rooms.saveRoomSettings", post(s::save_room_settings))
        .route(
            "/rooms.changeArchivationState",
            post(s::change_archivation_state),
        )
}

/// Roles, room roles and permissions (`roles.*`, `channels|groups.add…`).
fn role_routes() -> Router<AppState> {
    use rooms::{CHANNEL, GROUP};
    let mut router = Router::new()
        .route("/roles.list", get(roles::list))
        .route("/roles.sync", get(roles::sync))
        .route("/roles.create", post(roles::create))
        .route("/roles.update", post(roles::update))
        .route("/roles.delete", post(roles::delete))
        .route("/roles.addUserToRole", post(roles::add_user_to_role))
        .route(
            "/roles.removeUserFromRole",
            post(roles::remove_user_from_role),
        )
        .route("/roles.getUsersInRole", get(roles::users_in_role))
        .route(
            "/roles.getUsersInPublicRoles",
            get(roles::users_in_public_roles),
        )
        .route("/channels.roles", get(roles::room_roles::<CHANNEL>))
        .route("/groups.roles", get(roles::room_roles::<GROUP>))
        .route("/channels.setDefault", post(roles::set_default::<CHANNEL>));
    macro_rules! both {
        ($($suffix:literal => $handler:ident),*) => {
            $(
                router = router
                    .route(concat!("/channels.", $suffix), post(roles::$handler::<CHANNEL>))
                    .route(concat!("/groups.", $suffix), post(roles::$handler::<GROUP>));
            )*
        };
    }
    both!(
        "addOwner" => add_owner,
        "removeOwner" => remove_owner,
        "addModerator" => add_moderator,
        "removeModerator" => remove_moderator,
        "addLeader" => add_leader,
        "removeLeader" => remove_leader
    );
    router
}

/// A success envelope around `body`.
/// An optional array of strings in a JSON body (`null` as absent: empty).
fn strings(body: &serde_json::Map<String, Value>, key: &str) -> Result<Vec<String>, ChatError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ChatError::schema(format!("must be string (/{key})")))
            })
            .collect(),
        Some(_) => Err(ChatError::schema(format!("must be array (/{key})"))),
    }
}

fn ok(body: Value) -> ApiResult {
    Ok(Json(wire::success(body)).into_response())
}

fn rest<T: serde::Serialize>(record: &T) -> Value {
    wire::render(record, DateStyle::Iso)
}

/// Adds Rocket.Chat's pagination fields to a listing response.
fn paged<T: serde::Serialize>(key: &str, listing: &Listing<T>, page: Page) -> ApiResult {
    let items: Vec<Value> = listing.items.iter().map(rest).collect();
    ok(serde_json::json!({
        key: items,
        "count": listing.items.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

/// `roomId` or `roomName` from a query string or body.
fn room_ref<'a>(
    room_id: Option<&'a str>,
    room_name: Option<&'a str>,
) -> Result<RoomRef<'a>, ApiError> {
    match (
        room_id.filter(|s| !s.is_empty()),
        room_name.filter(|s| !s.is_empty()),
    ) {
        (Some(id), _) => Ok(RoomRef::Id(id)),
        (None, Some(name)) => Ok(RoomRef::Name(name)),
        (None, None) => Err(ChatError::refused(
            "error-roomid-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
        )
        .into()),
    }
}

fn params_room_ref(params: &Params) -> Result<RoomRef<'_>, ApiError> {
    room_ref(params.get("roomId"), params.get("roomName"))
}

/// Refuses a room of another kind than the endpoint family serves, the way
/// Rocket.Chat answers `channels.info` for a group.
fn expect_kind(room: &crate::store::Room, kind: RoomType) -> Result<(), ApiError> {
    if room.t == kind {
        return Ok(());
    }
    let what = match kind {
        RoomType::Channel => "channel",
        RoomType::Group => "group",
        RoomType::Direct => "direct message",
    };
    Err(ChatError::refused(
        "error-room-not-found",
        format!("The required \"roomId\" or \"roomName\" param provided does not match any {what}"),
    )
    .into())
}

/// Parses a required string field of a JSON body.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            ApiError::Chat(ChatError::schema(format!(
                "must have required property '{name}'"
            )))
        })
}

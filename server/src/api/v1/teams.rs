//! Teams: `teams.*`, `channels.convertToTeam`, `groups.convertToTeam`.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, paged, rest};
use crate::chat::roles::RoomRole;
use crate::chat::rooms::RoomRef;
use crate::chat::teams::{NewTeam, NewTeamMember, Team, TeamRef, TeamType};
use crate::chat::ChatError;
use crate::store::{Page, RoomType};
use crate::wire;

/// A team as Rocket.Chat's `ITeam`.
pub(crate) fn team_json(team: &Team) -> Value {
    json!({
        "_id": team.id,
        "name": team.name,
        "type": team.kind.code(),
        "roomId": team.room_id,
        "createdBy": team.created_by.as_ref().map(|u| json!({"_id": u.id, "username": u.username})),
        "createdAt": wire::iso(team.created_at.0),
        "_updatedAt": wire::iso(team.updated_at.0),
    })
}

fn team_ref<'a>(id: Option<&'a str>, name: Option<&'a str>) -> Result<TeamRef<'a>, ApiError> {
    match (id.filter(|s| !s.is_empty()), name.filter(|s| !s.is_empty())) {
        (Some(id), _) => Ok(TeamRef::Id(id)),
        (None, Some(name)) => Ok(TeamRef::Name(name)),
        (None, None) => {
            Err(ChatError::invalid("Provide either the \"teamId\" or \"teamName\"").into())
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TeamBody {
    team_id: Option<String>,
    team_name: Option<String>,
    #[serde(default)]
    rooms_to_remove: Vec<String>,
    #[serde(default)]
    rooms: Vec<String>,
    room_id: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    members: Vec<MemberBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MemberBody {
    user_id: String,
    /// `member` is every member's; `owner`, `moderator`, `leader` are room roles.
    #[serde(default)]
    roles: Vec<String>,
}

impl TeamBody {
    fn team(&self) -> Result<TeamRef<'_>, ApiError> {
        team_ref(self.team_id.as_deref(), self.team_name.as_deref())
    }
}

#[derive(Deserialize)]
pub struct CreateBody {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<i64>,
    #[serde(default)]
    members: Vec<String>,
    room: Option<Value>,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ChatError::invalid("must have required property 'name'"))?;
    let kind = body
        .kind
        .and_then(TeamType::from_code)
        .ok_or_else(|| ChatError::invalid("must have required property 'type'"))?;
    let read_only = body
        .room
        .as_ref()
        .and_then(|r| r.get("readOnly"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let team = state
        .chat
        .create_team(
            &session.user,
            NewTeam {
                name: name.trim().to_string(),
                kind,
                members: body.members,
                read_only,
            },
        )
        .await?;
    ok(json!({ "team": team_json(&team) }))
}

pub async fn info(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let r = team_ref(params.get("teamId"), params.get("teamName"))?;
    let main = state.chat.team_main(&session.user, r).await?;
    let team = Team::of(&main)
        .ok_or_else(|| ChatError::refused("team-does-not-exist", "Team not found"))?;
    ok(json!({ "teamInfo": team_json(&team) }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    state
        .chat
        .delete_team(&session.user, body.team()?, &body.rooms_to_remove)
        .await?;
    ok(json!({}))
}

pub async fn convert_to_channel(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    state
        .chat
        .convert_to_room(&session.user, body.team()?, &body.rooms_to_remove)
        .await?;
    ok(json!({}))
}

fn teams_page(listing: &crate::store::Listing<Team>, page: Page) -> ApiResult {
    let teams: Vec<Value> = listing.items.iter().map(team_json).collect();
    ok(json!({
        "teams": teams,
        "count": listing.items.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

pub async fn list(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let listing = state.chat.user_teams(&session.user, page).await?;
    teams_page(&listing, page)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRoomBody {
    room_id: Option<String>,
    is_default: Option<bool>,
}

/// `POST teams.updateRoom {roomId, isDefault}`: a team's room auto-join or not.
pub async fn update_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<UpdateRoomBody>,
) -> ApiResult {
    let (Some(rid), Some(is_default)) = (body.room_id.filter(|r| !r.is_empty()), body.is_default)
    else {
        return Err(ChatError::invalid("Match error: roomId and isDefault are required").into());
    };
    let room = state
        .chat
        .update_team_room(&session.user, &rid, is_default)
        .await?;
    ok(json!({ "room": rest(&room) }))
}

/// `GET users.listTeams?userId=`: the user's teams, with `isOwner`.
pub async fn of_user(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let user_id = params
        .get("userId")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ChatError::schema("must have required property 'userId'"))?;
    let teams: Vec<Value> = state
        .chat
        .teams_of_user(&session.user, user_id)
        .await?
        .iter()
        .map(|(team, owner)| {
            let mut v = team_json(team);
            v["isOwner"] = json!(owner);
            v
        })
        .collect();
    ok(json!({ "teams": teams }))
}

pub async fn list_all(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let listing = state.chat.all_teams(&session.user, page).await?;
    teams_page(&listing, page)
}

pub async fn members(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let r = team_ref(params.get("teamId"), params.get("teamName"))?;
    let page = params.page()?;
    let (_, listing) = state.chat.team_members(&session.user, r, page).await?;
    let members: Vec<Value> = listing
        .items
        .iter()
        .map(|s| {
            json!({
                "user": { "_id": s.u.id, "username": s.u.username, "name": s.u.name },
                "roles": s.roles,
                "createdAt": wire::iso(s.ts.0),
            })
        })
        .collect();
    ok(json!({
        "members": members,
        "count": listing.items.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

pub async fn add_members(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    let members: Vec<NewTeamMember> = body
        .members
        .iter()
        .map(|m| NewTeamMember {
            user_id: m.user_id.clone(),
            roles: m
                .roles
                .iter()
                .filter_map(|r| RoomRole::from_id(r))
                .collect(),
        })
        .collect();
    state
        .chat
        .add_team_members(&session.user, body.team()?, &members)
        .await?;
    ok(json!({}))
}

pub async fn remove_member(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    let user_id = body
        .user_id
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ChatError::invalid("must have required property 'userId'"))?;
    state
        .chat
        .remove_team_member(&session.user, body.team()?, user_id)
        .await?;
    ok(json!({}))
}

pub async fn leave(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    state.chat.leave_team(&session.user, body.team()?).await?;
    ok(json!({}))
}

pub async fn add_rooms(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    let rooms = state
        .chat
        .add_team_rooms(&session.user, body.team()?, &body.rooms)
        .await?;
    let rooms: Vec<Value> = rooms.iter().map(rest).collect();
    ok(json!({ "rooms": rooms }))
}

pub async fn remove_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TeamBody>,
) -> ApiResult {
    let rid = body
        .room_id
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ChatError::invalid("must have required property 'roomId'"))?;
    let room = state
        .chat
        .remove_team_room(&session.user, body.team()?, rid)
        .await?;
    ok(json!({ "room": rest(&room) }))
}

pub async fn list_rooms(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let r = team_ref(params.get("teamId"), params.get("teamName"))?;
    let page = params.page()?;
    let listing = state.chat.team_room_list(&session.user, r, page).await?;
    paged("rooms", &listing, page)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertBody {
    channel_id: Option<String>,
    channel_name: Option<String>,
    room_id: Option<String>,
    room_name: Option<String>,
}

/// `channels.convertToTeam` (`channelId` or `channelName`) and
/// `groups.convertToTeam` (`roomId` or `roomName`): exactly one of the two.
pub async fn convert_to_team<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ConvertBody>,
) -> ApiResult {
    let kind = super::rooms::kind(K);
    let (id, name) = if kind == RoomType::Group {
        (body.room_id, body.room_name)
    } else {
        (body.channel_id, body.channel_name)
    };
    let r = match (
        id.as_deref().filter(|s| !s.is_empty()),
        name.as_deref().filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => {
            return Err(ChatError::invalid("must match exactly one schema in oneOf").into())
        }
        (Some(id), None) => RoomRef::Id(id),
        (None, Some(name)) => RoomRef::Name(name),
        (None, None) => {
            return Err(ChatError::invalid("must match exactly one schema in oneOf").into())
        }
    };
    let team = state.chat.convert_to_team(&session.user, r, kind).await?;
    ok(json!({ "team": team_json(&team) }))
}

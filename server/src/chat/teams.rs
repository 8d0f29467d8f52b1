//! Teams, kept as Rocket.Chat's rooms carry them: a team is its main room
//! (`teamMain`, with the team's id as `teamId`), whose name, type and members are
//! the team's; the team's other rooms carry the same `teamId`. The team record
//! Rocket.Chat keeps besides (`_id`, `name`, `type`, `roomId`, `createdBy`,
//! `createdAt`) is derived from the main room ([`Team::of`]), so nothing can
//! drift apart.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::permissions::Perm;
use super::roles::RoomRole;
use super::rooms::{NewRoom, RoomRef};
use super::Chat;
use crate::store::{Listing, Page, Room, RoomType, Subscription, Ts, User, UserRef};

/// How a request names a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamRef<'a> {
    Id(&'a str),
    Name(&'a str),
}

/// Rocket.Chat's team type: public (0) or private (1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamType {
    Public,
    Private,
}

impl TeamType {
    pub fn code(self) -> i64 {
        match self {
            TeamType::Public => 0,
            TeamType::Private => 1,
        }
    }
    pub fn from_code(code: i64) -> Option<TeamType> {
        match code {
            0 => Some(TeamType::Public),
            1 => Some(TeamType::Private),
            _ => None,
        }
    }
    fn room_type(self) -> RoomType {
        match self {
            TeamType::Public => RoomType::Channel,
            TeamType::Private => RoomType::Group,
        }
    }
}

/// A team as Rocket.Chat answers it (`ITeam`).
#[derive(Clone, Debug, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub kind: TeamType,
    pub room_id: String,
    pub created_by: Option<UserRef>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

impl Team {
    /// The team whose main room this is.
    pub fn of(main: &Room) -> Option<Team> {
        let id = main
            .extra
            .team_id
            .clone()
            .filter(|_| main.extra.team_main)?;
        Some(Team {
            id,
            name: main.name.clone().unwrap_or_default(),
            kind: if main.t == RoomType::Group {
                TeamType::Private
            } else {
                TeamType::Public
            },
            room_id: main.id.clone(),
            created_by: main.u.clone(),
            created_at: main.ts,
            updated_at: main.updated_at,
        })
    }
}

/// A new team (`teams.create`).
#[derive(Clone, Debug)]
pub struct NewTeam {
    pub name: String,
    pub kind: TeamType,
    /// User ids to add besides the creator.
    pub members: Vec<String>,
    pub read_only: bool,
}

/// A user `teams.addMembers` adds, with the room roles they get in the team.
#[derive(Clone, Debug)]
pub struct NewTeamMember {
    pub user_id: String,
    pub roles: Vec<RoomRole>,
}

fn team_not_found() -> ChatError {
    ChatError::refused("team-does-not-exist", "Team not found")
}

impl Chat {
    /// [`Chat::team_main`], for an `actor` holding `perm` in the team (Rocket.Chat's
    /// bare 403 otherwise).
    async fn team_main_allowed(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        perm: Perm,
    ) -> ChatResult<Room> {
        let main = self.team_main(actor, r).await?;
        if !self.has_permission(actor, perm, Some(&main.id)).await? {
            return Err(ChatError::unauthorized_bare());
        }
        Ok(main)
    }

    /// The main room of the team `r` names; private teams only for their members
    /// and those who may see every team.
    pub async fn team_main(&self, actor: &User, r: TeamRef<'_>) -> ChatResult<Room> {
        let main = match r {
            TeamRef::Id(id) => self.store.team_main_room(id).await?,
            TeamRef::Name(name) => self
                .store
                .room_by_name(name)
                .await?
                .filter(|room| room.extra.team_main),
        }
        .ok_or_else(team_not_found)?;
        if main.t == RoomType::Group
            && self
                .store
                .subscription(&main.id, &actor.id)
                .await?
                .is_none()
            && !self
                .has_permission(actor, Perm::VIEW_ALL_TEAMS, None)
                .await?
        {
            return Err(team_not_found());
        }
        Ok(main)
    }

    /// The main room of the team `room` belongs to, if any (no access check: a
    /// room's readers see its team).
    pub async fn team_main_of(&self, room: &Room) -> ChatResult<Option<Room>> {
        match &room.extra.team_id {
            Some(team_id) => Ok(self.store.team_main_room(team_id).await?),
            None => Ok(None),
        }
    }

    /// Creates a team: its main room (a channel or group of the team's name) owned
    /// by the creator, with the members given (`create-team`).
    pub async fn create_team(&self, actor: &User, new: NewTeam) -> ChatResult<Team> {
        self.require_permission(actor, Perm::CREATE_TEAM, None)
            .await?;
        let mut usernames = Vec::new();
        for id in &new.members {
            if let Some(user) = self.store.user_by_id(id).await? {
                usernames.push(user.username);
            }
        }
        let room = self
            .create_room(
                actor,
                NewRoom {
                    kind: new.kind.room_type(),
                    name: new.name.clone(),
                    members: usernames,
                    read_only: new.read_only,
                    topic: None,
                    description: None,
                    custom_fields: None,
                    team_id: None,
                },
            )
            .await
            .map_err(|e| match e {
                ChatError::Refused {
                    error_type: "error-duplicate-channel-name",
                    ..
                } => ChatError::refused("team-name-already-exists", "team-name-already-exists"),
                other => other,
            })?;
        self.make_team_main(room, &ids::new_id()).await
    }

    /// Marks `room` as the main room of team `team_id`.
    async fn make_team_main(&self, mut room: Room, team_id: &str) -> ChatResult<Team> {
        room.extra.team_id = Some(team_id.to_string());
        room.extra.team_main = true;
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        tracing::info!(room_id = %room.id, team_id, "team created");
        self.bus.publish(Event::RoomChanged { room: room.clone() });
        Team::of(&room).ok_or_else(team_not_found)
    }

    /// `channels.convertToTeam` / `groups.convertToTeam`: the room becomes its own
    /// team's main room (`create-team` and `edit-room` there).
    pub async fn convert_to_team(
        &self,
        actor: &User,
        r: RoomRef<'_>,
        kind: RoomType,
    ) -> ChatResult<Team> {
        let (room, _) = self.readable_room(actor, r).await?;
        if room.t != kind {
            return Err(ChatError::room_not_found());
        }
        let allowed = self
            .has_permission(actor, Perm::CREATE_TEAM, Some(&room.id))
            .await?
            && self
                .has_permission(actor, Perm::EDIT_ROOM, Some(&room.id))
                .await?;
        if !allowed {
            return Err(ChatError::unauthorized_bare());
        }
        if room.extra.team_id.is_some() || room.extra.prid.is_some() {
            return Err(ChatError::refused(
                "error-room-already-on-team",
                "The room is already part of a team",
            ));
        }
        self.make_team_main(room, &ids::new_id()).await
    }

    /// `teams.convertToChannel`: the main room stays, a plain room again; the
    /// team's other rooms leave the team, `rooms_to_remove` are deleted.
    pub async fn convert_to_room(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        rooms_to_remove: &[String],
    ) -> ChatResult<()> {
        let main = self.team_main_allowed(actor, r, Perm::CONVERT_TEAM).await?;
        self.dissolve_team(&main, rooms_to_remove).await?;
        let mut room = main;
        room.extra.team_id = None;
        room.extra.team_main = false;
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        self.bus.publish(Event::RoomChanged { room });
        Ok(())
    }

    /// `teams.delete`: the main room is deleted with `rooms_to_remove`; the team's
    /// other rooms stay, outside any team (`delete-team`).
    pub async fn delete_team(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        rooms_to_remove: &[String],
    ) -> ChatResult<()> {
        let main = self.team_main_allowed(actor, r, Perm::DELETE_TEAM).await?;
        self.dissolve_team(&main, rooms_to_remove).await?;
        self.remove_room(&main).await?;
        self.after_room_deleted(&main).await?;
        tracing::info!(room_id = %main.id, user_id = %actor.id, "team deleted");
        Ok(())
    }

    /// Takes every room but the main one out of the team, deleting those named.
    async fn dissolve_team(&self, main: &Room, rooms_to_remove: &[String]) -> ChatResult<()> {
        let Some(team_id) = main.extra.team_id.clone() else {
            return Ok(());
        };
        loop {
            let page = self.store.team_rooms(&team_id, Page::new(0, 100)).await?;
            let rooms: Vec<Room> = page.items.into_iter().filter(|r| r.id != main.id).collect();
            if rooms.is_empty() {
                return Ok(());
            }
            for room in rooms {
                if rooms_to_remove.contains(&room.id) {
                    self.remove_room(&room).await?;
                    self.after_room_deleted(&room).await?;
                } else {
                    self.set_room_team(room, None).await?;
                }
            }
        }
    }

    async fn set_room_team(&self, mut room: Room, team_id: Option<&str>) -> ChatResult<Room> {
        room.extra.team_id = team_id.map(str::to_string);
        room.extra.team_main = false;
        room.extra.team_default = false;
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        self.bus.publish(Event::RoomChanged { room: room.clone() });
        Ok(room)
    }

    /// The team a new room is created in (`extraData.teamId`): the team's id, once
    /// the creator holds `add-team-channel` in it.
    pub(super) async fn team_for_new_room(
        &self,
        actor: &User,
        team_id: &str,
    ) -> ChatResult<String> {
        let main = self
            .team_main_allowed(actor, TeamRef::Id(team_id), Perm::ADD_TEAM_CHANNEL)
            .await?;
        main.extra.team_id.ok_or_else(team_not_found)
    }

    /// `teams.updateRoom`: marks a team's room auto-join (`teamDefault`) or not
    /// (`edit-team-channel` in the team). Marked, the team's members join it, up
    /// to `API_User_Limit` of them, as Rocket.Chat's `Team.updateRoom`.
    pub async fn update_team_room(
        &self,
        actor: &User,
        rid: &str,
        is_default: bool,
    ) -> ChatResult<Room> {
        let mut room = self.room(RoomRef::Id(rid)).await?;
        let Some(team_id) = room.extra.team_id.clone().filter(|_| !room.extra.team_main) else {
            return Err(ChatError::failure(
                "team-does-not-exist",
                "team-does-not-exist",
            ));
        };
        let main = self
            .store
            .team_main_room(&team_id)
            .await?
            .ok_or_else(team_not_found)?;
        if !self
            .has_permission(actor, Perm::EDIT_TEAM_CHANNEL, Some(&main.id))
            .await?
        {
            return Err(ChatError::unauthorized_bare());
        }
        let any = self
            .has_permission(actor, Perm::VIEW_ALL_TEAM_CHANNELS, Some(&main.id))
            .await?;
        if !any && self.readable_room(actor, RoomRef::Id(rid)).await.is_err() {
            return Err(ChatError::refused("invalid-room", "Invalid room"));
        }
        room.extra.team_default = is_default;
        room.updated_at = Ts::now();
        self.store.update_room_settings(&room).await?;
        self.bus.publish(Event::RoomChanged { room: room.clone() });
        if is_default {
            let limit = u64::try_from(self.settings().int("API_User_Limit")).unwrap_or(500);
            let members = self
                .store
                .room_subscriptions(&main.id, Page::new(0, limit))
                .await?
                .items;
            for sub in members {
                if self
                    .store
                    .subscription(&room.id, &sub.u.id)
                    .await?
                    .is_some()
                {
                    continue;
                }
                if let Some(user) = self.store.user_by_id(&sub.u.id).await? {
                    self.add_member(actor, &room, &user, "au").await?;
                }
            }
        }
        self.room(RoomRef::Id(rid)).await
    }

    /// A team's auto-join rooms (`teamDefault`), read a page at a time.
    pub(super) async fn team_default_rooms(&self, team_id: &str) -> ChatResult<Vec<Room>> {
        const PAGE: u64 = 200;
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .team_rooms(team_id, Page::new(offset, PAGE))
                .await?;
            let n = page.items.len() as u64;
            found.extend(page.items.into_iter().filter(|r| r.extra.team_default));
            if n < PAGE {
                return Ok(found);
            }
            offset += PAGE;
        }
    }

    /// `teams.addRooms`: rooms join the team (`add-team-channel` in the team; the
    /// caller must be a member of each room, which may not be in another team).
    pub async fn add_team_rooms(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        rids: &[String],
    ) -> ChatResult<Vec<Room>> {
        let main = self
            .team_main_allowed(actor, r, Perm::ADD_TEAM_CHANNEL)
            .await?;
        let team_id = main.extra.team_id.clone().ok_or_else(team_not_found)?;
        let mut added = Vec::new();
        for rid in rids {
            let (room, _) = self.joined_room(actor, RoomRef::Id(rid)).await?;
            if room.t == RoomType::Direct {
                return Err(ChatError::refused("error-invalid-room", "Invalid room"));
            }
            if room.extra.team_id.as_deref() == Some(team_id.as_str()) {
                added.push(room);
                continue;
            }
            if room.extra.team_id.is_some() {
                return Err(ChatError::refused(
                    "error-room-already-on-team",
                    "Room already belongs to another team",
                ));
            }
            added.push(self.set_room_team(room, Some(&team_id)).await?);
        }
        Ok(added)
    }

    /// `teams.removeRoom`: a room leaves the team (`remove-team-channel`).
    pub async fn remove_team_room(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        rid: &str,
    ) -> ChatResult<Room> {
        let main = self
            .team_main_allowed(actor, r, Perm::REMOVE_TEAM_CHANNEL)
            .await?;
        let room = self.room(RoomRef::Id(rid)).await?;
        if room.extra.team_id != main.extra.team_id || room.id == main.id {
            return Err(ChatError::refused(
                "error-room-not-found",
                "Room not found in this team",
            ));
        }
        self.set_room_team(room, None).await
    }

    /// `teams.listRooms`: the team's rooms but its main one, by name; private
    /// rooms only for their members unless `view-all-team-channels`.
    pub async fn team_room_list(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        page: Page,
    ) -> ChatResult<Listing<Room>> {
        let main = self.team_main(actor, r).await?;
        let team_id = main.extra.team_id.clone().ok_or_else(team_not_found)?;
        let all = self
            .has_permission(actor, Perm::VIEW_ALL_TEAM_CHANNELS, Some(&main.id))
            .await?;
        // The team's rooms are few: read them all, then filter and page.
        let rooms = self
            .store
            .team_rooms(&team_id, Page::new(0, u64::MAX >> 1))
            .await?
            .items;
        let mut visible = Vec::new();
        for room in rooms.into_iter().filter(|r| r.id != main.id) {
            if all
                || room.t == RoomType::Channel
                || self
                    .store
                    .subscription(&room.id, &actor.id)
                    .await?
                    .is_some()
            {
                visible.push(room);
            }
        }
        let total = visible.len() as u64;
        let items = visible
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
            .collect();
        Ok(Listing { items, total })
    }

    /// `teams.members`: the members of the team's main room.
    pub async fn team_members(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        page: Page,
    ) -> ChatResult<(Room, Listing<Subscription>)> {
        let main = self.team_main(actor, r).await?;
        let members = self.store.room_subscriptions(&main.id, page).await?;
        Ok((main, members))
    }

    /// The team main rooms among `subs`' rooms, by name.
    async fn team_mains_of(&self, subs: Vec<Subscription>) -> ChatResult<Vec<Room>> {
        let ids: Vec<String> = subs.into_iter().map(|s| s.rid).collect();
        let mut mains: Vec<Room> = self
            .store
            .rooms_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|r| r.extra.team_main)
            .collect();
        mains.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(mains)
    }

    /// `teams.list`: the teams the user is a member of, by name.
    pub async fn user_teams(&self, actor: &User, page: Page) -> ChatResult<Listing<Team>> {
        let subs = self.store.user_subscriptions(&actor.id, None).await?;
        let mains = self.team_mains_of(subs).await?;
        let total = mains.len() as u64;
        let items = mains
            .iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.count).unwrap_or(usize::MAX))
            .filter_map(Team::of)
            .collect();
        Ok(Listing { items, total })
    }

    /// `users.listTeams`: the teams `user_id` is a member of, each with whether
    /// they own it. Without `view-all-teams` the caller sees the public ones and
    /// the private ones they are in too (Rocket.Chat's `findBySubscribedUserIds`).
    pub async fn teams_of_user(
        &self,
        actor: &User,
        user_id: &str,
    ) -> ChatResult<Vec<(Team, bool)>> {
        let sees_all = self
            .has_permission(actor, Perm::VIEW_ALL_TEAMS, None)
            .await?;
        let subs = self.store.user_subscriptions(user_id, None).await?;
        let owned: std::collections::HashSet<String> = subs
            .iter()
            .filter(|s| s.roles.iter().any(|r| r == "owner"))
            .map(|s| s.rid.clone())
            .collect();
        let mains = self.team_mains_of(subs).await?;
        let mut teams = Vec::with_capacity(mains.len());
        for main in mains {
            let visible = sees_all
                || main.t != RoomType::Group
                || actor.id == user_id
                || self
                    .store
                    .subscription(&main.id, &actor.id)
                    .await?
                    .is_some();
            if let (true, Some(team)) = (visible, Team::of(&main)) {
                teams.push((team, owned.contains(&main.id)));
            }
        }
        Ok(teams)
    }

    /// `teams.listAll`: every team (`view-all-teams`).
    pub async fn all_teams(&self, actor: &User, page: Page) -> ChatResult<Listing<Team>> {
        if !self
            .has_permission(actor, Perm::VIEW_ALL_TEAMS, None)
            .await?
        {
            return Err(ChatError::unauthorized_bare());
        }
        let mains = self.store.team_main_rooms(page).await?;
        Ok(Listing {
            items: mains.items.iter().filter_map(Team::of).collect(),
            total: mains.total,
        })
    }

    /// `teams.leave`: the caller leaves the team's main room.
    pub async fn leave_team(&self, actor: &User, r: TeamRef<'_>) -> ChatResult<()> {
        let main = self.team_main(actor, r).await?;
        self.leave_room(actor, &main.id).await?;
        Ok(())
    }

    /// `teams.addMembers`: users join the team's main room (`add-team-member`).
    pub async fn add_team_members(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        members: &[NewTeamMember],
    ) -> ChatResult<()> {
        let main = self
            .team_main_allowed(actor, r, Perm::ADD_TEAM_MEMBER)
            .await?;
        for member in members {
            let user = self
                .store
                .user_by_id(&member.user_id)
                .await?
                .ok_or_else(ChatError::user_not_found)?;
            self.add_member(actor, &main, &user, "added-user-to-team")
                .await?;
            if member.roles.is_empty() {
                continue;
            }
            // A team's roles are its main room's: each needs its `set-*` permission.
            let held = self
                .store
                .subscription(&main.id, &user.id)
                .await?
                .map(|s| s.roles)
                .unwrap_or_default();
            for role in &member.roles {
                if held.contains(&role.id().to_string()) {
                    continue;
                }
                self.set_room_role(actor, &main.id, &user.id, *role, true)
                    .await?;
            }
        }
        Ok(())
    }

    /// `teams.removeMember`: a user leaves the team's main room
    /// (`edit-team-member`).
    pub async fn remove_team_member(
        &self,
        actor: &User,
        r: TeamRef<'_>,
        user_id: &str,
    ) -> ChatResult<()> {
        let main = self
            .team_main_allowed(actor, r, Perm::EDIT_TEAM_MEMBER)
            .await?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(ChatError::user_not_found)?;
        self.kick(actor, &main.id, &user).await?;
        Ok(())
    }
}

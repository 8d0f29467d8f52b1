//! The host functions apps call. Each one charges the call budget and checks the
//! grant first (`HostState::require`); chat operations run as the app's bot user
//! through the same `chat` services REST uses.

use std::time::Duration;

use super::bindings::palaver::apps::{
    environment, http, log, messages, persistence, rooms, scheduler, settings, types, users,
};
use super::convert;
use super::state::{AppContext, HostState};
use crate::apps::permissions::Permission;
use crate::apps::quota::Quota;
use crate::chat::notify::EphemeralMessage;
use crate::chat::rooms::{NewRoom, RoomRef};
use crate::outbound::{HttpError, OutboundRequest};
use crate::store::apps::{DataQuota, JobRecord, SetOutcome};
use crate::store::{Page, RoomType, Ts};

use types::Error;

const MAX_KEY_BYTES: usize = 512;

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        if self.charge().is_err() {
            return;
        }
        let level = match level {
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        // Returns once the entry is queued for the store: what the app logged
        // survives a shutdown.
        self.ctx
            .logger
            .app_line_queued(level, Some(self.handler), &message)
            .await;
    }
}

impl AppContext {
    /// Makes sure the bot can post in a public channel by joining it; other rooms
    /// must already have the bot as a member.
    async fn bot_joins_if_public(&self, rid: &str) -> Result<(), Error> {
        let (room, sub) = self
            .chat
            .readable_room(&self.bot, RoomRef::Id(rid))
            .await
            .map_err(convert::chat_error)?;
        if sub.is_none() && room.t == RoomType::Channel {
            self.chat
                .join_room(&self.bot, rid)
                .await
                .map_err(convert::chat_error)?;
        }
        Ok(())
    }

    /// Sends a message as the bot: the host side of `messages.send`, also used for
    /// command replies.
    pub(crate) async fn send_as_bot(&self, message: types::Message) -> Result<String, Error> {
        let mut new = convert::new_message(message).map_err(convert::chat_error)?;
        new.app_id = Some(self.id.clone());
        self.bot_joins_if_public(&new.rid).await?;
        let (_, sent) = self
            .chat
            .send_message(&self.bot, new)
            .await
            .map_err(convert::chat_error)?;
        Ok(sent.id)
    }
}

impl HostState {
    fn log_failure(&self, call: &str, e: &Error) {
        if !matches!(e, Error::NotFound) {
            self.ctx.logger.host(
                "warn",
                Some(self.handler),
                &format!("{call} failed: {e:?}"),
                None,
            );
        }
    }
}

impl messages::Host for HostState {
    async fn send(&mut self, message: types::Message) -> Result<String, Error> {
        self.require(Permission::MessageWrite, "messages.send")?;
        self.rate(Quota::Messages, "messages.send")?;
        let ctx = self.ctx.clone();
        let result = ctx.send_as_bot(message).await;
        if let Err(e) = &result {
            self.log_failure("messages.send", e);
        }
        result
    }

    async fn update(&mut self, id: String, text: String) -> Result<(), Error> {
        self.require(Permission::MessageWrite, "messages.update")?;
        self.rate(Quota::Messages, "messages.update")?;
        let chat = &self.ctx.chat;
        let (_, msg) = chat
            .get_message(&self.ctx.bot, &id)
            .await
            .map_err(convert::chat_error)?;
        if msg.u.id != self.ctx.bot.id {
            return Err(Error::Invalid(
                "apps may only edit their own messages".into(),
            ));
        }
        chat.update_message(&self.ctx.bot, &msg.rid, &id, &text)
            .await
            .map(drop)
            .map_err(convert::chat_error)
    }

    async fn get(&mut self, id: String) -> Result<types::Message, Error> {
        self.require(Permission::MessageRead, "messages.get")?;
        let (_, msg) = self
            .ctx
            .chat
            .get_message(&self.ctx.bot, &id)
            .await
            .map_err(convert::chat_error)?;
        Ok(convert::message(&msg))
    }

    async fn notify_user(
        &mut self,
        user_id: String,
        room_id: String,
        text: String,
    ) -> Result<(), Error> {
        self.require(Permission::MessageWrite, "messages.notify-user")?;
        self.rate(Quota::Notifications, "messages.notify-user")?;
        let chat = &self.ctx.chat;
        chat.readable_room(&self.ctx.bot, RoomRef::Id(&room_id))
            .await
            .map_err(convert::chat_error)?;
        let user = chat
            .find_user(Some(&user_id), None)
            .await
            .map_err(convert::chat_error)?;
        chat.readable_room(&user, RoomRef::Id(&room_id))
            .await
            .map_err(convert::chat_error)?;
        chat.notify_user(&user.id, self.ephemeral(room_id, text))
            .map(drop)
            .map_err(convert::chat_error)
    }

    async fn notify_room(&mut self, room_id: String, text: String) -> Result<(), Error> {
        self.require(Permission::MessageWrite, "messages.notify-room")?;
        self.rate(Quota::Notifications, "messages.notify-room")?;
        let chat = &self.ctx.chat;
        let mut offset = 0;
        loop {
            let (_, members) = chat
                .room_members(&self.ctx.bot, RoomRef::Id(&room_id), Page::new(offset, 100))
                .await
                .map_err(convert::chat_error)?;
            for m in &members.items {
                if m.u.id != self.ctx.bot.id {
                    chat.notify_user(&m.u.id, self.ephemeral(room_id.clone(), text.clone()))
                        .map_err(convert::chat_error)?;
                }
            }
            offset += members.items.len() as u64;
            if members.items.is_empty() || offset >= members.total {
                return Ok(());
            }
        }
    }
}

impl HostState {
    fn ephemeral(&self, rid: String, msg: String) -> EphemeralMessage {
        EphemeralMessage {
            rid,
            msg,
            sender: Some(self.ctx.bot.as_ref()),
            ..Default::default()
        }
    }
}

impl rooms::Host for HostState {
    async fn get(&mut self, id: String) -> Result<types::Room, Error> {
        self.require(Permission::RoomRead, "rooms.get")?;
        self.ctx
            .chat
            .readable_room(&self.ctx.bot, RoomRef::Id(&id))
            .await
            .map(|(r, _)| convert::room(&r))
            .map_err(convert::chat_error)
    }

    async fn get_by_name(&mut self, name: String) -> Result<types::Room, Error> {
        self.require(Permission::RoomRead, "rooms.get-by-name")?;
        self.ctx
            .chat
            .readable_room(&self.ctx.bot, RoomRef::Name(&name))
            .await
            .map(|(r, _)| convert::room(&r))
            .map_err(convert::chat_error)
    }

    async fn create(
        &mut self,
        kind: types::RoomKind,
        name: String,
        members: Vec<String>,
    ) -> Result<types::Room, Error> {
        self.require(Permission::RoomWrite, "rooms.create")?;
        self.rate(Quota::Rooms, "rooms.create")?;
        self.room_quota().await?;
        let room = self
            .ctx
            .chat
            .create_room(
                &self.ctx.bot,
                NewRoom {
                    kind: convert::room_kind(kind),
                    name,
                    members,
                    read_only: false,
                    topic: None,
                    description: None,
                    custom_fields: None,
                    team_id: None,
                },
            )
            .await
            .map_err(convert::chat_error)?;
        Ok(convert::room(&room))
    }

    async fn create_direct(&mut self, usernames: Vec<String>) -> Result<types::Room, Error> {
        // A one-to-one conversation with the bot is how an app messages one user
        // (a reminder, a confirmation): `message.write` is enough for that.
        let one_to_one = usernames.len() == 1 && self.ctx.grant.allows(Permission::MessageWrite);
        if !one_to_one {
            self.require(Permission::RoomWrite, "rooms.create-direct")?;
        } else {
            self.charge()?;
        }
        self.rate(Quota::DirectRooms, "rooms.create-direct")?;
        self.ctx
            .chat
            .create_direct(&self.ctx.bot, &usernames)
            .await
            .map(|r| convert::room(&r))
            .map_err(convert::chat_error)
    }

    async fn members(
        &mut self,
        room_id: String,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<types::UserRef>, Error> {
        self.require(Permission::RoomRead, "rooms.members")?;
        let page = Page::new(offset.into(), u64::from(limit.clamp(1, 1000)));
        let (_, members) = self
            .ctx
            .chat
            .room_members(&self.ctx.bot, RoomRef::Id(&room_id), page)
            .await
            .map_err(convert::chat_error)?;
        Ok(members
            .items
            .iter()
            .map(|s| convert::user_ref(&s.u))
            .collect())
    }

    async fn add_member(&mut self, room_id: String, user_id: String) -> Result<(), Error> {
        self.require(Permission::RoomWrite, "rooms.add-member")?;
        let chat = &self.ctx.chat;
        let user = chat
            .find_user(Some(&user_id), None)
            .await
            .map_err(convert::chat_error)?;
        chat.invite(&self.ctx.bot, &room_id, &user)
            .await
            .map(drop)
            .map_err(convert::chat_error)
    }
}

impl users::Host for HostState {
    async fn get(&mut self, id: String) -> Result<types::User, Error> {
        self.require(Permission::UserRead, "users.get")?;
        self.ctx
            .chat
            .find_user(Some(&id), None)
            .await
            .map(|u| convert::user(&u))
            .map_err(convert::chat_error)
    }

    async fn get_by_username(&mut self, username: String) -> Result<types::User, Error> {
        self.require(Permission::UserRead, "users.get-by-username")?;
        self.ctx
            .chat
            .find_user(None, Some(&username))
            .await
            .map(|u| convert::user(&u))
            .map_err(convert::chat_error)
    }

    async fn email(&mut self, id: String) -> Result<Option<String>, Error> {
        self.require(Permission::UserRead, "users.email")?;
        self.ctx
            .chat
            .find_user(Some(&id), None)
            .await
            .map(|u| u.emails.first().map(|e| e.address.clone()))
            .map_err(convert::chat_error)
    }
}

impl HostState {
    /// Writes app data within the quota; `Ok(false)` when `only_if_absent` and the
    /// key exists.
    async fn write_data(
        &mut self,
        key: String,
        value: Vec<u8>,
        only_if_absent: bool,
    ) -> Result<bool, Error> {
        check_key(&key)?;
        let quota = DataQuota {
            max_keys: self.ctx.limits.persistence_max_keys,
            max_bytes: self.ctx.limits.persistence_max_bytes,
        };
        let store = &self.ctx.store;
        let outcome = if only_if_absent {
            store
                .app_data_insert(&self.ctx.id, &key, &value, quota)
                .await
        } else {
            store.app_data_set(&self.ctx.id, &key, &value, quota).await
        }
        .map_err(storage_error)?;
        match outcome {
            SetOutcome::Stored => Ok(true),
            SetOutcome::Exists => Ok(false),
            SetOutcome::QuotaExceeded(which) => {
                self.ctx.logger.host(
                    "warn",
                    Some(self.handler),
                    &format!("persistence write refused: quota {which} reached"),
                    Some("limit-exceeded"),
                );
                Err(Error::LimitExceeded(which.into()))
            }
        }
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(Error::Invalid(format!(
            "keys must be 1 to {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn storage_error(e: crate::store::StoreError) -> Error {
    Error::Internal(e.to_string())
}

impl persistence::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.require(Permission::Persistence, "persistence.get")?;
        check_key(&key)?;
        self.ctx
            .store
            .app_data_get(&self.ctx.id, &key)
            .await
            .map_err(storage_error)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), Error> {
        self.require(Permission::Persistence, "persistence.set")?;
        self.write_data(key, value, false).await.map(|_| ())
    }

    async fn set_if_absent(&mut self, key: String, value: Vec<u8>) -> Result<bool, Error> {
        self.require(Permission::Persistence, "persistence.set-if-absent")?;
        self.write_data(key, value, true).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, Error> {
        self.require(Permission::Persistence, "persistence.delete")?;
        check_key(&key)?;
        self.ctx
            .store
            .app_data_delete(&self.ctx.id, &key)
            .await
            .map_err(storage_error)
    }

    async fn list(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, Error> {
        self.require(Permission::Persistence, "persistence.list")?;
        self.ctx
            .store
            .app_data_keys(&self.ctx.id, &prefix, limit.clamp(1, 1000))
            .await
            .map_err(storage_error)
    }
}

impl settings::Host for HostState {
    async fn get(&mut self, id: String) -> Result<Option<types::SettingValue>, Error> {
        self.charge()?;
        let Some(def) = self.ctx.manifest.settings.iter().find(|s| s.id == id) else {
            return Err(Error::NotFound);
        };
        let stored = self
            .ctx
            .settings
            .read()
            .map_err(|_| Error::Internal("settings lock poisoned".into()))?
            .get(&id)
            .cloned();
        let value = match stored {
            Some(v) => Some(v),
            None => def
                .default
                .as_ref()
                .and_then(|d| crate::apps::settings::value_from_toml(def, d).ok()),
        };
        Ok(value.and_then(|v| match v {
            serde_json::Value::String(s) => Some(types::SettingValue::Text(s)),
            serde_json::Value::Bool(b) => Some(types::SettingValue::Boolean(b)),
            serde_json::Value::Number(n) => n.as_i64().map(types::SettingValue::Number),
            _ => None,
        }))
    }
}

fn http_error(e: HttpError) -> Error {
    match e {
        // The payload names the capability; the host is in the app's log.
        HttpError::HostNotGranted { .. } => Error::PermissionDenied("networking".into()),
        HttpError::AddressRefused { .. }
        | HttpError::TooManyRedirects(_)
        | HttpError::Network(_) => Error::Network(e.to_string()),
        HttpError::InvalidRequest(m) => Error::Invalid(m),
        HttpError::Timeout => Error::Timeout,
        HttpError::ResponseTooLarge(_) => Error::LimitExceeded("http-response-size".into()),
    }
}

impl http::Host for HostState {
    async fn request(&mut self, request: types::HttpRequest) -> Result<types::HttpResponse, Error> {
        self.require(Permission::Networking, "http.request")?;
        let Ok(_slot) = self.ctx.http_slots.clone().try_acquire_owned() else {
            self.ctx.logger.host(
                "warn",
                Some(self.handler),
                "http.request refused: too many requests in flight",
                Some("limit-exceeded"),
            );
            return Err(Error::LimitExceeded("http-in-flight".into()));
        };
        let url = request.url.clone();
        let out = OutboundRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout: request
                .timeout_ms
                .map(|ms| Duration::from_millis(ms.into())),
        };
        match self.ctx.http.send(&self.ctx.http_policy, out).await {
            Ok(resp) => Ok(types::HttpResponse {
                status: resp.status,
                headers: resp.headers,
                body: resp.body,
            }),
            Err(e) => {
                self.ctx.logger.host(
                    "warn",
                    Some(self.handler),
                    &format!("http.request to {url} refused or failed: {e}"),
                    Some(match &e {
                        HttpError::HostNotGranted { .. } => "permission-denied",
                        HttpError::AddressRefused { .. } => "address-refused",
                        HttpError::ResponseTooLarge(_) => "limit-exceeded",
                        HttpError::Timeout => "timeout",
                        _ => "network",
                    }),
                );
                Err(http_error(e))
            }
        }
    }
}

impl HostState {
    async fn schedule(
        &mut self,
        call: &str,
        name: String,
        delay_ms: u64,
        interval_ms: Option<u64>,
        data: Option<String>,
    ) -> Result<String, Error> {
        if name.is_empty() || name.len() > 128 {
            return Err(Error::Invalid("job names must be 1 to 128 bytes".into()));
        }
        if data.as_ref().is_some_and(|d| d.len() > 64 * 1024) {
            return Err(Error::Invalid("job data must be at most 64 KiB".into()));
        }
        self.rate(Quota::Jobs, call)?;
        let store = &self.ctx.store;
        let pending = store
            .count_app_jobs(&self.ctx.id)
            .await
            .map_err(storage_error)?;
        let max = self.ctx.limits.jobs_max_pending;
        if pending >= max {
            self.ctx.logger.host(
                "warn",
                Some(self.handler),
                &format!("{call} refused: the app has {pending} jobs pending (limit {max})"),
                Some("limit-exceeded"),
            );
            return Err(Error::LimitExceeded("jobs-pending".into()));
        }
        // A job re-running itself (or fanning out) at once would loop as fast as
        // the scheduler polls: from a job, a one-off job waits a little.
        let delay_ms = if self.handler == "run-job" && interval_ms.is_none() {
            delay_ms.max(self.ctx.limits.job_min_delay_from_job_ms)
        } else {
            delay_ms
        };
        let now = Ts::now();
        let delay = i64::try_from(delay_ms)
            .unwrap_or(i64::MAX / 2)
            .min(i64::MAX / 2);
        let job = JobRecord {
            id: crate::chat::ids::new_id(),
            app_id: self.ctx.id.clone(),
            name,
            data,
            interval_ms: interval_ms.map(|i| i64::try_from(i).unwrap_or(i64::MAX / 2)),
            next_run: Ts(now.0.saturating_add(delay)),
            lease_owner: None,
            lease_until: None,
            created_at: now,
        };
        store.put_job(&job).await.map_err(storage_error)?;
        Ok(job.id)
    }
}

impl scheduler::Host for HostState {
    async fn schedule_once(
        &mut self,
        name: String,
        delay_ms: u64,
        data: Option<String>,
    ) -> Result<String, Error> {
        self.require(Permission::Scheduler, "scheduler.schedule-once")?;
        self.schedule("scheduler.schedule-once", name, delay_ms, None, data)
            .await
    }

    async fn schedule_every(
        &mut self,
        name: String,
        interval_ms: u64,
        data: Option<String>,
    ) -> Result<String, Error> {
        self.require(Permission::Scheduler, "scheduler.schedule-every")?;
        if interval_ms < 1000 {
            return Err(Error::Invalid(
                "the interval must be at least 1000 ms".into(),
            ));
        }
        self.schedule(
            "scheduler.schedule-every",
            name,
            interval_ms,
            Some(interval_ms),
            data,
        )
        .await
    }

    async fn cancel(&mut self, id: String) -> Result<bool, Error> {
        self.require(Permission::Scheduler, "scheduler.cancel")?;
        self.ctx
            .store
            .delete_job(&self.ctx.id, &id)
            .await
            .map_err(storage_error)
    }
}

impl environment::Host for HostState {
    async fn site_url(&mut self) -> String {
        let _ = self.charge();
        self.ctx.site_url.clone()
    }

    async fn app_id(&mut self) -> String {
        let _ = self.charge();
        self.ctx.id.clone()
    }

    async fn app_version(&mut self) -> String {
        let _ = self.charge();
        self.ctx.version.clone()
    }

    async fn bot_user_id(&mut self) -> String {
        let _ = self.charge();
        self.ctx.bot.id.clone()
    }
}

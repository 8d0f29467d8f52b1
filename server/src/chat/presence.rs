//! Presence: who is online, away, busy or offline, computed as Rocket.Chat's
//! presence service does, from every live realtime connection of every instance.
//!
//! Each connection is recorded in the store with the instance holding it and an
//! expiry that instance renews on a heartbeat ([`Chat::start_presence`]); a user
//! without an unexpired connection anywhere is offline. A crashed instance stops
//! renewing, and the sweep of any instance removes its connections once expired.
//! The user's status is then `statusConnection` (`online` if any connection is
//! online, else `away`; `offline` without any), unless they chose another default
//! (`busy`, `away`, or `offline`, which is invisible). Changes are stored on the
//! user and published as [`Event::UserStatusChanged`].

use std::sync::Arc;
use std::time::Duration;

use super::{Chat, ChatError, ChatResult, Event};
use crate::store::presence::{PresenceConn, PresenceFields, StatusQuery};
use crate::store::{Listing, Page, Ts, User};
use crate::worker::{StopSignal, Worker};

pub const ONLINE: &str = "online";
pub const AWAY: &str = "away";
pub const BUSY: &str = "busy";
pub const OFFLINE: &str = "offline";
/// The statuses a user may choose.
pub const STATUSES: [&str; 4] = [ONLINE, AWAY, BUSY, OFFLINE];
/// Longest status text kept (Rocket.Chat trims to 120).
const MAX_STATUS_TEXT: usize = 120;

/// The instance of the presence leases `users.setStatus` takes: no heartbeat
/// renews them, so each lapses one presence TTL after it was taken.
const REST_LEASE_INSTANCE: &str = "rest";

/// Rocket.Chat's status numbers on `stream-user-presence` and `user-status`.
pub fn status_number(status: &str) -> u8 {
    match status {
        ONLINE => 1,
        AWAY => 2,
        BUSY => 3,
        _ => 0,
    }
}

/// What the connections say: online beats away beats none (Rocket.Chat's
/// `processConnectionStatus` folded over the connections).
pub fn connection_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'a str {
    statuses.into_iter().fold(OFFLINE, |current, s| {
        if current == ONLINE || s == OFFLINE {
            current
        } else {
            s
        }
    })
}

/// What others see: offline without connections; otherwise the chosen default,
/// unless that is `online` (Rocket.Chat's `processStatus`).
pub fn effective_status<'a>(status_connection: &'a str, status_default: &'a str) -> &'a str {
    if status_connection == OFFLINE || status_default == ONLINE {
        status_connection
    } else {
        status_default
    }
}

fn valid_status(status: &str) -> ChatResult<()> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(ChatError::refused(
            "error-invalid-status",
            "Valid status types include online, away, offline, and busy.",
        ))
    }
}

fn ts_after(d: Duration) -> Ts {
    Ts(Ts::now().0 + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

impl Chat {
    /// How long a connection stays recorded without its instance renewing it.
    pub fn presence_ttl(&self) -> Duration {
        self.opts.presence_ttl
    }

    /// A realtime connection (`conn_id`, the DDP session id) of `user_id` opened here.
    pub async fn presence_connected(&self, user_id: &str, conn_id: &str) -> ChatResult<()> {
        let conn = PresenceConn {
            id: conn_id.to_string(),
            user_id: user_id.to_string(),
            instance_id: self.instance_id.clone(),
            status: ONLINE.to_string(),
            expires_at: ts_after(self.presence_ttl()),
        };
        self.store.put_presence_conn(&conn).await?;
        self.update_presence(user_id).await
    }

    /// The connection ended (closed, logged out).
    pub async fn presence_disconnected(&self, user_id: &str, conn_id: &str) -> ChatResult<()> {
        self.store.remove_presence_conn(conn_id).await?;
        self.update_presence(user_id).await
    }

    /// `UserPresence:online|away`: the client says whether its user is active.
    pub async fn set_connection_status(
        &self,
        user: &User,
        conn_id: &str,
        status: &str,
    ) -> ChatResult<bool> {
        let changed = self.store.set_presence_conn_status(conn_id, status).await?;
        self.update_presence(&user.id).await?;
        Ok(changed)
    }

    /// The user's chosen status (`UserPresence:setDefaultStatus`, `setUserStatus`);
    /// `offline` is invisible.
    pub async fn set_default_status(&self, user_id: &str, status: &str) -> ChatResult<bool> {
        valid_status(status)?;
        if status == OFFLINE && !self.settings.bool("Accounts_AllowInvisibleStatusOption") {
            return Err(ChatError::refused(
                "error-status-not-allowed",
                "Invisible status is disabled",
            ));
        }
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Err(ChatError::user_not_found());
        };
        let conns = self.store.presence_conns_of(user_id, Ts::now()).await?;
        let connection = connection_status(conns.iter().map(|c| c.status.as_str()));
        let effective = effective_status(connection, status);
        let fields = PresenceFields {
            status: Some(effective.to_string()),
            status_connection: Some(connection.to_string()),
            status_default: Some(status.to_string()),
            status_text: None,
        };
        let unchanged = user.status_default.as_deref().unwrap_or(ONLINE) == status
            && user.status.as_deref() == Some(effective);
        if unchanged {
            return Ok(false);
        }
        self.store
            .set_user_presence(user_id, &fields, Ts::now())
            .await?;
        tracing::debug!(
            user_id,
            status = effective,
            chosen = status,
            "status chosen"
        );
        self.publish_status(&user, effective, user.status_text.as_deref());
        Ok(true)
    }

    /// The status text (trimmed, at most 120 characters), if the workspace allows it.
    pub async fn set_status_text(&self, user_id: &str, text: &str) -> ChatResult<()> {
        if !self.settings.bool("Accounts_AllowUserStatusMessageChange") {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Change status is not allowed",
            ));
        }
        let text: String = text.trim().chars().take(MAX_STATUS_TEXT).collect();
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Err(ChatError::user_not_found());
        };
        if user.status_text.as_deref().unwrap_or_default() == text {
            return Ok(());
        }
        let fields = PresenceFields {
            status_text: Some(text.clone()),
            ..Default::default()
        };
        self.store
            .set_user_presence(user_id, &fields, Ts::now())
            .await?;
        let status = user.status.clone().unwrap_or_else(|| OFFLINE.into());
        self.publish_status(&user, &status, Some(&text));
        Ok(())
    }

    /// `users.setStatus` as Rocket.Chat: `status` becomes the user's chosen and
    /// shown status at once, `message` the status text. The actor sets their own,
    /// or (admins) anyone's.
    pub async fn set_user_status(
        &self,
        actor: &User,
        target: Option<&User>,
        status: Option<&str>,
        message: Option<&str>,
    ) -> ChatResult<()> {
        if !self.settings.bool("Accounts_AllowUserStatusMessageChange") {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Change status is not allowed",
            ));
        }
        let user = match target {
            Some(t) if t.id != actor.id => {
                // Rocket.Chat's endpoint answers a bare `unauthorized` here.
                let may = self
                    .has_permission(actor, super::permissions::Perm::EDIT_OTHER_USER_INFO, None)
                    .await?;
                if !may {
                    return Err(ChatError::unauthorized_bare());
                }
                t
            }
            _ => actor,
        };
        if let Some(text) = message {
            self.set_status_text(&user.id, text).await?;
        }
        if let Some(status) = status {
            if status != OFFLINE {
                // Setting a status over REST is being there: it counts as a
                // connection for one presence TTL (Rocket.Chat shows it until the
                // next presence change; here it lapses like any unrenewed
                // connection, so a REST-only client is offline a TTL later).
                valid_status(status)?;
                let lease = PresenceConn {
                    id: format!("rest-{}", user.id),
                    user_id: user.id.clone(),
                    instance_id: REST_LEASE_INSTANCE.to_string(),
                    status: ONLINE.to_string(),
                    expires_at: ts_after(self.presence_ttl()),
                };
                self.store.put_presence_conn(&lease).await?;
            }
            self.set_default_status(&user.id, status).await?;
        }
        Ok(())
    }

    /// Users by status (`users.presence`, `users.listByStatus`).
    pub async fn users_by_status(
        &self,
        query: &StatusQuery,
        page: Page,
    ) -> ChatResult<Listing<User>> {
        Ok(self.store.users_by_status(query, page).await?)
    }

    /// The status of each of `ids` that is not offline (for member lists).
    pub async fn statuses_of(
        &self,
        ids: Vec<String>,
    ) -> ChatResult<std::collections::HashMap<String, String>> {
        let n = ids.len() as u64;
        let query = StatusQuery {
            statuses: vec![ONLINE.into(), AWAY.into(), BUSY.into()],
            ids: Some(ids),
            ..Default::default()
        };
        let found = self.store.users_by_status(&query, Page::new(0, n)).await?;
        Ok(found
            .items
            .into_iter()
            .filter_map(|u| Some((u.id, u.status?)))
            .collect())
    }

    /// Recomputes a user's status from their live connections; stores and publishes
    /// it if it changed.
    pub async fn update_presence(&self, user_id: &str) -> ChatResult<()> {
        let Some(user) = self.store.user_by_id(user_id).await? else {
            return Ok(());
        };
        let conns = self.store.presence_conns_of(user_id, Ts::now()).await?;
        let connection = connection_status(conns.iter().map(|c| c.status.as_str()));
        let chosen = user.status_default.as_deref().unwrap_or(ONLINE);
        let effective = effective_status(connection, chosen);
        let same = user.status.as_deref().unwrap_or(OFFLINE) == effective
            && user.status_connection.as_deref().unwrap_or(OFFLINE) == connection;
        if same {
            return Ok(());
        }
        let fields = PresenceFields {
            status: Some(effective.to_string()),
            status_connection: Some(connection.to_string()),
            ..Default::default()
        };
        self.store
            .set_user_presence(user_id, &fields, Ts::now())
            .await?;
        if user.status.as_deref().unwrap_or(OFFLINE) != effective {
            tracing::debug!(
                user_id,
                status = effective,
                connections = conns.len(),
                "presence changed"
            );
            self.publish_status(&user, effective, user.status_text.as_deref());
        }
        Ok(())
    }

    fn publish_status(&self, user: &User, status: &str, status_text: Option<&str>) {
        self.bus.publish(Event::UserStatusChanged {
            user_id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            roles: user.roles.clone(),
            status: status.to_string(),
            status_text: status_text.unwrap_or_default().to_string(),
        });
    }

    /// Starts the presence heartbeat: renews this instance's connections and sweeps
    /// expired ones (other instances', after a crash) every third of the TTL. At
    /// stop, this instance's connections are removed and their users updated.
    pub fn start_presence(self: &Arc<Self>) -> Worker {
        let chat = self.clone();
        Worker::spawn("presence", |stop| heartbeat(chat, stop))
    }

    async fn presence_tick(&self) -> ChatResult<()> {
        let ttl = self.presence_ttl();
        self.store
            .renew_presence_conns(&self.instance_id, ts_after(ttl))
            .await?;
        for uid in self.store.remove_expired_presence_conns(Ts::now()).await? {
            self.update_presence(&uid).await?;
        }
        Ok(())
    }

    /// Users shown present although no connection is recorded (a crash between
    /// removing connections and updating users): recomputed once at start. Those
    /// who never connected (no connection status: the `rocket.cat` bot, created
    /// online as in Rocket.Chat) keep the status they were given.
    async fn presence_repair(&self) -> ChatResult<()> {
        let query = StatusQuery {
            statuses: vec![ONLINE.into(), AWAY.into(), BUSY.into()],
            ..Default::default()
        };
        let mut offset = 0;
        loop {
            let page = self
                .store
                .users_by_status(&query, Page::new(offset, 500))
                .await?;
            for user in page.items.iter().filter(|u| u.status_connection.is_some()) {
                self.update_presence(&user.id).await?;
            }
            if page.items.len() < 500 {
                return Ok(());
            }
            offset += 500;
        }
    }
}

async fn heartbeat(chat: Arc<Chat>, mut stop: StopSignal) {
    let every = (chat.presence_ttl() / 3).max(Duration::from_millis(50));
    if let Err(e) = chat.presence_repair().await {
        tracing::warn!(error = %e, "cannot repair the users' presence");
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.stopped() => break,
        }
        if let Err(e) = chat.presence_tick().await {
            tracing::warn!(error = %e, "presence heartbeat failed");
        }
    }
    let leave = async {
        match chat
            .store
            .remove_instance_presence_conns(&chat.instance_id)
            .await
        {
            Ok(users) => {
                for uid in users {
                    if let Err(e) = chat.update_presence(&uid).await {
                        tracing::warn!(user_id = %uid, error = %e, "cannot update presence at shutdown");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot remove this instance's connections"),
        }
    };
    if stop.drain_within(leave).await.is_none() {
        tracing::warn!("presence: shutdown deadline before every user was updated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fold_as_rocket_chat() {
        assert_eq!(connection_status([]), OFFLINE);
        assert_eq!(connection_status([AWAY]), AWAY);
        assert_eq!(connection_status([AWAY, ONLINE, AWAY]), ONLINE);
        assert_eq!(connection_status([ONLINE, AWAY]), ONLINE);
    }

    #[test]
    fn chosen_status_applies_only_when_connected() {
        assert_eq!(effective_status(OFFLINE, BUSY), OFFLINE);
        assert_eq!(effective_status(ONLINE, ONLINE), ONLINE);
        assert_eq!(effective_status(AWAY, ONLINE), AWAY);
        assert_eq!(effective_status(ONLINE, BUSY), BUSY);
        assert_eq!(effective_status(ONLINE, OFFLINE), OFFLINE);
        assert_eq!(status_number(BUSY), 3);
        assert_eq!(status_number("whatever"), 0);
    }
}

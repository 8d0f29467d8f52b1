//! Chat events into apps: the pre-send chain on the request path, and post-event
//! handlers off it through bounded per-app queues.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{AppsEngine, Installed};
use crate::apps::host::bindings::palaver::apps::types::PreSendDecision;
use crate::apps::host::convert;
use crate::apps::manifest::EventKind;
use crate::apps::pool::{Call, InstancePool, Outcome};
use crate::chat::hooks::PreSendHook;
use crate::chat::rooms::RoomRef;
use crate::chat::{ChatError, ChatResult, Event};
use crate::store::{Message, Room, RoomType, User};

fn prevented(message: String) -> ChatError {
    ChatError::refused("error-app-prevented", message)
}

impl AppsEngine {
    /// Whether the app's bot may read `room`: apps see what their bot user could.
    async fn bot_reads(&self, app: &Installed, room: &Room) -> bool {
        if room.t == RoomType::Channel {
            return true;
        }
        let cached = app.bot.read().unwrap_or_else(|p| p.into_inner()).clone();
        let bot = match cached {
            Some(bot) => bot,
            None => {
                let Ok(bot) = self.chat.find_user(Some(&app.bot_user_id), None).await else {
                    return false;
                };
                let bot = Arc::new(bot);
                *app.bot.write().unwrap_or_else(|p| p.into_inner()) = Some(bot.clone());
                bot
            }
        };
        self.chat
            .readable_room(&bot, RoomRef::Id(&room.id))
            .await
            .is_ok()
    }
}

#[async_trait]
impl PreSendHook for AppsEngine {
    async fn pre_send(&self, sender: &User, room: &Room, message: Message) -> ChatResult<Message> {
        let chain = self
            .pre_send_chain
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut current = message;
        for app in chain.iter() {
            let Some(running) = app.running() else {
                continue;
            };
            // An app does not vet its own bot's messages (no loops).
            if app.bot_user_id == sender.id || !self.bot_reads(app, room).await {
                continue;
            }
            let call = Call::PreMessageSent(convert::message(&current), convert::room(room));
            let outcome = running.pool.call(call).await;
            self.after_call(app, &running.pool);
            match outcome {
                Ok(Outcome::Decision(PreSendDecision::Continue)) => {}
                Ok(Outcome::Decision(PreSendDecision::Modify(m))) => {
                    current = convert::apply_modification(&current, m)?;
                }
                Ok(Outcome::Decision(PreSendDecision::Prevent(reason))) => {
                    tracing::info!(app_id = %app.id, room_id = %room.id, user_id = %sender.id, "message prevented by app");
                    return Err(prevented(format!(
                        "The app {} prevented this message: {reason}",
                        app.manifest.name
                    )));
                }
                Ok(other) => {
                    tracing::error!(app_id = %app.id, ?other, "unexpected pre-send outcome");
                }
                Err(fault) if app.manifest.essential => {
                    return Err(prevented(format!(
                        "The app {} must check every message but {fault}; the message was not sent",
                        app.manifest.name
                    )));
                }
                // Fail open: a broken app must not stop the conversation.
                Err(_) => {}
            }
        }
        Ok(current)
    }
}

impl AppsEngine {
    /// Starts the task that turns chat events into app calls.
    pub(super) fn spawn_event_dispatcher(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let mut rx = self.chat.events().subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(event) => me.dispatch(&event).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        me.events_dropped.fetch_add(n, Ordering::Relaxed);
                        tracing::warn!(missed = n, "apps engine lagged behind the event bus");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    async fn dispatch(&self, event: &Event) {
        let (kind, room, make): (
            EventKind,
            Option<&Room>,
            Box<dyn Fn() -> Call + Send + Sync>,
        ) = match event {
            Event::MessageSent { room, message } => {
                let (m, r) = (convert::message(message), convert::room(room));
                (
                    EventKind::PostMessageSent,
                    Some(room),
                    Box::new(move || Call::PostMessageSent(m.clone(), r.clone())),
                )
            }
            Event::MessageUpdated { room, message } => {
                let (m, r) = (convert::message(message), convert::room(room));
                (
                    EventKind::PostMessageUpdated,
                    Some(room),
                    Box::new(move || Call::PostMessageUpdated(m.clone(), r.clone())),
                )
            }
            Event::MessageDeleted { room, message } => {
                let (m, r) = (convert::message(message), convert::room(room));
                (
                    EventKind::PostMessageDeleted,
                    Some(room),
                    Box::new(move || Call::PostMessageDeleted(m.clone(), r.clone())),
                )
            }
            Event::RoomCreated { room } => {
                let r = convert::room(room);
                (
                    EventKind::PostRoomCreated,
                    Some(room),
                    Box::new(move || Call::PostRoomCreated(r.clone())),
                )
            }
            Event::UserJoined { room, user } => {
                let (r, u) = (convert::room(room), convert::user(user));
                (
                    EventKind::PostRoomUserJoined,
                    Some(room),
                    Box::new(move || Call::PostRoomUserJoined(r.clone(), u.clone())),
                )
            }
            Event::UserLeft { room, user } => {
                let (r, u) = (convert::room(room), convert::user(user));
                (
                    EventKind::PostRoomUserLeft,
                    Some(room),
                    Box::new(move || Call::PostRoomUserLeft(r.clone(), u.clone())),
                )
            }
            Event::UserCreated { user } => {
                let u = convert::user(user);
                (
                    EventKind::PostUserCreated,
                    None,
                    Box::new(move || Call::PostUserCreated(u.clone())),
                )
            }
            _ => return,
        };
        let sender = match event {
            Event::MessageSent { message, .. } => Some(message.u.id.as_str()),
            _ => None,
        };
        for app in self.all() {
            let Some(running) = app.running() else {
                continue;
            };
            let bot_id = app.bot_user_id.clone();
            if sender == Some(bot_id.as_str()) {
                continue;
            }
            if let Some(room) = room {
                if !self.bot_reads(&app, room).await {
                    continue;
                }
            }
            if app.subscribes(kind) {
                self.enqueue(&app, &running.events, make());
            }
            // A message in a DM with the app's bot is also "sent to the bot".
            if let (Event::MessageSent { room, message }, true) =
                (event, app.subscribes(EventKind::PostMessageSentToBot))
            {
                let to_bot = room.t == RoomType::Direct
                    && room.uids.as_ref().is_some_and(|u| u.contains(&bot_id));
                if to_bot {
                    let call =
                        Call::PostMessageSentToBot(convert::message(message), convert::room(room));
                    self.enqueue(&app, &running.events, call);
                }
            }
        }
    }

    fn enqueue(&self, app: &Installed, queue: &mpsc::Sender<Call>, call: Call) {
        if queue.try_send(call).is_err() {
            let total = self.events_dropped.fetch_add(1, Ordering::Relaxed) + 1;
            app.logger.host(
                "warn",
                None,
                "event dropped: the app's event queue is full (it handles events too slowly)",
                Some("queue-full"),
            );
            tracing::warn!(app_id = %app.id, total_dropped = total, "app event queue full");
        }
    }

    /// One worker per enabled app runs its post-event handlers in order.
    pub(super) fn spawn_event_worker(
        &self,
        app: Arc<Installed>,
        pool: Arc<InstancePool>,
        mut rx: mpsc::Receiver<Call>,
    ) {
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            while let Some(call) = rx.recv().await {
                let _ = pool.call(call).await;
                me.after_call(&app, &pool);
            }
        });
    }
}

//! Chat events into apps: the pre-send chain on the request path, and post-event
//! handlers off it through bounded per-app queues.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{AppsEngine, ChainLink, Enabled, Installed};
use crate::apps::host::bindings::palaver::apps::types::PreSendDecision;
use crate::apps::host::convert;
use crate::apps::manifest::EventKind;
use crate::apps::pool::{Call, InstancePool, Outcome};
use crate::chat::hooks::PreSendHook;
use crate::chat::rooms::RoomRef;
use crate::chat::{ChatError, ChatResult, Event};
use crate::store::{Message, Room, RoomType, User};
use crate::worker::Worker;

fn prevented(message: String) -> ChatError {
    ChatError::refused("error-app-prevented", message)
}

impl AppsEngine {
    /// Whether the running app's bot may read `room`: apps see what their bot
    /// user could.
    async fn bot_reads(&self, running: &Enabled, room: &Room) -> bool {
        room.t == RoomType::Channel
            || self
                .chat
                .readable_room(&running.pool.context().bot, RoomRef::Id(&room.id))
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
        // Converted once for the chain, when an app first needs them; the message
        // again only after an app changed it.
        let mut wit_room = None;
        let mut wit_message = None;
        for ChainLink { app, running } in chain.iter() {
            // A drained pool: the app was disabled after this chain was read.
            if running.pool.is_closed() {
                continue;
            }
            // An app does not vet its own bot's messages (no loops).
            if app.bot_user_id == sender.id || !self.bot_reads(running, room).await {
                continue;
            }
            let m = wit_message.get_or_insert_with(|| Arc::new(convert::message(&current)));
            let r = wit_room.get_or_insert_with(|| Arc::new(convert::room(room)));
            let call = Call::PreMessageSent(m.clone(), r.clone());
            let outcome = running.pool.call(call).await;
            self.after_call(app, &running.pool);
            match outcome {
                Ok(Outcome::Decision(PreSendDecision::Continue)) => {}
                Ok(Outcome::Decision(PreSendDecision::Modify(m))) => {
                    let modified = convert::apply_modification(&current, m)?;
                    // Checked here, not only once the chain is done, so the app that
                    // broke the message is named to the sender and in its own log.
                    if let Err(e) = self.chat.message_limits().check((&modified).into()) {
                        running.pool.context().logger.host(
                            "warn",
                            Some("pre-message-sent"),
                            &format!("modify refused, the message was not sent: {e}"),
                            None,
                        );
                        return Err(ChatError::refused(
                            e.error_type(),
                            format!(
                                "The app {} changed this message into one that cannot be sent: {e}",
                                app.manifest.name
                            ),
                        ));
                    }
                    current = modified;
                    wit_message = None;
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

/// The post-event call for one of the events apps subscribe to, its values
/// converted once for all the apps that get it.
fn post_event_call(event: &Event) -> Option<Call> {
    let m = |message| Arc::new(convert::message(message));
    let r = |room| Arc::new(convert::room(room));
    let u = |user| Arc::new(convert::user(user));
    Some(match event {
        Event::MessageSent { room, message } => Call::PostMessageSent(m(message), r(room)),
        Event::MessageUpdated { room, message } => Call::PostMessageUpdated(m(message), r(room)),
        Event::MessageDeleted { room, message } => Call::PostMessageDeleted(m(message), r(room)),
        Event::RoomCreated { room } => Call::PostRoomCreated(r(room)),
        Event::UserJoined { room, user } => Call::PostRoomUserJoined(r(room), u(user)),
        Event::UserLeft { room, user } => Call::PostRoomUserLeft(r(room), u(user)),
        Event::UserCreated { user } => Call::PostUserCreated(u(user)),
        _ => return None,
    })
}

impl AppsEngine {
    /// Starts the worker that turns chat events into app calls. Stopped, it still
    /// queues the events raised before the stop, so the apps' queues drain them.
    pub(super) fn spawn_event_dispatcher(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let mut rx = self.chat.events().subscribe();
        let worker = Worker::spawn("app-event-dispatcher", |mut stop| async move {
            loop {
                let next = tokio::select! {
                    next = rx.recv() => next,
                    _ = stop.stopped() => break,
                };
                match next {
                    Ok(event) => me.dispatch(&event).await,
                    Err(RecvError::Lagged(n)) => {
                        me.events_dropped.fetch_add(n, Ordering::Relaxed);
                        tracing::warn!(missed = n, "apps engine lagged behind the event bus");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
            let drain = async {
                while let Ok(event) = rx.try_recv() {
                    me.dispatch(&event).await;
                }
            };
            if stop.drain_within(drain).await.is_none() {
                tracing::warn!(
                    dropped = rx.len(),
                    "chat events not handed to apps: the shutdown deadline passed"
                );
            }
        });
        *self
            .background
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(worker);
    }

    async fn dispatch(&self, event: &Event) {
        let (kind, room) = match event {
            Event::MessageSent { room, .. } => (EventKind::PostMessageSent, Some(room)),
            Event::MessageUpdated { room, .. } => (EventKind::PostMessageUpdated, Some(room)),
            Event::MessageDeleted { room, .. } => (EventKind::PostMessageDeleted, Some(room)),
            Event::RoomCreated { room } => (EventKind::PostRoomCreated, Some(room)),
            Event::UserJoined { room, .. } => (EventKind::PostRoomUserJoined, Some(room)),
            Event::UserLeft { room, .. } => (EventKind::PostRoomUserLeft, Some(room)),
            Event::UserCreated { .. } => (EventKind::PostUserCreated, None),
            _ => return,
        };
        let sent = match event {
            Event::MessageSent { room, message } => Some((room, message)),
            _ => None,
        };
        // Converted on first need: most events interest no app.
        let mut call: Option<Call> = None;
        for app in self.all() {
            let Some(running) = app.running() else {
                continue;
            };
            let wants_event = app.subscribes(kind);
            let to_bot = sent.is_some_and(|(room, _)| {
                app.subscribes(EventKind::PostMessageSentToBot)
                    && room.t == RoomType::Direct
                    && room
                        .uids
                        .as_ref()
                        .is_some_and(|u| u.contains(&app.bot_user_id))
            });
            if !wants_event && !to_bot {
                continue;
            }
            // An app does not hear its own bot's messages (no loops).
            if sent.is_some_and(|(_, m)| m.u.id == app.bot_user_id) {
                continue;
            }
            if let Some(room) = room {
                if !self.bot_reads(&running, room).await {
                    continue;
                }
            }
            if call.is_none() {
                call = post_event_call(event);
            }
            if wants_event {
                if let Some(call) = &call {
                    self.enqueue(&app, &running.events, call.clone());
                }
            }
            // A message in a DM with the app's bot is also "sent to the bot".
            if let (true, Some(Call::PostMessageSent(m, r))) = (to_bot, &call) {
                let call = Call::PostMessageSentToBot(m.clone(), r.clone());
                self.enqueue(&app, &running.events, call);
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

    /// One worker per enabled app runs its post-event handlers in order. It ends
    /// when the app is disabled (its queue's sender is gone) or, at shutdown, once
    /// it ran what was queued — what is still queued at the deadline is dropped
    /// and counted in the app's log.
    pub(super) fn spawn_event_worker(
        &self,
        app: Arc<Installed>,
        pool: Arc<InstancePool>,
        mut rx: mpsc::Receiver<Call>,
    ) {
        let Some(me) = self.me.upgrade() else { return };
        let name = format!("app-events:{}", app.id);
        let worker = Worker::spawn(name, |mut stop| async move {
            loop {
                let next = tokio::select! {
                    next = rx.recv() => next,
                    _ = stop.stopped() => break,
                };
                let Some(call) = next else { return };
                let _ = pool.call(call).await;
                me.after_call(&app, &pool);
            }
            rx.close();
            let mut ran = 0usize;
            let drain = async {
                while let Some(call) = rx.recv().await {
                    let _ = pool.call(call).await;
                    me.after_call(&app, &pool);
                    ran += 1;
                }
            };
            if stop.drain_within(drain).await.is_none() {
                // The call cut short counts as dropped too.
                let dropped = rx.len() + 1;
                tracing::warn!(app_id = %app.id, ran, dropped, "app events dropped at shutdown");
                app.logger.host(
                    "warn",
                    None,
                    &format!(
                        "{dropped} queued events dropped: the server shut down before they ran"
                    ),
                    Some("shutdown"),
                );
            } else if ran > 0 {
                tracing::debug!(app_id = %app.id, ran, "app event queue drained");
            }
        });
        self.background.event_queues.add(worker);
    }
}

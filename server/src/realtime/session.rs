//! The DDP session of one connection: runs its methods and subscriptions one at a
//! time, in the order the client sent them (Meteor's default), and owns its login.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::close::Close;
use super::connection::ConnShared;
use super::protocol::{self, DdpError};
use super::registry::Login;
use super::{methods, subscriptions, Realtime};
use crate::apps::AppsEngine;
use crate::chat::Chat;
use crate::store::User;

pub enum Request {
    Method {
        id: String,
        method: String,
        params: Vec<Value>,
    },
    Sub {
        id: String,
        name: String,
        params: Vec<Value>,
    },
    Unsub {
        id: Value,
    },
}

/// What a method or subscription needs to know about its connection.
pub struct Ctx {
    pub hub: Arc<Realtime>,
    pub chat: Arc<Chat>,
    /// For slash commands and their previews.
    pub apps: Arc<AppsEngine>,
    pub conn: Arc<ConnShared>,
    pub peer: SocketAddr,
    /// The web client's session cookie sent with the upgrade (same origin only):
    /// `login {"cookie": true}` logs in with it.
    pub cookie: Option<crate::api::session_cookie::CookieCredentials>,
    /// The connection as method and subscription traces show it.
    pub trace: super::trace::ConnTrace,
}

impl Ctx {
    /// The current login. Read from the registry on every call, so a logout or a
    /// deactivation seen by the fan-out applies to the very next method.
    pub fn login(&self) -> Option<Login> {
        self.hub.with_registry(|r| r.login_of(self.conn.id))
    }

    pub fn user(&self) -> Result<User, DdpError> {
        self.login()
            .map(|l| l.user)
            .ok_or_else(DdpError::not_logged_in)
    }

    /// Makes `user` this session's user and loads the rooms they belong to (what
    /// `__my_messages__`, notifications and room lists are authorized against).
    pub async fn start_login(&self, user: User, token_hash: String) -> Result<(), DdpError> {
        let id = self.conn.id;
        let needs_membership = self
            .hub
            .with_registry(|r| r.login(id, user.clone(), token_hash));
        tracing::info!(user_id = %user.id, session = %self.conn.session, "realtime login");
        if !needs_membership {
            return Ok(());
        }
        match self.chat.subscriptions_since(&user, None).await {
            Ok((subs, _)) => {
                self.hub
                    .with_registry(|r| r.membership_loaded(id, &user.id, subs));
                Ok(())
            }
            Err(e) => {
                self.hub
                    .with_registry(|r| r.logout(id, "Could not load the user's rooms"));
                Err(e.into())
            }
        }
    }
}

/// Runs the connection's requests in order. A request that panics ends the
/// connection (1011): its per-connection state may be half-updated, and a
/// reconnecting client rebuilds it from scratch.
pub async fn run(ctx: Ctx, mut requests: mpsc::Receiver<Request>) {
    while let Some(request) = requests.recv().await {
        let what = request.describe();
        let handled = AssertUnwindSafe(handle(&ctx, request)).catch_unwind().await;
        if handled.is_err() {
            tracing::error!(
                request = %what,
                user_id = ctx.conn.user_id().as_deref().unwrap_or("-"),
                "realtime request panicked; closing the connection"
            );
            ctx.conn.kill(Close::internal());
            return;
        }
    }
}

impl Request {
    /// The method or subscription name, for the log.
    fn describe(&self) -> String {
        match self {
            Request::Method { method, .. } => format!("method {method}"),
            Request::Sub { name, .. } => format!("sub {name}"),
            Request::Unsub { .. } => "unsub".into(),
        }
    }
}

async fn handle(ctx: &Ctx, request: Request) {
    match request {
        Request::Method { id, method, params } => {
            let outcome = methods::call(&methods::Caller::socket(ctx), &method, &params).await;
            if let Err(e) = &outcome {
                tracing::debug!(
                    method = %method,
                    user_id = ctx.conn.user_id().as_deref().unwrap_or("-"),
                    error = %e.to_json(),
                    "realtime method refused"
                );
            }
            ctx.conn.push(protocol::result(&id, outcome));
            ctx.conn.push(protocol::updated(&id));
        }
        Request::Sub { id, name, params } => {
            subscriptions::subscribe(ctx, &id, &name, &params).await;
        }
        Request::Unsub { id } => {
            if let Some(sub_id) = id.as_str() {
                ctx.hub.with_registry(|r| r.remove_sub(ctx.conn.id, sub_id));
            }
            ctx.conn.push(protocol::nosub(&id, None));
        }
    }
}

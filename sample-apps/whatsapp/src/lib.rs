//! WhatsApp: bridges WhatsApp Business Cloud API conversations into Palaver rooms so a
//! team answers customers from chat.
//!
//! - The `webhook` endpoint answers Meta's verification handshake and receives signed
//!   notifications: each customer's messages appear in the customer's own private
//!   room (created on first contact, with the agents as members), under the customer's
//!   name; statuses of our messages are recorded, failures announced in the room.
//! - What an agent writes in a customer room is sent to the customer through the Graph
//!   API; errors are shown to that agent privately.
//! - `/whatsapp help | status | send <number> <text> | close | reopen`.
//!
//! See the README for the setup and [`store`] for what is kept.

mod commands;
mod config;
mod conversation;
mod graph;
mod outbound;
mod payload;
mod store;
mod webhook;

use palaver_apps_sdk::prelude::*;

/// The app. State lives in persistence: any instance may handle any call.
#[derive(Default)]
pub struct WhatsApp;

impl App for WhatsApp {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        commands::execute(ctx)
    }

    fn handle_request(&self, request: &EndpointRequest) -> Result<EndpointResponse> {
        match request.path.trim_matches('/') {
            "webhook" => webhook::handle(request),
            _ => Ok(EndpointResponse::not_found()),
        }
    }

    fn post_message_sent(&self, message: &Message, room: &Room) -> Result<()> {
        outbound::relay(message, room)
    }
}

palaver_apps_sdk::export_app!(WhatsApp);

//! `/whatsapp help | status | send <number> <text> | close | reopen`.

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::{environment, rooms};

use crate::config::Config;
use crate::conversation::{self, Agents};
use crate::graph;
use crate::outbound;
use crate::store::{self, count, count_text, Customer};

/// The help text.
pub const HELP: &str = "*WhatsApp bridge*: customers' WhatsApp messages appear in one private room per customer; what agents write there is sent back to the customer.\n\
`/whatsapp status`: configuration check, the webhook URL for Meta's dashboard, counts (in a customer room: that conversation)\n\
`/whatsapp send <number> <text>`: start a conversation with an international number, e.g. `/whatsapp send +15551234567 Hello!` (quote a number written with spaces)\n\
`/whatsapp close`: in a customer room, stop sending replies to WhatsApp\n\
`/whatsapp reopen`: in a customer room, send replies again\n\
`/whatsapp help`: this help";

pub fn execute(ctx: &CommandContext) -> Result<CommandReply> {
    let Some((sub, rest)) = ctx.subcommand() else {
        return Ok(CommandReply::ephemeral(HELP));
    };
    match sub.to_ascii_lowercase().as_str() {
        "help" => Ok(CommandReply::ephemeral(HELP)),
        "status" => status(ctx),
        "send" => send(ctx, &rest),
        "close" => close(ctx),
        "reopen" | "open" => reopen(ctx),
        other => Ok(CommandReply::ephemeral(format!(
            "Unknown subcommand `{other}`.\n{HELP}"
        ))),
    }
}

/// Agents (as configured) and admins may start conversations and read the status.
fn may_act(ctx: &CommandContext, agents: &Agents) -> bool {
    ctx.sender.is_admin() || agents.contains(&ctx.sender.username)
}

fn not_allowed() -> CommandReply {
    CommandReply::ephemeral(
        "Only the app's agents and admins may do this. An admin can add you to the WhatsApp app's Agents setting.",
    )
}

fn status(ctx: &CommandContext) -> Result<CommandReply> {
    let config = Config::load()?;
    let agents = conversation::resolve(&config.agents);
    let here = store::customer_of_room(&ctx.room.id)?;
    if here.is_none() && !may_act(ctx, &agents) {
        return Ok(not_allowed());
    }
    let mut lines = Vec::new();
    if let Some(customer) = &here {
        lines.extend(room_detail(customer)?);
        lines.push(String::new());
    }
    lines.push("*WhatsApp bridge status*".into());
    lines.push(format!(
        "Webhook URL (Meta app dashboard > WhatsApp > Configuration): {}",
        environment::public_endpoint_url("webhook")
    ));
    let set = |value: &str| {
        if value.is_empty() {
            "✗ not set"
        } else {
            "✓ set"
        }
    };
    lines.push(format!(
        "Settings: access token {}, phone number ID {}, app secret {}, verify token {}",
        set(&config.access_token),
        if config.phone_number_id.is_empty() {
            "✗ not set".to_string()
        } else {
            format!("`{}`", config.phone_number_id)
        },
        set(&config.app_secret),
        set(&config.verify_token)
    ));
    lines.push(format!("Graph API: {}", config.graph_url));
    match graph::phone_number(&config) {
        Ok(phone) => lines.push(format!(
            "✓ Connected: {} ({}){}",
            phone.display_phone_number,
            phone.verified_name,
            phone
                .quality_rating
                .map(|q| format!(", quality rating {q}"))
                .unwrap_or_default()
        )),
        Err(e) => lines.push(format!("✗ Cannot use the WhatsApp number: {e}")),
    }
    if agents.usernames.is_empty() {
        lines.push(
            "✗ Agents: nobody (set the Agents setting, or customer rooms have no members)".into(),
        );
    } else {
        lines.push(format!("Agents: {}", agents.usernames.join(", ")));
    }
    for problem in &agents.problems {
        lines.push(format!("✗ Agents setting: {problem}"));
    }
    lines.push(format!(
        "Welcome message: {} · offline reply: {}",
        if config.welcome_message.is_empty() {
            "none"
        } else {
            "set"
        },
        if config.offline_reply.is_empty() {
            "none"
        } else {
            "set"
        }
    ));
    let customers = count("customer:")?;
    let closed = count("closed:")?;
    lines.push(format!(
        "Conversations: {} ({} open, {} closed)",
        count_text(customers),
        count_text(customers.saturating_sub(closed)),
        count_text(closed)
    ));
    let by_status: Vec<String> = store::STATUSES
        .iter()
        .map(|s| Ok(format!("{} {s}", count_text(count(&format!("st:{s}:"))?))))
        .collect::<Result<_>>()?;
    lines.push(format!(
        "Messages: {} received, {} sent ({})",
        count_text(count("in:")?),
        count_text(count("out:")?),
        by_status.join(", ")
    ));
    Ok(CommandReply::ephemeral(lines.join("\n")))
}

/// The conversation of a customer room: who, open or closed, the last replies and
/// how far each got.
fn room_detail(customer: &Customer) -> Result<Vec<String>> {
    let mut lines = vec![format!("*Conversation with {}*", customer.label())];
    match store::closed(&customer.number)? {
        Some(closed) => lines.push(format!(
            "Closed by {}: replies here are not sent to WhatsApp (`/whatsapp reopen`).",
            closed.by
        )),
        None => lines.push("Open: replies here are sent to WhatsApp.".into()),
    }
    let wamids = store::room_outgoing(&customer.room_id)?;
    lines.push(format!(
        "Messages sent from this room: {}",
        count_text(wamids.len())
    ));
    // Newest first: the latest five, shown oldest of them first.
    for wamid in wamids.iter().take(5).rev() {
        let Some(out) = store::outgoing(wamid)? else {
            continue;
        };
        let state = match store::latest_status(wamid)? {
            Some(("failed", record)) => format!(
                "failed: {}",
                record
                    .errors
                    .first()
                    .map(|e| e.describe())
                    .unwrap_or_else(|| "no reason given".into())
            ),
            Some((name, _)) => name.to_string(),
            None => "accepted by WhatsApp, no status yet".into(),
        };
        lines.push(format!("• “{}” ({}) → {state}", out.excerpt, out.by));
    }
    Ok(lines)
}

fn send(ctx: &CommandContext, args: &Args) -> Result<CommandReply> {
    let usage = r#"Usage: `/whatsapp send <number> <text>`, the number in international form, e.g. `/whatsapp send +15551234567 Hello!` (quote a number with spaces: `"+1 555 123-4567"`)"#;
    // One word: quote a number written with spaces (`"+1 555 123-4567"`), so the
    // first word of the text can never be taken for part of the number.
    let (Some(number), Some(text)) = (args.get(0), args.rest(1)) else {
        return Ok(CommandReply::ephemeral(usage));
    };
    let Some(number) = conversation::normalise_number(number) else {
        return Ok(CommandReply::ephemeral(format!(
            "`{number}` is not an international phone number. {usage}"
        )));
    };
    let text = text.trim();
    let config = Config::load()?;
    let agents = conversation::resolve(&config.agents);
    if !may_act(ctx, &agents) {
        return Ok(not_allowed());
    }
    let (customer, _) = conversation::find_or_create(
        &number,
        None,
        &config.agents,
        std::slice::from_ref(&ctx.sender.username),
    )?;
    if let Some(closed) = store::closed(&number)? {
        return Ok(CommandReply::ephemeral(format!(
            "The conversation with {} was closed by {}. Run `/whatsapp reopen` in {} first.",
            customer.label(),
            closed.by,
            customer.room_name
        )));
    }
    // The sender must be able to follow the conversation.
    let members = rooms::members(&customer.room_id, 0, 1000)?;
    if !members.iter().any(|m| m.id == ctx.sender.id) {
        rooms::add_member(&customer.room_id, &ctx.sender.id)?;
    }
    let shown = Message::new(customer.room_id.clone(), text)
        .alias(format!("{} (/whatsapp send)", ctx.sender.display_name()))
        .emoji(":outbox_tray:")
        .send()?;
    match outbound::deliver(&config, &customer, text, &ctx.sender.username, Some(shown)) {
        Ok(_) => Ok(CommandReply::ephemeral(format!(
            "Sent to {}. The conversation continues in {}.",
            customer.label(),
            customer.room_name
        ))),
        Err(e) => {
            let notice = format!(
                "⚠️ The message above was not sent to {}: {e}",
                customer.label()
            );
            if let Err(e) = Message::new(customer.room_id.clone(), notice)
                .emoji(":warning:")
                .send()
            {
                error!("posting a notice in {} failed: {e}", customer.room_name);
            }
            Ok(CommandReply::ephemeral(format!(
                "Not sent to WhatsApp: {e}"
            )))
        }
    }
}

fn close(ctx: &CommandContext) -> Result<CommandReply> {
    let Some(customer) = store::customer_of_room(&ctx.room.id)? else {
        return Ok(CommandReply::ephemeral(
            "Run `/whatsapp close` in a customer's room.",
        ));
    };
    if !store::close(&customer.number, &ctx.sender.username)? {
        return Ok(CommandReply::ephemeral(format!(
            "The conversation with {} is already closed.",
            customer.label()
        )));
    }
    info!(
        "{} closed the conversation with +{}",
        ctx.sender.username, customer.number
    );
    Ok(CommandReply::message(ctx.reply(format!(
        "{} closed the conversation with {}: replies here are no longer sent to WhatsApp. `/whatsapp reopen` resumes it.",
        ctx.sender.display_name(),
        customer.label()
    ))))
}

fn reopen(ctx: &CommandContext) -> Result<CommandReply> {
    let Some(customer) = store::customer_of_room(&ctx.room.id)? else {
        return Ok(CommandReply::ephemeral(
            "Run `/whatsapp reopen` in a customer's room.",
        ));
    };
    if !store::reopen(&customer.number)? {
        return Ok(CommandReply::ephemeral(format!(
            "The conversation with {} is open.",
            customer.label()
        )));
    }
    info!(
        "{} reopened the conversation with +{}",
        ctx.sender.username, customer.number
    );
    Ok(CommandReply::message(ctx.reply(format!(
        "{} reopened the conversation with {}: replies here are sent to WhatsApp again.",
        ctx.sender.display_name(),
        customer.label()
    ))))
}

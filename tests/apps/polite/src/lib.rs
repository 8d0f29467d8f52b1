//! A well-behaved test app, to show that other apps keep working while one misbehaves.
//!
//! - `/polite` posts "polite reply" in the room (and shows it to the sender).
//! - Its pre-send hook appends " (polite)" to messages containing "please", and to
//!   a message containing "polite-files" the titles of its attachments (`[files: a, b]`),
//!   which shows what a hook sees of uploaded files.
//! - `/polite-pick <words>` previews three polite phrasings of the words; the one
//!   picked is posted in the room.
//! - Its endpoints: `page` (and `private-page`) serve HTML whose script tries to read
//!   the web client's session (storage, cookies, `/api/v1/me`) and reports it in the
//!   page title, and ask for headers that would let it (a permissive CSP, a cookie);
//!   `fail` answers an app error; `panic` panics.
//!
//! Message limits (the server must refuse what an app builds too big, by either way
//! an app changes chat):
//! - `/polite-big <kind>` sends, as the bot, a message that is `many` (1000
//!   attachments), `bytes` (20 attachments of 4000 characters), `fields` (101 fields),
//!   or `alias` (a small message under the alias
//!   "admin", which the bot may use); answers "sent <id>" or "refused: <error>".
//! - Its pre-send hook turns a message containing `polite-bloat-<kind>` (a kind
//!   above) into that oversized message, and one containing `polite-alias` into one
//!   under the alias "admin".

use palaver_apps_sdk::prelude::*;

#[derive(Default)]
struct Polite;

const SUFFIX: &str = " (polite)";

/// A page that would hand over the session if it ran in Palaver's origin: its script
/// puts what it could read in the title ("stolen:…"), then what `/api/v1/me` said.
const PAGE: &str = r#"<!doctype html>
<html><head><title>polite page</title></head>
<body><p id="said">polite page</p>
<script>
  let seen = {};
  try { seen.local = JSON.stringify(localStorage); } catch (e) { seen.local = 'denied'; }
  try { seen.session = JSON.stringify(sessionStorage); } catch (e) { seen.session = 'denied'; }
  try { seen.cookie = document.cookie; } catch (e) { seen.cookie = 'denied'; }
  document.title = 'stolen:' + JSON.stringify(seen);
  fetch('/api/v1/me', { credentials: 'include' })
    .then((r) => r.text())
    .then((t) => { document.title = 'stolen-me:' + t; })
    .catch((e) => { document.title = 'stolen-me-failed:' + e; });
</script></body></html>"#;

/// The phrasings `/polite-pick` offers: preview item id, template.
const PHRASINGS: [(&str, &str); 3] = [
    ("please", "Please, {}"),
    ("kindly", "Would you kindly {}?"),
    ("thanks", "Thank you for {}!"),
];

fn phrase(template: &str, words: &str) -> String {
    template.replacen("{}", words, 1)
}

/// `message` made oversized in the way `kind` names (see the crate docs).
fn bloated(message: Message, kind: &str) -> Option<Message> {
    Some(match kind {
        "many" => (0..1000).fold(message, |m, i| {
            m.attachment(Attachment::new().title(format!("a{i}")))
        }),
        "bytes" => (0..20).fold(message, |m, _| {
            m.attachment(Attachment::new().text("x".repeat(4000)))
        }),
        "fields" => message.attachment(
            (0..101).fold(Attachment::new(), |a, i| a.field(format!("f{i}"), "v", true)),
        ),
        "alias" => message.alias("admin").avatar("https://example.com/admin.png"),
        _ => return None,
    })
}

impl App for Polite {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        if ctx.command == "polite-big" {
            let kind = ctx.params.trim();
            let message = bloated(ctx.reply(format!("big {kind}")), kind)
                .ok_or_else(|| Error::Invalid(format!("no such kind: {kind}")))?;
            return Ok(CommandReply::ephemeral(match message.send() {
                Ok(id) => format!("sent {id}"),
                Err(e) => format!("refused: {e}"),
            }));
        }
        if ctx.command == "polite-pick" {
            return Ok(CommandReply::ephemeral("Pick one of the previews."));
        }
        Ok(CommandReply::message(ctx.reply("polite reply")).with_ephemeral("polite reply"))
    }

    fn preview_command(&self, ctx: &CommandContext) -> Result<Vec<PreviewItem>> {
        let words = ctx.params.trim();
        if words.is_empty() {
            return Err(Error::Invalid("say what to phrase politely".into()));
        }
        Ok(PHRASINGS
            .iter()
            .map(|(id, template)| PreviewItem {
                id: id.to_string(),
                kind: "text".into(),
                value: phrase(template, words),
            })
            .collect())
    }

    fn execute_preview_item(
        &self,
        ctx: &CommandContext,
        item: &PreviewItem,
    ) -> Result<CommandReply> {
        // The item comes from the client: rebuild the text rather than trust its value.
        let (_, template) = PHRASINGS
            .iter()
            .find(|(id, _)| *id == item.id)
            .ok_or_else(|| Error::Invalid(format!("no such phrasing: {}", item.id)))?;
        Ok(CommandReply::message(
            ctx.reply(phrase(template, ctx.params.trim())),
        ))
    }

    fn handle_request(&self, request: &EndpointRequest) -> Result<EndpointResponse> {
        match request.path.trim_matches('/') {
            "page" | "private-page" => Ok(EndpointResponse::new(200)
                .header("content-type", "text/html; charset=utf-8")
                .header("content-security-policy", "default-src * 'unsafe-inline'")
                .header("x-frame-options", "ALLOWALL")
                .header("set-cookie", "rc_token=planted; Path=/")
                .body(PAGE)),
            "fail" => Err(Error::Invalid("the polite page refuses".into())),
            "panic" => panic!("polite panics on purpose"),
            _ => Ok(EndpointResponse::not_found()),
        }
    }

    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        if message.text.contains("polite-files") && !message.text.contains("[files: ") {
            let titles: Vec<&str> = message
                .attachments
                .iter()
                .filter_map(|a| a.title.as_deref())
                .collect();
            let text = format!("{} [files: {}]", message.text, titles.join(", "));
            return Ok(PreSendDecision::modify(message.with_text(text)));
        }
        if let Some(kind) = message.text.split_whitespace().find_map(|w| w.strip_prefix("polite-bloat-")) {
            if let Some(m) = bloated(message.clone(), kind) {
                return Ok(PreSendDecision::modify(m));
            }
        }
        if message.text.contains("polite-alias") {
            return Ok(PreSendDecision::modify(message.clone().alias("admin")));
        }
        if message.text.to_lowercase().contains("please") && !message.text.ends_with(SUFFIX) {
            let text = format!("{}{SUFFIX}", message.text);
            return Ok(PreSendDecision::modify(message.with_text(text)));
        }
        Ok(PreSendDecision::Continue)
    }
}

palaver_apps_sdk::export_app!(Polite);

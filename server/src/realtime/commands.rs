//! Rocket.Chat's slash-command methods over DDP — `slashCommand`,
//! `getSlashCommandPreviews` and `executeSlashCommandPreview` — read onto the same
//! slash-command service as REST's `commands.*` ([`crate::apps::slash`]).
//!
//! Shapes, checks and their order follow Rocket.Chat
//! (`apps/meteor/app/utils/server/slashCommand.ts`,
//! `apps/meteor/app/lib/server/methods/getSlashCommandPreviews.ts` and
//! `executeSlashCommandPreview.ts`): a command is `{cmd, params, msg: {rid, tmid?},
//! triggerId?}`; running a command or a preview item returns nothing (its answer
//! arrives as messages), previews return `{i18nTitle, items}` or nothing. Where
//! Rocket.Chat would pass a wrongly typed field on unchecked, Palaver answers
//! Meteor's `Match failed`.

use serde_json::{json, Map, Value};

use super::methods::Caller;
use super::methods::{arg, opt_str, Outcome};
use super::protocol::DdpError;
use crate::apps::engine::{CommandLine, PreviewItem};
use crate::apps::slash::{command_name, refusals, SlashCommands};
use crate::apps::AppsError;
use crate::chat::ChatError;
use crate::store::User;

/// The method name Rocket.Chat puts in the `details` of its command refusals (the
/// same for all three methods, as Rocket.Chat has it).
const REFUSING_METHOD: &str = "executeSlashCommandPreview";

/// A command invocation as the methods take it, types checked.
struct Invocation<'a> {
    /// Normalised; may be empty (no command given).
    cmd: String,
    params: &'a str,
    rid: Option<&'a str>,
    tmid: Option<&'a str>,
    trigger_id: Option<&'a str>,
}

impl Invocation<'_> {
    fn line<'s>(&'s self, rid: &'s str) -> CommandLine<'s> {
        CommandLine {
            command: &self.cmd,
            params: self.params,
            rid,
            tmid: self.tmid,
            trigger_id: self.trigger_id,
        }
    }

    /// The room it is run in: Rocket.Chat refuses a `msg` without one.
    fn rid(&self) -> Result<&str, DdpError> {
        self.rid.ok_or_else(|| refusals::needs_room().into())
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Reads the first parameter. A missing command object is Rocket.Chat's "Invalid
/// Command Provided"; a wrongly typed one, or field, is `Match failed`.
fn invocation(params: &[Value]) -> Result<Invocation<'_>, DdpError> {
    let command = match arg(params, 0) {
        Value::Null => return Err(refusal(refusals::invalid_command())),
        Value::Object(o) => o,
        _ => return Err(DdpError::match_failed()),
    };
    let msg: Option<&Map<String, Value>> = match command.get("msg") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(DdpError::match_failed()),
    };
    let (rid, tmid) = match msg {
        Some(m) => (
            non_empty(opt_str(m, "rid")?),
            non_empty(opt_str(m, "tmid")?),
        ),
        None => (None, None),
    };
    Ok(Invocation {
        cmd: command_name(opt_str(command, "cmd")?.unwrap_or_default()),
        params: opt_str(command, "params")?.unwrap_or_default(),
        rid,
        tmid,
        trigger_id: non_empty(opt_str(command, "triggerId")?),
    })
}

/// A command refusal with the `details` Rocket.Chat gives it.
fn refusal(e: ChatError) -> DdpError {
    with_method(e.into(), REFUSING_METHOD)
}

fn with_method(mut e: DdpError, method: &str) -> DdpError {
    e.details = Some(Box::new(json!({ "method": method })));
    e
}

/// The caller, or Rocket.Chat's `error-invalid-user` naming `method`.
fn caller(ctx: &Caller<'_>, method: &str) -> Result<User, DdpError> {
    ctx.user().map_err(|e| with_method(e, method))
}

/// An app-side failure; no enabled app answering is "Invalid Command Provided".
fn app_refusal(e: AppsError) -> DdpError {
    match e {
        AppsError::NotFound => refusal(refusals::invalid_command()),
        other => other.into(),
    }
}

fn slash<'a>(ctx: &Caller<'a>) -> SlashCommands<'a> {
    SlashCommands::new(ctx.chat, ctx.apps)
}

/// `slashCommand({cmd, params, msg, triggerId?})` → nothing.
pub async fn slash_command(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = caller(ctx, "slashCommand")?;
    let invocation = invocation(params)?;
    let slash = slash(ctx);
    if invocation.cmd.is_empty() || slash.find(&invocation.cmd).is_none() {
        return Err(refusal(refusals::invalid_command()));
    }
    let rid = invocation.rid()?;
    slash
        .run(&user, &invocation.line(rid))
        .await
        .map_err(app_refusal)?;
    Ok(None)
}

/// `getSlashCommandPreviews({cmd, params, msg})` → `{i18nTitle, items: [{id, type,
/// value}]}` (at most ten), or nothing when the app offers none.
pub async fn get_previews(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = caller(ctx, "getSlashCommandPreview")?;
    let invocation = invocation(params)?;
    let slash = slash(ctx);
    previewing(&slash, &invocation)?;
    let rid = invocation.rid()?;
    let previews = slash
        .previews(&user, &invocation.line(rid))
        .await
        .map_err(app_refusal)?;
    Ok(previews
        .capped()
        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null)))
}

/// `executeSlashCommandPreview({cmd, params, msg, triggerId?}, {id, type, value})`
/// → nothing. A trigger id given as a third parameter is taken too.
pub async fn execute_preview(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = caller(ctx, "getSlashCommandPreview")?;
    let mut invocation = invocation(params)?;
    let slash = slash(ctx);
    previewing(&slash, &invocation)?;
    let item = match arg(params, 1) {
        Value::Null => return Err(refusal(refusals::no_preview_item())),
        Value::Object(o) => o,
        _ => return Err(DdpError::match_failed()),
    };
    let fields = (
        non_empty(opt_str(item, "id")?),
        non_empty(opt_str(item, "type")?),
        non_empty(opt_str(item, "value")?),
    );
    if invocation.trigger_id.is_none() {
        invocation.trigger_id = match arg(params, 2) {
            Value::Null => None,
            Value::String(s) => non_empty(Some(s)),
            _ => return Err(DdpError::match_failed()),
        };
    }
    let rid = invocation.rid()?;
    let (Some(id), Some(kind), Some(value)) = fields else {
        return Err(refusals::incomplete_preview_item().into());
    };
    let item = PreviewItem {
        id: id.to_string(),
        kind: kind.to_string(),
        value: value.to_string(),
    };
    slash
        .execute_preview(&user, &invocation.line(rid), item)
        .await
        .map_err(app_refusal)?;
    Ok(None)
}

/// Rocket.Chat's checks before previews: the command exists and offers them.
fn previewing(slash: &SlashCommands<'_>, invocation: &Invocation<'_>) -> Result<(), DdpError> {
    let found = (!invocation.cmd.is_empty())
        .then(|| slash.find(&invocation.cmd))
        .flatten();
    match found {
        None => Err(refusal(refusals::invalid_command())),
        Some(c) if !c.provides_preview => Err(refusal(refusals::no_previews())),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::protocol::ErrorCode;

    fn error_of(params: Value) -> ErrorCode {
        let params = params.as_array().cloned().unwrap_or_default();
        match invocation(&params) {
            Ok(_) => panic!("{params:?} should be refused"),
            Err(e) => e.error,
        }
    }

    #[test]
    fn reads_rocket_chat_invocations() {
        let params = vec![json!({"cmd": "/Polite-Pick", "params": "a b",
            "msg": {"rid": "r1", "tmid": "t1"}, "triggerId": "x"})];
        let i = invocation(&params).expect("an invocation");
        assert_eq!(i.cmd, "polite-pick");
        assert_eq!(i.params, "a b");
        assert_eq!(
            (i.rid, i.tmid, i.trigger_id),
            (Some("r1"), Some("t1"), Some("x"))
        );
        let params = vec![json!({"cmd": "me", "msg": {"rid": ""}})];
        let i = invocation(&params).expect("an invocation");
        assert_eq!((i.params, i.rid), ("", None));
        assert!(i.rid().is_err());
    }

    #[test]
    fn refuses_like_rocket_chat() {
        let invalid = ErrorCode::from("error-invalid-command");
        let match_failed = ErrorCode::from(400);
        assert_eq!(error_of(json!([])), invalid);
        assert_eq!(error_of(json!([null])), invalid);
        assert_eq!(error_of(json!(["me"])), match_failed);
        assert_eq!(error_of(json!([{"cmd": 1}])), match_failed);
        assert_eq!(error_of(json!([{"cmd": "me", "params": []}])), match_failed);
        assert_eq!(error_of(json!([{"cmd": "me", "msg": "r"}])), match_failed);
        assert_eq!(
            error_of(json!([{"cmd": "me", "msg": {"rid": 1}}])),
            match_failed
        );
    }
}

//! Account methods, Rocket.Chat's names: `personalAccessTokens:generateToken`,
//! `personalAccessTokens:regenerateToken`, `personalAccessTokens:removeToken`,
//! `removeOtherTokens`, `setUserActiveStatus`.

use serde_json::{json, Value};

use super::methods::{arg, opt_str, Caller, Outcome};
use super::protocol::DdpError;

/// The `tokenName` of the methods' one object parameter.
fn token_name(params: &[Value]) -> Result<(&str, bool), DdpError> {
    let obj = arg(params, 0)
        .as_object()
        .ok_or_else(DdpError::match_failed)?;
    let name = opt_str(obj, "tokenName")?.ok_or_else(DdpError::match_failed)?;
    let bypass = obj
        .get("bypassTwoFactor")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((name, bypass))
}

/// Runs one of these methods; `None` for any other name.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Option<Outcome> {
    Some(match method {
        "personalAccessTokens:generateToken" => {
            async {
                let user = ctx.user()?;
                let (name, bypass) = token_name(params)?;
                let token = ctx
                    .chat
                    .generate_personal_token(&user, name, bypass)
                    .await?;
                Ok(Some(json!(token)))
            }
            .await
        }
        "personalAccessTokens:regenerateToken" => {
            async {
                let user = ctx.user()?;
                let (name, _) = token_name(params)?;
                let token = ctx.chat.regenerate_personal_token(&user, name).await?;
                Ok(Some(json!(token)))
            }
            .await
        }
        "personalAccessTokens:removeToken" => {
            async {
                let user = ctx.user()?;
                let (name, _) = token_name(params)?;
                ctx.chat.remove_personal_token(&user, name).await?;
                Ok(None)
            }
            .await
        }
        "removeOtherTokens" => {
            async {
                let session = ctx.session()?;
                ctx.chat.end_other_sessions_of(&session).await?;
                Ok(None)
            }
            .await
        }
        "setUserActiveStatus" => {
            async {
                let user = ctx.user()?;
                let user_id = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
                let active = arg(params, 1)
                    .as_bool()
                    .ok_or_else(DdpError::match_failed)?;
                let confirm = arg(params, 2).as_bool().unwrap_or(false);
                ctx.chat
                    .set_active_status(&user, user_id, active, confirm)
                    .await?;
                Ok(Some(json!(true)))
            }
            .await
        }
        _ => return None,
    })
}

//! Methods of notification preferences and account e-mails, Rocket.Chat's names:
//! `saveNotificationSettings`, `sendForgotPasswordEmail`, `resetPassword`,
//! `sendConfirmationEmail`, `verifyEmail`, `sendSMTPTestEmail`.

use serde_json::{json, Map, Value};

use super::methods::{arg, Caller, Outcome};
use super::protocol::{ejson_date, DdpError};
use crate::chat::login::LoginOutcome;

fn str_at(params: &[Value], i: usize) -> Result<&str, DdpError> {
    arg(params, i).as_str().ok_or_else(DdpError::match_failed)
}

fn logged_in(outcome: LoginOutcome) -> Outcome {
    Ok(Some(json!({
        "id": outcome.user.id,
        "token": outcome.token,
        "tokenExpires": ejson_date(outcome.expires),
        "type": "password",
    })))
}

/// Runs one of these methods; `None` for any other name.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Option<Outcome> {
    Some(match method {
        "saveNotificationSettings" => save_notification(ctx, params).await,
        "sendForgotPasswordEmail" => {
            async {
                let email = str_at(params, 0)?;
                ctx.chat.forgot_password(email).await?;
                Ok(Some(json!(true)))
            }
            .await
        }
        "resetPassword" => {
            async {
                let token = str_at(params, 0)?;
                let password = str_at(params, 1)?;
                logged_in(ctx.chat.reset_password(token, password).await?)
            }
            .await
        }
        "sendConfirmationEmail" => {
            async {
                ctx.user()?;
                let email = str_at(params, 0)?;
                Ok(Some(json!(ctx.chat.send_confirmation_email(email).await?)))
            }
            .await
        }
        "verifyEmail" => {
            async {
                let token = str_at(params, 0)?;
                let user = ctx.chat.verify_email(token).await?;
                Ok(Some(json!({"id": user.id})))
            }
            .await
        }
        "sendSMTPTestEmail" => {
            async {
                let user = ctx.user()?;
                let admin = ctx
                    .chat
                    .has_permission(
                        &user,
                        crate::chat::permissions::EDIT_PRIVILEGED_SETTING,
                        None,
                    )
                    .await?;
                if !admin {
                    return Err(DdpError::new(403, "Not allowed [error-not-allowed]"));
                }
                let (to, reply) = ctx.chat.send_smtp_test(&user).await?;
                Ok(Some(json!({
                    "message": "Sending_your_mail_to_s",
                    "params": [to],
                    "reply": reply,
                })))
            }
            .await
        }
        _ => return None,
    })
}

async fn save_notification(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = str_at(params, 0)?;
    let field = str_at(params, 1)?;
    let value = arg(params, 2);
    if !value.is_string() {
        return Err(DdpError::match_failed());
    }
    let mut changes = Map::new();
    changes.insert(field.to_string(), value.clone());
    ctx.chat.save_notification(&user, rid, &changes).await?;
    Ok(Some(json!(true)))
}

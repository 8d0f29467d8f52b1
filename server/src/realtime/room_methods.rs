//! Room lookups, Rocket.Chat's names: `getRoomIdByNameOrId`, `getRoomNameById`,
//! `getRoomRoles`.

use serde_json::{json, Value};

use super::methods::{is_room_not_found, str_arg, Caller, Outcome};
use super::protocol::DdpError;
use crate::chat::rooms::RoomRef;

/// Runs one of these methods; `None` for any other name.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Option<Outcome> {
    Some(match method {
        "getRoomIdByNameOrId" => room_id_by_name_or_id(ctx, params).await,
        "getRoomNameById" => room_name_by_id(ctx, params).await,
        "getRoomRoles" => room_roles(ctx, params).await,
        _ => return None,
    })
}

async fn room_id_by_name_or_id(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let name_or_id = str_arg(params, 0)?;
    for r in [RoomRef::Id(name_or_id), RoomRef::Name(name_or_id)] {
        match ctx.chat.readable_room(&user, r).await {
            Ok((room, _)) => return Ok(Some(json!(room.id))),
            Err(e) if is_room_not_found(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Value::Null))
}

async fn room_name_by_id(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = str_arg(params, 0)?;
    match ctx.chat.readable_room(&user, RoomRef::Id(rid)).await {
        Ok((room, _)) => Ok(room.name.map(Value::String)),
        Err(e) if is_room_not_found(&e) => Err(DdpError::new("error-not-allowed", "Not allowed")),
        Err(e) => Err(e.into()),
    }
}

/// The members of a readable room holding a room role (owner, moderator,
/// leader), as `channels.roles` lists them; an unknown or unreadable room is
/// Rocket.Chat's `error-invalid-room`.
async fn room_roles(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let user = ctx.user()?;
    let rid = str_arg(params, 0)?;
    let subs = match ctx.chat.room_roles(&user, RoomRef::Id(rid)).await {
        Ok((_, subs)) => subs,
        Err(e) if is_room_not_found(&e) => {
            return Err(DdpError::new("error-invalid-room", "Invalid room"))
        }
        Err(e) => return Err(e.into()),
    };
    let roles: Vec<Value> = subs.iter().map(crate::wire::room_role_member).collect();
    Ok(Some(Value::Array(roles)))
}

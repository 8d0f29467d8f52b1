//! Invite links on SQLite: table `invites`, one JSON document per invite next to
//! the columns it is found by; `uses` is a column too, so a use is claimed with
//! one conditional `UPDATE`.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_doc, query_docs, to_json, SqliteStore};
use crate::store::invites::{Invite, InviteStore};
use crate::store::{StoreResult, Ts};

/// The reusable invite: a range of `invites_reuse` (room, creator, uses, days),
/// newest first, unexpired.
pub(super) const REUSABLE: &str = "SELECT doc FROM invites
     WHERE rid = ?1 AND uid = ?2 AND max_uses = ?3 AND days = ?4
       AND (expires IS NULL OR expires > ?5)
     ORDER BY created_at DESC, id DESC LIMIT 1";

/// Every invite in creation order: a walk of `invites_created`.
pub(super) const ALL: &str = "SELECT doc FROM invites ORDER BY created_at, id";

#[async_trait]
impl InviteStore for SqliteStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let invite = invite.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO invites (id, rid, uid, max_uses, days, uses, expires, created_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    invite.id,
                    invite.rid,
                    invite.user_id,
                    invite.max_uses,
                    invite.days,
                    invite.uses,
                    invite.expires.map(|e| e.0),
                    invite.created_at.0,
                    to_json(&invite)?
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn invite_by_id(&self, id: &str) -> StoreResult<Option<Invite>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM invites WHERE id = ?1", [id]))
            .await
    }

    async fn reusable_invite(
        &self,
        user_id: &str,
        rid: &str,
        max_uses: i64,
        days: i64,
        now: Ts,
    ) -> StoreResult<Option<Invite>> {
        let (uid, rid) = (user_id.to_string(), rid.to_string());
        self.read(move |conn| query_doc(conn, REUSABLE, params![rid, uid, max_uses, days, now.0]))
            .await
    }

    async fn invites(&self) -> StoreResult<Vec<Invite>> {
        self.read(|conn| query_docs(conn, ALL, [])).await
    }

    async fn delete_invite(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| Ok(exec(conn, "DELETE FROM invites WHERE id = ?1", [id])? > 0))
            .await
    }

    async fn delete_room_invites(&self, rid: &str) -> StoreResult<u64> {
        let rid = rid.to_string();
        self.write(move |conn| Ok(exec(conn, "DELETE FROM invites WHERE rid = ?1", [rid])? as u64))
            .await
    }

    async fn claim_invite_use(&self, id: &str, at: Ts) -> StoreResult<Option<Invite>> {
        let id = id.to_string();
        self.write(move |conn| {
            query_doc(
                conn,
                "UPDATE invites SET uses = uses + 1,
                     doc = json_set(doc, '$.uses', uses + 1, '$._updatedAt', ?2)
                 WHERE id = ?1 AND (max_uses <= 0 OR uses < max_uses)
                 RETURNING doc",
                params![id, at.0],
            )
        })
        .await
    }
}

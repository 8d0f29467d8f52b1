//! Roles on SQLite: table `roles` (unique `name`), tombstones in `removed_roles`;
//! users by role come from `user_roles`; role queries over a room read the partial
//! index `subscriptions_roled`, which holds only memberships with room roles.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::role_store::{RemovedRole, Role, RoleStore};
use crate::store::{Listing, Page, StoreResult, Subscription, Ts, User};

/// A role's members, counted over their range of `user_roles` (kept by triggers on
/// `users`): the work is the role's size, not the user base's.
pub(super) const ROLE_COUNT: &str = "SELECT count(*) FROM user_roles WHERE role = ?1";

/// A page of a role's members by username: a walk of the role's range of
/// `user_roles`, which is in that order, stopping at the `LIMIT`; each member's
/// document by primary key.
pub(super) const ROLE_PAGE: &str = "SELECT u.doc FROM user_roles r JOIN users u ON u.id = r.user_id
     WHERE r.role = ?1 ORDER BY r.username_key, r.user_id LIMIT ?2 OFFSET ?3";

/// The members of a room holding a room role, by username: a walk of the room's
/// range of `subscriptions_roled` (memberships with a role only), so the cost is
/// the room's owners, moderators and leaders, not its members.
pub(super) const ROOM_ROLED: &str = "SELECT doc FROM subscriptions
     WHERE rid = ?1 AND json_array_length(doc, '$.roles') > 0 ORDER BY username, id";

/// [`ROOM_ROLED`] narrowed to one role.
pub(super) const ROOM_ROLE_MEMBERS: &str = "SELECT doc FROM subscriptions
     WHERE rid = ?2 AND json_array_length(doc, '$.roles') > 0
     AND EXISTS (SELECT 1 FROM json_each(doc, '$.roles') WHERE value = ?1)
     ORDER BY username, id";

#[async_trait]
impl RoleStore for SqliteStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        self.read(|conn| query_docs(conn, "SELECT doc FROM roles ORDER BY id", []))
            .await
    }

    async fn role(&self, id: &str) -> StoreResult<Option<Role>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM roles WHERE id = ?1", [&id]))
            .await
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        let (id, name, doc) = (role.id.clone(), role.name.clone(), to_json(role)?);
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO roles (id, name, doc) VALUES (?1, ?2, ?3)",
                params![id, name, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn update_role(&self, role: &Role) -> StoreResult<bool> {
        let (id, name, doc) = (role.id.clone(), role.name.clone(), to_json(role)?);
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE roles SET name = ?2, doc = ?3 WHERE id = ?1",
                params![id, name, doc],
            )? > 0)
        })
        .await
    }

    async fn delete_role(&self, id: &str, at: Ts) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| {
            let n = exec(conn, "DELETE FROM roles WHERE id = ?1", [&id])?;
            if n > 0 {
                exec(
                    conn,
                    "INSERT INTO removed_roles (id, deleted_at) VALUES (?1, ?2)",
                    params![id, at.0],
                )?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn removed_roles(&self, since: Ts) -> StoreResult<Vec<RemovedRole>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, deleted_at FROM removed_roles WHERE deleted_at > ?1
                     ORDER BY deleted_at, id",
                )
                .map_err(super::map_err)?;
            let rows = stmt
                .query_map([since.0], |r| {
                    Ok(RemovedRole {
                        id: r.get(0)?,
                        deleted_at: Ts(r.get(1)?),
                    })
                })
                .map_err(super::map_err)?;
            rows.map(|r| r.map_err(super::map_err)).collect()
        })
        .await
    }

    async fn users_in_role(&self, role: &str, page: Page) -> StoreResult<Listing<User>> {
        let role = role.to_string();
        self.read(move |conn| {
            let total = query_count(conn, ROLE_COUNT, [&role])?;
            let items = query_docs(
                conn,
                ROLE_PAGE,
                params![role, page.count as i64, page.offset as i64],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn room_members_in_role(&self, rid: &str, role: &str) -> StoreResult<Vec<Subscription>> {
        let (rid, role) = (rid.to_string(), role.to_string());
        self.read(move |conn| query_docs(conn, ROOM_ROLE_MEMBERS, params![role, rid]))
            .await
    }

    async fn subscriptions_with_roles(&self, rid: &str) -> StoreResult<Vec<Subscription>> {
        let rid = rid.to_string();
        self.read(move |conn| query_docs(conn, ROOM_ROLED, [&rid]))
            .await
    }

    async fn set_subscription_roles(
        &self,
        rid: &str,
        user_id: &str,
        roles: &[String],
        at: Ts,
    ) -> StoreResult<Option<Subscription>> {
        let (rid, uid, roles) = (rid.to_string(), user_id.to_string(), to_json(&roles)?);
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE subscriptions SET updated_at = ?4,
                   doc = json_set(doc, '$.roles', json(?3), '$._updatedAt', ?4)
                 WHERE rid = ?1 AND uid = ?2",
                params![rid, uid, roles, at.0],
            )?;
            query_doc(
                conn,
                "SELECT doc FROM subscriptions WHERE rid = ?1 AND uid = ?2",
                [&rid, &uid],
            )
        })
        .await
    }
}

//! Roles on MongoDB: collection `roles` (unique `name`), tombstones in
//! `roles_removed`; role queries over users and subscriptions match their `roles`
//! arrays.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Hint, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};

use super::users::user_projection;
use super::{backend, collect, from_doc, page_limit, to_doc, write_error, Ctx, MongoStore, IDX_ID};
use crate::store::role_store::{RemovedRole, Role, RoleStore};
use crate::store::{Listing, Page, StoreResult, Subscription, Ts, User};

const ROLES: &str = "roles";
const REMOVED_ROLES: &str = "roles_removed";
const IDX_ROLE_NAME: &str = "uniq_role_name";

/// A role's members by username: a range of `by_role_username`.
pub fn role_find(role: &str) -> super::presence::UsersFind {
    super::presence::UsersFind {
        filter: doc! { "roles": role },
        sort: doc! { "usernameKey": 1, "_id": 1 },
        index: super::IDX_ROLE_USERNAME,
        counted: true,
    }
}

impl MongoStore {
    fn roles_coll(&self) -> Collection<Document> {
        self.coll(ROLES)
    }

    fn removed_roles_coll(&self) -> Collection<Document> {
        self.coll(REMOVED_ROLES)
    }

    /// Creates the roles' indexes (idempotently).
    pub(super) async fn create_role_indexes(&self) -> StoreResult<()> {
        let name = IndexModel::builder()
            .keys(doc! { "name": 1 })
            .options(
                IndexOptions::builder()
                    .name(IDX_ROLE_NAME.to_string())
                    .unique(true)
                    .build(),
            )
            .build();
        self.roles_coll()
            .create_indexes([name])
            .await
            .map_err(|e| backend(&format!("creating indexes on {}.{ROLES}", self.database), e))?;
        let at = IndexModel::builder()
            .keys(doc! { "_deletedAt": 1 })
            .options(
                IndexOptions::builder()
                    .name("by_deleted".to_string())
                    .build(),
            )
            .build();
        self.removed_roles_coll()
            .create_indexes([at])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{REMOVED_ROLES}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

/// A room's members holding `role` (or any room role), by name: a range of
/// `by_room_roles` (rid, roles, usernameKey, u._id), which only members with a role
/// reach — the room's owners, moderators and leaders, not its membership. Any role
/// is every string in `roles` (`$gte: ""`, an index bound); members without one
/// hold none. Several roles of one member are one answer, sorted (it is small).
pub(super) fn room_role_find(rid: &str, role: Option<&str>) -> (Document, Document, &'static str) {
    let roles = match role {
        Some(role) => Bson::from(role),
        None => Bson::from(doc! { "$gte": "" }),
    };
    (
        doc! { "rid": rid, "roles": roles },
        doc! { "usernameKey": 1, "u._id": 1 },
        super::IDX_ROOM_ROLES,
    )
}

#[async_trait]
impl RoleStore for MongoStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let cursor = self
            .roles_coll()
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .ctx("list roles")?;
        collect(cursor, "role").await
    }

    async fn role(&self, id: &str) -> StoreResult<Option<Role>> {
        self.roles_coll()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find role")?
            .map(|d| from_doc(d, "role"))
            .transpose()
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        self.roles_coll()
            .insert_one(to_doc(role, "role")?)
            .await
            .map_err(|e| {
                write_error(
                    "insert role",
                    e,
                    &[(IDX_ROLE_NAME, "role name"), (IDX_ID, "id")],
                    "id",
                )
            })?;
        Ok(())
    }

    async fn update_role(&self, role: &Role) -> StoreResult<bool> {
        let result = self
            .roles_coll()
            .replace_one(doc! { "_id": &role.id }, to_doc(role, "role")?)
            .await
            .map_err(|e| write_error("update role", e, &[(IDX_ROLE_NAME, "role name")], "id"))?;
        Ok(result.matched_count > 0)
    }

    async fn delete_role(&self, id: &str, at: Ts) -> StoreResult<bool> {
        // The tombstone first: a failure after it leaves a role reported removed
        // that is still there, which the next delete repairs.
        let exists = self.role(id).await?.is_some();
        if !exists {
            return Ok(false);
        }
        self.removed_roles_coll()
            .insert_one(doc! { "role_id": id, "_deletedAt": at.0 })
            .await
            .ctx("insert role tombstone")?;
        let result = self
            .roles_coll()
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete role")?;
        Ok(result.deleted_count > 0)
    }

    async fn removed_roles(&self, since: Ts) -> StoreResult<Vec<RemovedRole>> {
        let mut cursor = self
            .removed_roles_coll()
            .find(doc! { "_deletedAt": { "$gt": since.0 } })
            .sort(doc! { "_deletedAt": 1, "role_id": 1 })
            .await
            .ctx("list removed roles")?;
        let mut out = Vec::new();
        while cursor.advance().await.ctx("removed role")? {
            let raw = cursor.current();
            let id = raw.get_str("role_id").ok().map(str::to_string);
            let at = raw.get_i64("_deletedAt").ok();
            if let (Some(id), Some(at)) = (id, at) {
                out.push(RemovedRole {
                    id,
                    deleted_at: Ts(at),
                });
            }
        }
        Ok(out)
    }

    async fn users_in_role(&self, role: &str, page: Page) -> StoreResult<Listing<User>> {
        let find = role_find(role);
        // A range of `by_role_username`: the role's size, not the user base's.
        let total = self
            .users
            .count_documents(find.filter.clone())
            .hint(Hint::Name(find.index.into()))
            .await
            .ctx("count users in role")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .users
            .find(find.filter)
            .sort(find.sort)
            .hint(Hint::Name(find.index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .projection(user_projection())
            .await
            .ctx("list users in role")?;
        Ok(Listing {
            items: collect(cursor, "user").await?,
            total,
        })
    }

    async fn room_members_in_role(&self, rid: &str, role: &str) -> StoreResult<Vec<Subscription>> {
        let (filter, sort, index) = room_role_find(rid, Some(role));
        let cursor = self
            .subs
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .await
            .ctx("list room members in role")?;
        collect(cursor, "subscription").await
    }

    async fn subscriptions_with_roles(&self, rid: &str) -> StoreResult<Vec<Subscription>> {
        let (filter, sort, index) = room_role_find(rid, None);
        let cursor = self
            .subs
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .await
            .ctx("list room members with roles")?;
        collect(cursor, "subscription").await
    }

    async fn set_subscription_roles(
        &self,
        rid: &str,
        user_id: &str,
        roles: &[String],
        at: Ts,
    ) -> StoreResult<Option<Subscription>> {
        self.subs
            .find_one_and_update(
                doc! { "rid": rid, "u._id": user_id },
                doc! { "$set": { "roles": roles, "_updatedAt": at.0 } },
            )
            .return_document(ReturnDocument::After)
            .await
            .ctx("set subscription roles")?
            .map(|d| from_doc(d, "subscription"))
            .transpose()
    }
}

//! Invite links on MongoDB: collection `invites` (Rocket.Chat's
//! `rocketchat_invite` shape), indexed for the reusable-invite lookup (which also
//! serves a room's invites) and for the listing by creation.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{Hint, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, to_doc, write_error, Ctx, MongoStore, IDX_ID};
use crate::store::invites::{Invite, InviteStore};
use crate::store::{StoreError, StoreResult, Ts};

const INVITES: &str = "invites";
const IDX_REUSE: &str = "by_room_user_uses_days";
const IDX_CREATED: &str = "by_created";

/// How many times a use is retried when other claims keep changing `uses` under
/// it; each retry means another claim succeeded, so this only bounds a storm.
const CLAIM_ATTEMPTS: usize = 64;

impl MongoStore {
    fn invites_coll(&self) -> Collection<Document> {
        self.coll(INVITES)
    }

    /// Creates the invites' indexes (idempotently).
    pub(super) async fn create_invite_indexes(&self) -> StoreResult<()> {
        let reuse = IndexModel::builder()
            .keys(
                doc! { "rid": 1, "userId": 1, "maxUses": 1, "days": 1, "createdAt": -1, "_id": -1 },
            )
            .options(IndexOptions::builder().name(IDX_REUSE.to_string()).build())
            .build();
        let created = IndexModel::builder()
            .keys(doc! { "createdAt": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name(IDX_CREATED.to_string())
                    .build(),
            )
            .build();
        self.invites_coll()
            .create_indexes([reuse, created])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{INVITES}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl InviteStore for MongoStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.invites_coll()
            .insert_one(to_doc(invite, "invite")?)
            .await
            .map_err(|e| write_error("insert invite", e, &[(IDX_ID, "id")], "id"))?;
        Ok(())
    }

    async fn invite_by_id(&self, id: &str) -> StoreResult<Option<Invite>> {
        self.invites_coll()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find invite")?
            .map(|d| from_doc(d, "invite"))
            .transpose()
    }

    async fn reusable_invite(
        &self,
        user_id: &str,
        rid: &str,
        max_uses: i64,
        days: i64,
        now: Ts,
    ) -> StoreResult<Option<Invite>> {
        self.invites_coll()
            .find_one(doc! {
                "rid": rid,
                "userId": user_id,
                "maxUses": max_uses,
                "days": days,
                "$or": [{ "expires": Bson::Null }, { "expires": { "$gt": now.0 } }],
            })
            .sort(doc! { "createdAt": -1, "_id": -1 })
            .hint(Hint::Name(IDX_REUSE.into()))
            .await
            .ctx("find reusable invite")?
            .map(|d| from_doc(d, "invite"))
            .transpose()
    }

    async fn invites(&self) -> StoreResult<Vec<Invite>> {
        let cursor = self
            .invites_coll()
            .find(doc! {})
            .sort(doc! { "createdAt": 1, "_id": 1 })
            .hint(Hint::Name(IDX_CREATED.into()))
            .await
            .ctx("list invites")?;
        collect(cursor, "invite").await
    }

    async fn delete_invite(&self, id: &str) -> StoreResult<bool> {
        let result = self
            .invites_coll()
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete invite")?;
        Ok(result.deleted_count > 0)
    }

    async fn delete_room_invites(&self, rid: &str) -> StoreResult<u64> {
        let result = self
            .invites_coll()
            .delete_many(doc! { "rid": rid })
            .await
            .ctx("delete room invites")?;
        Ok(result.deleted_count)
    }

    async fn claim_invite_use(&self, id: &str, at: Ts) -> StoreResult<Option<Invite>> {
        // Comparing two fields of a document needs `$expr`; instead the use is
        // taken only if `uses` is still what was read (compare-and-set), so the
        // limit checked in between holds.
        for _ in 0..CLAIM_ATTEMPTS {
            let Some(current) = self.invite_by_id(id).await? else {
                return Ok(None);
            };
            if current.exhausted() {
                return Ok(None);
            }
            let claimed = self
                .invites_coll()
                .find_one_and_update(
                    doc! { "_id": id, "uses": current.uses },
                    doc! { "$inc": { "uses": 1_i64 }, "$set": { "_updatedAt": at.0 } },
                )
                .return_document(ReturnDocument::After)
                .await
                .ctx("claim invite use")?;
            if let Some(d) = claimed {
                return from_doc(d, "invite").map(Some);
            }
        }
        Err(StoreError::Backend(format!(
            "invite {id}: its uses kept changing over {CLAIM_ATTEMPTS} attempts"
        )))
    }
}

//! Discussions on MongoDB: a room's discussions (`by_prid_fname`, sparse on
//! `prid`), the messages linking to one (`by_drid`, sparse) and a room's linking
//! messages by time (`by_room_drid_ts`).

use mongodb::bson::{doc, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::IndexModel;

use super::{backend, collect, page_limit, Ctx, MongoStore};
use crate::store::{Listing, Message, Page, Room, StoreResult, Ts};

pub(super) const IDX_PRID: &str = "by_prid_fname";
const IDX_DRID: &str = "by_drid";
pub(super) const IDX_ROOM_DISCUSSIONS: &str = "by_room_drid_ts";

impl MongoStore {
    pub(super) async fn create_discussion_indexes(&self) -> StoreResult<()> {
        let sparse = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_string())
                        .sparse(true)
                        .build(),
                )
                .build()
        };
        self.rooms
            .create_indexes([sparse(doc! { "prid": 1, "fname": 1, "_id": 1 }, IDX_PRID)])
            .await
            .map_err(|e| backend("creating discussion indexes", e))?;
        self.messages
            .create_indexes([
                sparse(doc! { "drid": 1 }, IDX_DRID),
                IndexModel::builder()
                    .keys(doc! { "rid": 1, "drid": 1, "ts": -1, "_id": -1 })
                    .options(
                        IndexOptions::builder()
                            .name(IDX_ROOM_DISCUSSIONS.to_string())
                            .build(),
                    )
                    .build(),
            ])
            .await
            .map_err(|e| backend("creating discussion indexes", e))?;
        Ok(())
    }

    pub(super) async fn discussions_of(
        &self,
        prid: &str,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        self.rooms_page(
            doc! { "prid": prid },
            IDX_PRID,
            doc! { "fname": 1, "_id": 1 },
            page,
        )
        .await
    }

    pub(super) async fn refresh_discussion_link(
        &self,
        drid: &str,
        activity: Option<(i64, Option<Ts>)>,
        at: Ts,
    ) -> StoreResult<Option<Message>> {
        let linking = self
            .messages
            .find_one(doc! { "drid": drid })
            .projection(doc! { "_id": 1 })
            .await
            .ctx("find discussion link")?;
        let Some(id) = linking.and_then(|d| d.get_str("_id").ok().map(str::to_string)) else {
            return Ok(None);
        };
        let update = match activity {
            Some((count, Some(lm))) => {
                doc! { "$set": { "dcount": count, "dlm": lm.0, "_updatedAt": at.0 } }
            }
            Some((count, None)) => doc! {
                "$set": { "dcount": count, "_updatedAt": at.0 },
                "$unset": { "dlm": "" },
            },
            None => doc! {
                "$set": { "_updatedAt": at.0 },
                "$unset": { "drid": "", "dcount": "", "dlm": "" },
            },
        };
        self.change_one(&id, update).await
    }
}

const IDX_TEAM: &str = "by_team_name";
const IDX_TEAM_MAIN: &str = "by_team_main_name";

/// Teams on MongoDB: a team's rooms (`by_team_name`, sparse on `teamId`) and the
/// main rooms (`by_team_main_name`, sparse on `teamMain`).
impl MongoStore {
    pub(super) async fn create_team_indexes(&self) -> StoreResult<()> {
        let sparse = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_string())
                        .sparse(true)
                        .build(),
                )
                .build()
        };
        self.rooms
            .create_indexes([
                sparse(doc! { "teamId": 1, "nameKey": 1, "_id": 1 }, IDX_TEAM),
                sparse(
                    doc! { "teamMain": 1, "nameKey": 1, "_id": 1 },
                    IDX_TEAM_MAIN,
                ),
            ])
            .await
            .map_err(|e| backend("creating team indexes", e))?;
        Ok(())
    }

    /// A page of the rooms `filter` selects, in `sort` order (a range of `index`),
    /// and their total.
    async fn rooms_page(
        &self,
        filter: Document,
        index: &str,
        sort: Document,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        let total = self
            .rooms
            .count_documents(filter.clone())
            .hint(Hint::Name(index.to_string()))
            .await
            .ctx("count rooms")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .rooms
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.to_string()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list rooms")?;
        Ok(Listing {
            items: collect(cursor, "room").await?,
            total,
        })
    }

    pub(super) async fn rooms_of_team(
        &self,
        team_id: &str,
        page: Page,
    ) -> StoreResult<Listing<Room>> {
        self.rooms_page(doc! { "teamId": team_id }, IDX_TEAM, by_name(), page)
            .await
    }

    pub(super) async fn main_room_of_team(&self, team_id: &str) -> StoreResult<Option<Room>> {
        let found = self
            .rooms
            .find_one(doc! { "teamId": team_id, "teamMain": true })
            .await
            .ctx("find team main room")?;
        found.map(|d| super::from_doc(d, "room")).transpose()
    }

    pub(super) async fn main_rooms(&self, page: Page) -> StoreResult<Listing<Room>> {
        self.rooms_page(doc! { "teamMain": true }, IDX_TEAM_MAIN, by_name(), page)
            .await
    }
}

/// Team rooms' order: by name (the key the team indexes end with).
fn by_name() -> Document {
    doc! { "nameKey": 1, "_id": 1 }
}

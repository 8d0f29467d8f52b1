//! The query plans (`explain`, `queryPlanner`) of the finds requests make, built by
//! the very functions the store sends them with: the conformance suite checks each
//! is an index scan of the index meant for it.

use mongodb::bson::{doc, Document};

use super::search::probe_grams;
use super::{page_limit, Ctx, MongoStore};
use crate::store::outbox::OutboxKind;
use crate::store::presence::StatusQuery;
use crate::store::settings_audit::SettingChangeQuery;
use crate::store::{Page, RoomKinds, RoomMatch, RoomType, Sort, StoreResult};

/// A find the store makes, by what it is for.
#[derive(Clone, Debug)]
pub enum Planned<'a> {
    /// `list_users` (`users.list`).
    Users { filter: Option<&'a str>, sort: Sort },
    /// `list_users` for a rare term (read through `by_search_grams`, by the term's
    /// first gram: which gram is the rarest is the data's).
    UsersSearch { term: &'a str, sort: Sort },
    /// `list_rooms` for a rare name term, as [`Planned::UsersSearch`].
    RoomsSearch {
        types: &'a [RoomType],
        term: &'a str,
        sort: Sort,
    },
    /// `users_by_status` (`users.listByStatus`) with a rare search term.
    StatusSearch(&'a StatusQuery),
    /// `list_rooms` (`channels.list`, the directory).
    Rooms {
        types: &'a [RoomType],
        filter: Option<&'a str>,
        sort: Sort,
    },
    /// `room_subscriptions` (`channels.members`).
    Members { rid: &'a str },
    /// `room_members_in_role` (`role: Some`) or `subscriptions_with_roles`
    /// (`channels.roles`).
    RoomRoles { rid: &'a str, role: Option<&'a str> },
    /// `users_of_service` (the directory sync).
    UsersOfService { service: &'a str },
    /// `room_uploads` (`channels.files`).
    RoomUploads { rid: &'a str, name: Option<&'a str> },
    /// `dead_outbox` (the admin's dead letters).
    DeadOutbox { kind: Option<OutboxKind> },
    /// `setting_changes` (the settings audit).
    SettingChanges(&'a SettingChangeQuery),
    /// `app_logs` (an app's logs).
    AppLogs { app_id: &'a str, min_level: i64 },
}

impl MongoStore {
    /// The plan MongoDB chooses for `what`, a page `page` of it.
    pub async fn explain(&self, what: Planned<'_>, page: Page) -> StoreResult<Document> {
        let (coll, (filter, sort, index)) = match what {
            Planned::Users { filter, sort } => {
                (super::USERS, super::users::users_find(filter, sort, None))
            }
            Planned::UsersSearch { term, sort } => {
                let gram = probe_grams(term).into_iter().next();
                (
                    super::USERS,
                    super::users::users_find(Some(term), sort, gram.as_deref()),
                )
            }
            Planned::RoomsSearch { types, term, sort } => {
                let gram = probe_grams(term).into_iter().next();
                (
                    super::ROOMS,
                    super::rooms::rooms_find(
                        types,
                        Some(RoomMatch {
                            term,
                            display_names: false,
                        }),
                        RoomKinds::ALL,
                        sort,
                        gram.as_deref(),
                    ),
                )
            }
            Planned::StatusSearch(q) => {
                let term = q.search.as_deref().unwrap_or_default();
                let gram = probe_grams(term).into_iter().next();
                let find = super::presence::status_find(q, gram.as_deref());
                (super::USERS, (find.filter, find.sort, find.index))
            }
            Planned::Rooms {
                types,
                filter,
                sort,
            } => (
                super::ROOMS,
                super::rooms::rooms_find(
                    types,
                    filter.map(|term| RoomMatch {
                        term,
                        display_names: false,
                    }),
                    RoomKinds::ALL,
                    sort,
                    None,
                ),
            ),
            Planned::Members { rid } => (super::SUBSCRIPTIONS, super::rooms::members_find(rid)),
            Planned::RoomRoles { rid, role } => (
                super::SUBSCRIPTIONS,
                super::roles::room_role_find(rid, role),
            ),
            Planned::UsersOfService { service } => {
                let (filter, index) = super::users::service_find(service);
                (super::USERS, (filter, Document::new(), index))
            }
            Planned::RoomUploads { rid, name } => {
                ("uploads", super::uploads::room_uploads_find(rid, name))
            }
            Planned::DeadOutbox { kind } => ("outbox", super::outbox::dead_find(kind)),
            Planned::SettingChanges(q) => ("setting_changes", super::settings_audit::audit_find(q)),
            Planned::AppLogs { app_id, min_level } => {
                ("app_logs", super::apps::app_logs_find(app_id, min_level))
            }
        };
        let mut find = doc! { "find": coll, "filter": filter, "hint": index };
        if !sort.is_empty() {
            find.insert("sort", sort);
        }
        if page.offset > 0 {
            find.insert("skip", i64::try_from(page.offset).unwrap_or(i64::MAX));
        }
        if page.count > 0 {
            find.insert("limit", page_limit(page));
        }
        self.client
            .database(&self.database)
            .run_command(doc! { "explain": find, "verbosity": "queryPlanner" })
            .await
            .ctx("explain")
    }
}

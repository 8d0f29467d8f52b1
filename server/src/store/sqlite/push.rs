//! Push devices on SQLite: table `push_devices` (one JSON document per device, the
//! token or endpoint unique), and `push_keys`.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_doc, query_docs, to_json, SqliteStore};
use crate::store::push::{PushDevice, PushDeviceFilter, PushStore};
use crate::store::StoreResult;

#[async_trait]
impl PushStore for SqliteStore {
    async fn save_push_device(&self, device: &PushDevice) -> StoreResult<()> {
        let (id, user, value, auth, at, doc) = (
            device.id.clone(),
            device.user_id.clone(),
            device.token.value().to_string(),
            device.auth_token.clone(),
            device.created_at.0,
            to_json(device)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "DELETE FROM push_devices WHERE value = ?1 AND id <> ?2",
                params![value, id],
            )?;
            exec(
                conn,
                "INSERT INTO push_devices (id, user_id, value, auth_token, created_at, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET \
                 user_id = excluded.user_id, value = excluded.value, \
                 auth_token = excluded.auth_token, doc = excluded.doc",
                params![id, user, value, auth, at, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn push_device(&self, id: &str) -> StoreResult<Option<PushDevice>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM push_devices WHERE id = ?1", [&id]))
            .await
    }

    async fn push_devices_of_user(&self, user_id: &str) -> StoreResult<Vec<PushDevice>> {
        let user = user_id.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM push_devices WHERE user_id = ?1 ORDER BY created_at, id",
                [&user],
            )
        })
        .await
    }

    async fn push_devices_of_users(&self, user_ids: &[String]) -> StoreResult<Vec<PushDevice>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(user_ids).map_err(super::backend)?;
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM push_devices
                 WHERE user_id IN (SELECT value FROM json_each(?1))
                 ORDER BY created_at, id",
                [&ids],
            )
        })
        .await
    }

    async fn delete_push_devices(&self, filter: &PushDeviceFilter) -> StoreResult<u64> {
        let filter = filter.clone();
        self.write(move |conn| {
            let n = match &filter {
                PushDeviceFilter::Id(id) => {
                    exec(conn, "DELETE FROM push_devices WHERE id = ?1", [id])?
                }
                PushDeviceFilter::Value {
                    value,
                    user_id: None,
                } => exec(conn, "DELETE FROM push_devices WHERE value = ?1", [value])?,
                PushDeviceFilter::Value {
                    value,
                    user_id: Some(user),
                } => exec(
                    conn,
                    "DELETE FROM push_devices WHERE value = ?1 AND user_id = ?2",
                    params![value, user],
                )?,
                PushDeviceFilter::AuthToken(hash) => exec(
                    conn,
                    "DELETE FROM push_devices WHERE auth_token = ?1",
                    [hash],
                )?,
                PushDeviceFilter::User(user) => {
                    exec(conn, "DELETE FROM push_devices WHERE user_id = ?1", [user])?
                }
            };
            Ok(n as u64)
        })
        .await
    }

    async fn push_key(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let (name, candidate) = (name.to_string(), candidate.to_string());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO push_keys (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, candidate],
            )?;
            let value: Option<String> = conn
                .query_row(
                    "SELECT value FROM push_keys WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .map_err(super::backend)
                .ok();
            Ok(value.unwrap_or(candidate))
        })
        .await
    }
}

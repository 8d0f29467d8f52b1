//! Job leases on MongoDB: collection `job_leases`, one document per job (`_id` =
//! the job's name). Taking a lease is one conditional upsert: when another owner
//! holds an unexpired lease the filter misses and the upsert's insert clashes with
//! the existing `_id`, which reads as "held".

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

use super::{is_duplicate, Ctx, MongoStore};
use crate::store::job_leases::{JobLeaseStore, JobState};
use crate::store::{StoreResult, Ts};

const JOB_LEASES: &str = "job_leases";

impl MongoStore {
    fn job_leases_coll(&self) -> Collection<Document> {
        self.coll(JOB_LEASES)
    }
}

#[async_trait]
impl JobLeaseStore for MongoStore {
    async fn job_state(&self, name: &str) -> StoreResult<Option<JobState>> {
        let found = self
            .job_leases_coll()
            .find_one(doc! { "_id": name })
            .await
            .ctx("read job lease")?;
        Ok(found.map(|d| JobState {
            owner: d.get_str("owner").unwrap_or_default().to_string(),
            until: Ts(d.get_i64("until").unwrap_or_default()),
            last_run: d.get_i64("lastRun").ok().map(Ts),
            report: d
                .get_str("report")
                .ok()
                .and_then(|t| serde_json::from_str(t).ok()),
        }))
    }

    async fn try_job_lease(
        &self,
        name: &str,
        owner: &str,
        now: Ts,
        until: Ts,
    ) -> StoreResult<bool> {
        let result = self
            .job_leases_coll()
            .update_one(
                doc! { "_id": name, "$or": [ { "owner": owner }, { "until": { "$lte": now.0 } } ] },
                doc! { "$set": { "owner": owner, "until": until.0 } },
            )
            .upsert(true)
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(e).ctx("take job lease"),
        }
    }

    async fn finish_job_lease(
        &self,
        name: &str,
        owner: &str,
        last_run: Ts,
        report: &serde_json::Value,
    ) -> StoreResult<()> {
        self.job_leases_coll()
            .update_one(
                doc! { "_id": name, "owner": owner },
                doc! { "$set": { "until": 0_i64, "lastRun": last_run.0, "report": Bson::String(report.to_string()) } },
            )
            .await
            .ctx("finish job")?;
        Ok(())
    }
}

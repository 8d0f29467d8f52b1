//! Data export operations: inserted, found by id and as a person's latest of a
//! kind, rewritten as they progress.

use palaver_server::store::exports::{ExportOperation, ExportStatus};
use palaver_server::store::{DynStore, Ts};

use super::assert_conflict;

fn op(id: &str, uid: &str, full: bool, at: i64) -> ExportOperation {
    ExportOperation {
        id: id.into(),
        user_id: uid.into(),
        status: ExportStatus::Pending,
        full_export: full,
        created_at: Ts(at),
        updated_at: Ts(at),
        file_id: None,
    }
}

pub async fn export_operations(store: DynStore) {
    assert_eq!(store.last_export("u-a", false).await.unwrap(), None);
    for o in [
        op("e-1", "u-a", false, 1_000),
        op("e-2", "u-a", false, 2_000),
        op("e-3", "u-a", true, 3_000),
        op("e-4", "u-b", false, 4_000),
    ] {
        store.insert_export(&o).await.unwrap();
    }
    assert_conflict(store.insert_export(&op("e-1", "u-c", false, 5)).await, "id");
    let last = |uid: &'static str, full: bool| {
        let store = store.clone();
        async move { store.last_export(uid, full).await.unwrap().map(|o| o.id) }
    };
    assert_eq!(last("u-a", false).await.as_deref(), Some("e-2"));
    assert_eq!(last("u-a", true).await.as_deref(), Some("e-3"));
    assert_eq!(last("u-b", true).await, None);

    let mut done = store.export_by_id("e-2").await.unwrap().expect("e-2");
    assert_eq!(done, op("e-2", "u-a", false, 2_000));
    done.status = ExportStatus::Completed;
    done.file_id = Some("f-1".into());
    done.updated_at = Ts(9_000);
    assert!(store.update_export(&done).await.unwrap());
    assert_eq!(store.export_by_id("e-2").await.unwrap(), Some(done));
    assert!(!store
        .update_export(&op("e-none", "u-a", false, 1))
        .await
        .unwrap());
    assert_eq!(store.export_by_id("e-none").await.unwrap(), None);
}

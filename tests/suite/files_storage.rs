//! Object storage conformance: one set of cases run against every backend — a local
//! directory, S3 (`rclone serve s3`) and WebDAV (`rclone serve webdav`). Each case is
//! a test per backend: `files_storage::{local,s3,webdav}::<case>`.

use std::io;

use bytes::Bytes;
use futures::TryStreamExt;
use palaver_server::files::{ByteRange, ByteStream, FilesError, Storage, StorageConfig};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// A storage to test and what keeps it alive.
pub struct Fixture {
    pub storage: Storage,
    pub config: StorageConfig,
    _dir: Option<TempDir>,
}

impl Fixture {
    fn open(config: StorageConfig, dir: Option<TempDir>) -> Fixture {
        let storage = Storage::open(&config).expect("open storage");
        Fixture {
            storage,
            config,
            _dir: dir,
        }
    }

    pub fn local() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("uploads");
        Fixture::open(StorageConfig::Local { root }, Some(dir))
    }

    pub fn s3() -> Fixture {
        Fixture::open(
            StorageConfig::S3(palaver_tests::rclone::s3().config()),
            None,
        )
    }

    pub fn webdav() -> Fixture {
        Fixture::open(
            StorageConfig::WebDav(palaver_tests::rclone::webdav().config()),
            None,
        )
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::s3()).await;
                }
            )*
        }
        mod webdav {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::webdav()).await;
                }
            )*
        }
    };
}

conformance! {
    put_get_delete,
    streamed_large_object,
    range_reads,
    size_limit_leaves_nothing,
    broken_body_leaves_nothing,
    hostile_and_unicode_keys,
    damaged_object_detected,
    wrong_credentials,
    probe,
}

fn body_of(data: Vec<u8>, chunk: usize) -> ByteStream {
    let chunks: Vec<io::Result<Bytes>> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// `len` bytes of a pattern that differs at every offset (so ranges are checked).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

async fn read(
    storage: &Storage,
    key: &str,
    range: Option<ByteRange>,
) -> Result<(u64, Vec<u8>), FilesError> {
    let read = storage.get(key, range, None).await?;
    let mut out = Vec::new();
    let mut body = read.body;
    while let Some(chunk) = body.try_next().await.expect("read body") {
        out.extend_from_slice(&chunk);
    }
    Ok((read.size, out))
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn put_get_delete(f: Fixture) {
    let data = b"hello, files".to_vec();
    let stored = f
        .storage
        .put("uploads/a.txt", body_of(data.clone(), 5), None)
        .await
        .unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.sha256, sha(&data));
    assert_eq!(
        read(&f.storage, "uploads/a.txt", None).await.unwrap(),
        (12, data.clone())
    );
    // Overwrite replaces.
    f.storage
        .put("uploads/a.txt", body_of(b"v2".to_vec(), 1), None)
        .await
        .unwrap();
    assert_eq!(
        read(&f.storage, "uploads/a.txt", None).await.unwrap().1,
        b"v2"
    );
    f.storage.delete("uploads/a.txt").await.unwrap();
    assert!(matches!(
        read(&f.storage, "uploads/a.txt", None).await,
        Err(FilesError::NotFound(_))
    ));
    // Deleting what is not there is fine; reading it is NotFound.
    f.storage.delete("uploads/a.txt").await.unwrap();
    f.storage.delete("never/was").await.unwrap();
    assert!(matches!(
        read(&f.storage, "never/was", None).await,
        Err(FilesError::NotFound(_))
    ));
    // An empty object is an object. (`rclone serve s3` refuses zero-length PUTs with
    // 411 MissingContentLength whatever the headers, so the S3 peer cannot show it.)
    if matches!(f.config, StorageConfig::S3(_)) {
        return;
    }
    let empty = f
        .storage
        .put("uploads/empty", body_of(Vec::new(), 1), None)
        .await
        .unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(
        read(&f.storage, "uploads/empty", None).await.unwrap(),
        (0, Vec::new())
    );

    f.storage.delete("uploads/empty").await.unwrap();
}

async fn streamed_large_object(f: Fixture) {
    // 20 MiB in 64 KiB chunks: several S3 parts.
    let data = pattern(20 * 1024 * 1024 + 123);
    let stored = f
        .storage
        .put(
            "big/object.bin",
            body_of(data.clone(), 64 * 1024),
            Some(64 * 1024 * 1024),
        )
        .await
        .unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.sha256, sha(&data));
    let (size, back) = read(&f.storage, "big/object.bin", None).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(sha(&back), stored.sha256);
    // A range far into the object.
    let r = ByteRange {
        start: 17 * 1024 * 1024 + 5,
        end: 17 * 1024 * 1024 + 5 + 999,
    };
    let (_, part) = read(&f.storage, "big/object.bin", Some(r)).await.unwrap();
    assert_eq!(part, data[r.start as usize..=r.end as usize]);
    f.storage.delete("big/object.bin").await.unwrap();
}

async fn range_reads(f: Fixture) {
    let data = pattern(1000);
    f.storage
        .put("r/x", body_of(data.clone(), 100), None)
        .await
        .unwrap();
    for (start, end) in [(0, 0), (0, 999), (10, 19), (999, 999), (500, 998)] {
        let (size, part) = read(&f.storage, "r/x", Some(ByteRange { start, end }))
            .await
            .unwrap();
        assert_eq!(size, 1000, "whole size reported for {start}-{end}");
        assert_eq!(part, data[start as usize..=end as usize], "{start}-{end}");
    }
    // Past the end: refused with the size (checked against the recorded size).
    let past = f
        .storage
        .get(
            "r/x",
            Some(ByteRange {
                start: 1000,
                end: 1005,
            }),
            Some(1000),
        )
        .await;
    assert!(matches!(
        past,
        Err(FilesError::RangeNotSatisfiable { size: 1000 })
    ));
    // And by the backend itself when no size is known.
    let past = f
        .storage
        .get(
            "r/x",
            Some(ByteRange {
                start: 1000,
                end: 1005,
            }),
            None,
        )
        .await;
    assert!(
        matches!(past, Err(FilesError::RangeNotSatisfiable { .. })),
        "{:?}",
        past.err()
    );
    // A range of a missing object is NotFound.
    assert!(matches!(
        f.storage
            .get("r/none", Some(ByteRange { start: 0, end: 1 }), None)
            .await,
        Err(FilesError::NotFound(_))
    ));
    f.storage.delete("r/x").await.unwrap();
}

async fn size_limit_leaves_nothing(f: Fixture) {
    // Just at the limit is fine.
    let ok = f
        .storage
        .put("lim/exact", body_of(pattern(1000), 64), Some(1000))
        .await;
    assert_eq!(ok.unwrap().size, 1000);
    // One byte over, small (single request) and large (S3 multipart), and over a
    // previous object: refused, nothing under the key (the old object stays).
    for (key, len, limit) in [
        ("lim/small", 1001, 1000),
        ("lim/large", 12 * 1024 * 1024, 10 * 1024 * 1024),
        ("lim/exact", 2000, 1000),
    ] {
        let err = f
            .storage
            .put(key, body_of(pattern(len), 64 * 1024), Some(limit))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FilesError::TooLarge { limit: l } if l == limit),
            "{err}"
        );
    }
    for key in ["lim/small", "lim/large"] {
        assert!(
            matches!(
                read(&f.storage, key, None).await,
                Err(FilesError::NotFound(_))
            ),
            "{key} left behind"
        );
    }
    assert_eq!(read(&f.storage, "lim/exact", None).await.unwrap().0, 1000);
    f.storage.delete("lim/exact").await.unwrap();
}

async fn broken_body_leaves_nothing(f: Fixture) {
    for (key, before) in [("brk/small", 1000), ("brk/large", 9 * 1024 * 1024)] {
        let head = Bytes::from(pattern(before));
        let body: ByteStream = Box::pin(futures::stream::iter(vec![
            Ok(head),
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            )),
        ]));
        assert!(f.storage.put(key, body, None).await.is_err(), "{key}");
        assert!(
            matches!(
                read(&f.storage, key, None).await,
                Err(FilesError::NotFound(_))
            ),
            "{key} left behind"
        );
    }
}

async fn hostile_and_unicode_keys(f: Fixture) {
    let keys = [
        "ünïcødé/файл 名前 (1).txt",
        "q/a?b#c%d&e+f;g=h 'i\"j<k>l|m*n",
        "q/%2e%2e%2fescape",
        "q/..dots../.hidden",
        "q/emoji 🎉.png",
    ];
    for (i, key) in keys.iter().enumerate() {
        f.storage
            .put(key, body_of(format!("object {i}").into_bytes(), 3), None)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    // Each reads back as itself: nothing collided or was rewritten.
    for (i, key) in keys.iter().enumerate() {
        let (_, back) = read(&f.storage, key, None)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(back, format!("object {i}").into_bytes(), "{key}");
    }
    // Keys that could escape or mean different things on different backends.
    for key in [
        "../escape",
        "a/../../etc/passwd",
        "/abs",
        "a//b",
        "a\\b",
        "a\0b",
        "",
    ] {
        let err = f.storage.put(key, body_of(b"x".to_vec(), 1), None).await;
        assert!(matches!(err, Err(FilesError::InvalidKey { .. })), "{key:?}");
        assert!(matches!(
            f.storage.get(key, None, None).await,
            Err(FilesError::InvalidKey { .. })
        ));
        assert!(matches!(
            f.storage.delete(key).await,
            Err(FilesError::InvalidKey { .. })
        ));
    }
    for key in keys {
        f.storage.delete(key).await.unwrap();
        assert!(matches!(
            read(&f.storage, key, None).await,
            Err(FilesError::NotFound(_))
        ));
    }
}

async fn damaged_object_detected(f: Fixture) {
    f.storage
        .put("dmg/x", body_of(pattern(100), 10), None)
        .await
        .unwrap();
    // The store recorded another size: the object was half-written or replaced.
    let err = f
        .storage
        .get("dmg/x", None, Some(200))
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, FilesError::Damaged { .. }), "{err}");
    assert!(
        err.to_string().contains("100 bytes stored, 200 recorded"),
        "{err}"
    );
    assert!(f.storage.get("dmg/x", None, Some(100)).await.is_ok());
    f.storage.delete("dmg/x").await.unwrap();
}

async fn wrong_credentials(f: Fixture) {
    let broken = match &f.config {
        StorageConfig::Local { root } => {
            // The local equivalent: the root is not a usable directory.
            std::fs::create_dir_all(root.parent().unwrap()).unwrap();
            let file = root.parent().unwrap().join("not-a-dir");
            std::fs::write(&file, b"x").unwrap();
            StorageConfig::Local { root: file }
        }
        StorageConfig::S3(c) => {
            let mut c = c.clone();
            c.secret_key = "wrong-secret".into();
            StorageConfig::S3(c)
        }
        StorageConfig::WebDav(c) => {
            let mut c = c.clone();
            c.password = "wrong-password".into();
            StorageConfig::WebDav(c)
        }
    };
    let storage = Storage::open(&broken).unwrap();
    let err = storage
        .put("cred/x", body_of(b"x".to_vec(), 1), None)
        .await
        .unwrap_err();
    let remote = !matches!(f.config, StorageConfig::Local { .. });
    if remote {
        assert!(matches!(err, FilesError::Denied { .. }), "{err}");
    } else {
        assert!(matches!(err, FilesError::Backend { .. }), "{err}");
    }
    let probe = storage.probe().await.unwrap_err().to_string();
    assert!(!probe.is_empty());
    if remote {
        // The backend's own reason reaches the admin.
        assert!(probe.contains("401") || probe.contains("403"), "{probe}");
        assert!(matches!(
            storage.get("cred/x", None, None).await,
            Err(FilesError::Denied { .. })
        ));
    }
}

async fn probe(f: Fixture) {
    f.storage.probe().await.unwrap();
}

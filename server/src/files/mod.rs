//! Object storage for uploaded files: one interface, three backends (a local
//! directory, any S3-compatible service, WebDAV). A layer beside `store`: it knows
//! nothing of rooms or messages; `chat` records what it stored in the store.
//!
//! Guarantees every backend gives:
//! - `put` streams: the body is never held whole (S3 buffers one part, 8 MiB);
//! - an object is visible whole or not at all: a failed or refused `put` (body error,
//!   size limit) leaves nothing under the key;
//! - `get` of a missing key is [`FilesError::NotFound`]; ranges are served by the
//!   backend, not by skipping bytes here.

mod local;
mod s3;
mod webdav;

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::Stream;
use sha2::{Digest, Sha256};

pub use s3::S3Config;
pub use webdav::WebDavConfig;

/// A body flowing in or out of the storage.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Longest key accepted (S3's own limit).
const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("object {0:?} not found")]
    NotFound(String),
    /// The body grew past the limit; nothing was stored.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("requested range not satisfiable (object size {size})")]
    RangeNotSatisfiable { size: u64 },
    /// The stored object is not what the store recorded (half-written, truncated or
    /// replaced behind our back).
    #[error("object {key:?} is damaged: {detail}")]
    Damaged { key: String, detail: String },
    /// The backend refused our credentials or permissions.
    #[error("{backend} storage refused access during {op}: {detail}")]
    Denied {
        backend: &'static str,
        op: &'static str,
        detail: String,
    },
    #[error("{backend} storage failed during {op}: {detail}")]
    Backend {
        backend: &'static str,
        op: &'static str,
        detail: String,
    },
    /// Reading the incoming body failed (the client went away).
    #[error("reading the upload failed: {0}")]
    Body(#[source] io::Error),
}

pub type FilesResult<T> = Result<T, FilesError>;

/// An inclusive byte range, already resolved against the object's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// An object being read: its whole size and the requested bytes.
pub struct ObjectRead {
    /// Size of the whole object (not of the range).
    pub size: u64,
    pub body: ByteStream,
}

/// What `put` stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// One storage backend. Keys reaching it are valid (see [`validate_key`]).
#[async_trait]
pub(crate) trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    /// Stores the whole body under `key` or nothing (on a body error the partial
    /// object is removed and the body's error returned).
    async fn put(&self, key: &str, body: ByteStream) -> FilesResult<()>;
    async fn get(&self, key: &str, range: Option<ByteRange>) -> FilesResult<ObjectRead>;
    /// Removes the object; a missing object is not an error.
    async fn delete(&self, key: &str) -> FilesResult<()>;
    /// The unfinished uploads under `key_prefix` the service keeps apart from the
    /// objects (S3's incomplete multipart uploads: stored and billed, invisible as
    /// objects). Backends that leave nothing outside their keys have none.
    async fn unfinished_uploads(&self, _key_prefix: &str) -> FilesResult<Vec<Unfinished>> {
        Ok(Vec::new())
    }
    /// Aborts one of them (gone already is not an error).
    async fn abort_unfinished(&self, _upload: &Unfinished) -> FilesResult<()> {
        Ok(())
    }
}

/// An upload the service holds unfinished (an S3 multipart upload never completed
/// nor aborted: what a crash in the middle of a large upload leaves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    /// The object key it was for (without the backend's configured prefix).
    pub key: String,
    /// The service's id of the upload.
    pub upload_id: String,
    /// When it was started, if the service says.
    pub started: Option<std::time::SystemTime>,
}

/// Where objects live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Local { root: PathBuf },
    S3(S3Config),
    WebDav(WebDavConfig),
}

/// A handle on the configured object storage (cheap to clone).
#[derive(Clone)]
pub struct Storage {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("backend", &self.backend.name())
            .finish()
    }
}

impl Storage {
    /// Builds the backend; fails on a malformed configuration (no I/O yet).
    pub fn open(config: &StorageConfig) -> FilesResult<Storage> {
        let backend: Arc<dyn Backend> = match config {
            StorageConfig::Local { root } => Arc::new(local::Local::new(root.clone())),
            StorageConfig::S3(c) => Arc::new(s3::S3::new(c)?),
            StorageConfig::WebDav(c) => Arc::new(webdav::WebDav::new(c)?),
        };
        Ok(Storage { backend })
    }

    /// `local`, `s3` or `webdav`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Streams `body` into the object `key`, refusing it past `limit` bytes;
    /// returns its size and sha256.
    pub async fn put(
        &self,
        key: &str,
        body: ByteStream,
        limit: Option<u64>,
    ) -> FilesResult<Stored> {
        validate_key(key)?;
        let meter = Arc::new(Mutex::new(Meter::default()));
        let metered = Metered {
            inner: body,
            limit,
            meter: meter.clone(),
        };
        // Fused: a backend may poll once more after the end.
        let outcome = self
            .backend
            .put(key, Box::pin(futures::StreamExt::fuse(metered)))
            .await;
        let mut meter = meter.lock().unwrap_or_else(|p| p.into_inner());
        if meter.exceeded {
            if let Some(limit) = limit {
                return Err(FilesError::TooLarge { limit });
            }
        }
        outcome?;
        let sha256 = hex::encode(std::mem::take(&mut meter.hasher).finalize());
        Ok(Stored {
            size: meter.size,
            sha256,
        })
    }

    /// Reads the object (or a range of it). With `expected_size` (what the store
    /// recorded), an object of another size is [`FilesError::Damaged`].
    pub async fn get(
        &self,
        key: &str,
        range: Option<ByteRange>,
        expected_size: Option<u64>,
    ) -> FilesResult<ObjectRead> {
        validate_key(key)?;
        if let (Some(r), Some(size)) = (range, expected_size) {
            if r.start > r.end || r.end >= size {
                return Err(FilesError::RangeNotSatisfiable { size });
            }
        }
        let read = self.backend.get(key, range).await?;
        if let Some(expected) = expected_size {
            if read.size != expected {
                return Err(FilesError::Damaged {
                    key: key.to_string(),
                    detail: format!(
                        "{} bytes stored, {expected} recorded (half-written or replaced)",
                        read.size
                    ),
                });
            }
        }
        Ok(read)
    }

    /// Reads the whole object into memory (probes and small objects only).
    pub async fn read_all(&self, key: &str, max: u64) -> FilesResult<Vec<u8>> {
        use futures::TryStreamExt;
        let read = self.get(key, None, None).await?;
        if read.size > max {
            return Err(FilesError::TooLarge { limit: max });
        }
        let mut out = Vec::with_capacity(read.size as usize);
        let mut body = read.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| FilesError::Backend {
            backend: self.backend.name(),
            op: "read",
            detail: e.to_string(),
        })? {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > max {
                return Err(FilesError::TooLarge { limit: max });
            }
        }
        Ok(out)
    }

    /// Deletes the object; deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> FilesResult<()> {
        validate_key(key)?;
        self.backend.delete(key).await
    }

    /// The unfinished uploads under `key_prefix` (S3's incomplete multipart
    /// uploads; none on the other backends).
    pub async fn unfinished_uploads(&self, key_prefix: &str) -> FilesResult<Vec<Unfinished>> {
        self.backend.unfinished_uploads(key_prefix).await
    }

    /// Aborts the unfinished uploads under `key_prefix` started more than `max_age`
    /// ago (a crash's leftovers: a live upload finishes or aborts its own); returns
    /// how many. One whose start the service does not tell is left alone.
    pub async fn abort_stale_uploads(
        &self,
        key_prefix: &str,
        max_age: std::time::Duration,
    ) -> FilesResult<u64> {
        let before = std::time::SystemTime::now()
            .checked_sub(max_age)
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut aborted = 0;
        for upload in self.backend.unfinished_uploads(key_prefix).await? {
            if upload.started.is_some_and(|t| t < before) {
                self.backend.abort_unfinished(&upload).await?;
                tracing::info!(key = %upload.key, upload_id = %upload.upload_id, backend = self.backend.name(), "unfinished upload aborted");
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    /// Writes, reads back and deletes a probe object: the admin's "test connection".
    /// The error names the step that failed and the backend's own message.
    pub async fn probe(&self) -> FilesResult<()> {
        let key = format!("palaver-probe/{}", hex::encode(rand::random::<[u8; 8]>()));
        let payload = Bytes::from_static(b"palaver storage probe");
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(payload.clone())]));
        self.put(&key, body, None).await?;
        let back = self.read_all(&key, 1024).await;
        let deleted = self.delete(&key).await;
        let back = back?;
        if back != payload {
            return Err(FilesError::Damaged {
                key,
                detail: "the probe read back differs from what was written".into(),
            });
        }
        deleted
    }
}

/// Refuses keys no backend can hold the same way: empty, too long, control
/// characters, absolute, `.`/`..` or empty segments, backslashes.
pub fn validate_key(key: &str) -> FilesResult<()> {
    let bad = |reason| {
        Err(FilesError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.chars().any(|c| c.is_control()) {
        return bad("control character");
    }
    if key.contains('\\') {
        return bad("backslash");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("empty, `.` or `..` path segment");
    }
    Ok(())
}

#[derive(Default)]
struct Meter {
    size: u64,
    hasher: Sha256,
    exceeded: bool,
}

/// Counts and hashes the body as it flows, and ends it with an error past the limit.
struct Metered {
    inner: ByteStream,
    limit: Option<u64>,
    meter: Arc<Mutex<Meter>>,
}

impl Stream for Metered {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            other => return other,
        };
        let limit = self.limit;
        let mut meter = self.meter.lock().unwrap_or_else(|p| p.into_inner());
        meter.size += item.len() as u64;
        if limit.is_some_and(|l| meter.size > l) {
            meter.exceeded = true;
            return Poll::Ready(Some(Err(io::Error::other("upload exceeds the size limit"))));
        }
        meter.hasher.update(&item);
        Poll::Ready(Some(Ok(item)))
    }
}

/// The shared HTTP client of the remote backends: rustls, no proxies from the
/// environment, bounded connect and idle-read times (no total timeout: bodies are
/// large).
fn http_client() -> FilesResult<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| FilesError::Backend {
            backend: "http",
            op: "client setup",
            detail: e.to_string(),
        })
}

/// The body of an HTTP response as a [`ByteStream`].
fn response_stream(resp: reqwest::Response) -> ByteStream {
    use futures::TryStreamExt;
    Box::pin(resp.bytes_stream().map_err(io::Error::other))
}

/// Parses `Content-Range: bytes a-b/total` (or `bytes */total`) into the total.
fn content_range_total(resp: &reqwest::Response) -> Option<u64> {
    let value = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    value.rsplit('/').next()?.trim().parse().ok()
}

/// The first byte of `Content-Range: bytes a-b/total`.
fn content_range_start(resp: &reqwest::Response) -> Option<u64> {
    let value = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    value
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A `Range` request header value.
fn range_header(range: ByteRange) -> String {
    format!("bytes={}-{}", range.start, range.end)
}

/// The first 300 characters of an error response, for messages.
async fn error_text(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let code = xml_tag(&body, "Code");
    let message = xml_tag(&body, "Message");
    match (code, message) {
        (Some(c), Some(m)) => format!("HTTP {status}: {c}: {m}"),
        (Some(c), None) => format!("HTTP {status}: {c}"),
        _ => {
            let short: String = body.chars().take(300).collect();
            if short.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {}", short.trim())
            }
        }
    }
}

/// The text of the first `<tag>…</tag>` (S3 error bodies, multipart responses).
fn xml_tag<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(&body[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        for ok in [
            "a",
            "uploads/x.png",
            "ünï cødé/файл 名前 (1).txt",
            "a?b#c%d&e+f;g",
        ] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/./b", "a/", "a\0b", "a\nb", "a\\b",
        ] {
            assert!(
                matches!(validate_key(bad), Err(FilesError::InvalidKey { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_key(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn finds_xml_tags() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>nope</Message></Error>";
        assert_eq!(xml_tag(body, "Code"), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_tag(body, "Message"), Some("nope"));
        assert_eq!(xml_tag(body, "UploadId"), None);
    }
}

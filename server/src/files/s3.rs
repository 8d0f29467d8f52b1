//! The S3 backend (AWS or any S3-compatible service): requests are signed by
//! `rusty-s3` (presigned, `UNSIGNED-PAYLOAD`) and sent with reqwest. A body that fits
//! in one part is one `PutObject`; a larger one is a multipart upload of 8 MiB parts
//! (one part in memory at a time), aborted on any failure so nothing is left. A
//! multipart upload a crash cut off (nothing left to abort it) is found by
//! `ListMultipartUploads` and aborted by the upload sweeper once older than
//! `upload_multipart_max_age_secs`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use reqwest::{Method, StatusCode};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{
    content_range_start, content_range_total, error_text, http_client, range_header,
    response_stream, xml_tag, Backend, ByteRange, ByteStream, FilesError, FilesResult, ObjectRead,
    Unfinished,
};

const NAME: &str = "s3";
/// Part size of multipart uploads (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Lifetime of each signature; requests are signed right before they are sent.
const SIGN_FOR: Duration = Duration::from_secs(15 * 60);

/// Connection settings of an S3-compatible service.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Path-style URLs (`endpoint/bucket/key`) instead of virtual-host style
    /// (`bucket.endpoint/key`); most self-hosted services need path style.
    pub path_style: bool,
    pub access_key: String,
    pub secret_key: String,
    /// Prepended to every key (e.g. `palaver/`).
    pub prefix: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("path_style", &self.path_style)
            .field("access_key", &self.access_key)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

pub(super) struct S3 {
    bucket: Bucket,
    credentials: Option<Credentials>,
    prefix: String,
    client: reqwest::Client,
}

fn fail(op: &'static str, detail: impl std::fmt::Display) -> FilesError {
    FilesError::Backend {
        backend: NAME,
        op,
        detail: detail.to_string(),
    }
}

impl S3 {
    pub(super) fn new(config: &S3Config) -> FilesResult<S3> {
        let endpoint: url::Url = config
            .endpoint
            .parse()
            .map_err(|e| fail("setup", format!("endpoint {:?}: {e}", config.endpoint)))?;
        if config.bucket.is_empty() {
            return Err(fail("setup", "no bucket configured"));
        }
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let region = if config.region.is_empty() {
            "us-east-1".to_string()
        } else {
            config.region.clone()
        };
        let bucket = Bucket::new(endpoint, style, config.bucket.clone(), region)
            .map_err(|e| fail("setup", e))?;
        let credentials = (!config.access_key.is_empty())
            .then(|| Credentials::new(config.access_key.clone(), config.secret_key.clone()));
        Ok(S3 {
            bucket,
            credentials,
            prefix: config.prefix.clone(),
            client: http_client()?,
        })
    }

    fn object(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn send(
        &self,
        op: &'static str,
        request: reqwest::RequestBuilder,
    ) -> FilesResult<reqwest::Response> {
        request.send().await.map_err(|e| fail(op, error_chain(&e)))
    }

    /// Maps a non-success response to the matching error.
    async fn refused(&self, op: &'static str, key: &str, resp: reqwest::Response) -> FilesError {
        let status = resp.status();
        match status {
            StatusCode::NOT_FOUND if op == "get" => FilesError::NotFound(key.to_string()),
            StatusCode::RANGE_NOT_SATISFIABLE => FilesError::RangeNotSatisfiable {
                size: content_range_total(&resp).unwrap_or(0),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FilesError::Denied {
                backend: NAME,
                op,
                detail: error_text(resp).await,
            },
            _ => fail(op, error_text(resp).await),
        }
    }

    async fn put_single(&self, object: &str, body: Bytes) -> FilesResult<()> {
        let url = self
            .bucket
            .put_object(self.credentials.as_ref(), object)
            .sign(SIGN_FOR);
        let resp = self.send("put", self.client.put(url).body(body)).await?;
        if !resp.status().is_success() {
            return Err(self.refused("put", object, resp).await);
        }
        Ok(())
    }

    async fn put_multipart(
        &self,
        object: &str,
        first: Bytes,
        body: &mut ByteStream,
    ) -> FilesResult<()> {
        let url = self
            .bucket
            .create_multipart_upload(self.credentials.as_ref(), object)
            .sign(SIGN_FOR);
        let resp = self.send("put", self.client.post(url)).await?;
        if !resp.status().is_success() {
            return Err(self.refused("put", object, resp).await);
        }
        let text = resp.text().await.map_err(|e| fail("put", e))?;
        let upload_id = xml_tag(&text, "UploadId")
            .ok_or_else(|| fail("put", format!("no UploadId in {text:?}")))?
            .to_string();
        let outcome = self.upload_parts(object, &upload_id, first, body).await;
        if outcome.is_err() {
            let url = self
                .bucket
                .abort_multipart_upload(self.credentials.as_ref(), object, &upload_id)
                .sign(SIGN_FOR);
            if let Err(e) = self.client.delete(url).send().await {
                tracing::warn!(object, error = %e, "aborting an S3 multipart upload failed");
            }
        }
        outcome
    }

    async fn upload_parts(
        &self,
        object: &str,
        upload_id: &str,
        first: Bytes,
        body: &mut ByteStream,
    ) -> FilesResult<()> {
        let mut etags: Vec<String> = Vec::new();
        let mut part = Some(first);
        while let Some(data) = part.take() {
            let number =
                u16::try_from(etags.len() + 1).map_err(|_| fail("put", "more than 65535 parts"))?;
            let url = self
                .bucket
                .upload_part(self.credentials.as_ref(), object, number, upload_id)
                .sign(SIGN_FOR);
            let resp = self.send("put", self.client.put(url).body(data)).await?;
            if !resp.status().is_success() {
                return Err(self.refused("put", object, resp).await);
            }
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| fail("put", "a part upload returned no ETag"))?
                .to_string();
            etags.push(etag);
            let next = fill_part(body).await?;
            if !next.is_empty() {
                part = Some(next);
            }
        }
        let action = self.bucket.complete_multipart_upload(
            self.credentials.as_ref(),
            object,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGN_FOR);
        let xml = action.body();
        let resp = self.send("put", self.client.post(url).body(xml)).await?;
        if !resp.status().is_success() {
            return Err(self.refused("put", object, resp).await);
        }
        // S3 may report a failed completion inside a 200 response.
        let text = resp.text().await.map_err(|e| fail("put", e))?;
        if text.contains("<Error>") {
            return Err(fail(
                "put",
                format!(
                    "completing the upload: {}",
                    xml_tag(&text, "Message").unwrap_or(&text)
                ),
            ));
        }
        Ok(())
    }
}

/// An incomplete multipart upload as `ListMultipartUploads` lists it.
#[derive(Debug, PartialEq, Eq)]
struct PendingUpload {
    /// The full object key (with the configured prefix).
    key: String,
    upload_id: String,
    /// When it was started; `None` if the service did not say (never aborted).
    initiated: Option<SystemTime>,
}

/// One page of `ListMultipartUploads`: the uploads and, when truncated, the
/// markers of the next page.
#[derive(Debug, PartialEq, Eq)]
struct PendingPage {
    uploads: Vec<PendingUpload>,
    next: Option<(String, String)>,
}

/// Parses a `ListMultipartUploadsResult`.
fn parse_pending(xml: &str) -> Result<PendingPage, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "ListMultipartUploadsResult" {
        return Err(format!("unexpected <{}>", root.tag_name().name()));
    }
    let text = |node: roxmltree::Node<'_, '_>, tag: &str| -> Option<String> {
        node.children()
            .find(|c| c.is_element() && c.tag_name().name() == tag)
            .map(|c| c.text().unwrap_or("").to_string())
    };
    let uploads = root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Upload")
        .filter_map(|u| {
            Some(PendingUpload {
                key: text(u, "Key")?,
                upload_id: text(u, "UploadId")?,
                initiated: text(u, "Initiated")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
                    .map(SystemTime::from),
            })
        })
        .collect();
    let truncated = text(root, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = if truncated {
        let key = text(root, "NextKeyMarker").unwrap_or_default();
        let id = text(root, "NextUploadIdMarker").unwrap_or_default();
        (!key.is_empty()).then_some((key, id))
    } else {
        None
    };
    Ok(PendingPage { uploads, next })
}

impl S3 {
    /// One page of the incomplete multipart uploads under `prefix`.
    async fn list_pending(
        &self,
        prefix: &str,
        marker: Option<&(String, String)>,
    ) -> FilesResult<PendingPage> {
        const OP: &str = "list multipart uploads";
        // ListObjectsV2's signer, made a `GET /bucket?uploads` (rusty-s3 has no
        // ListMultipartUploads action).
        let mut action = self.bucket.list_objects_v2(self.credentials.as_ref());
        let query = action.query_mut();
        query.remove("list-type");
        query.remove("encoding-type");
        query.insert("uploads", "");
        query.insert("prefix", prefix.to_string());
        if let Some((key, id)) = marker {
            query.insert("key-marker", key.clone());
            if !id.is_empty() {
                query.insert("upload-id-marker", id.clone());
            }
        }
        let url = action.sign(SIGN_FOR);
        let resp = self.send(OP, self.client.get(url)).await?;
        let status = resp.status();
        if !status.is_success() {
            let text = error_text(resp).await;
            // Some services (rclone's) answer NoSuchUpload for a bucket that never
            // had a multipart upload.
            if text.contains("NoSuchUpload") {
                return Ok(PendingPage {
                    uploads: Vec::new(),
                    next: None,
                });
            }
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FilesError::Denied {
                    backend: NAME,
                    op: OP,
                    detail: text,
                },
                _ => fail(OP, text),
            });
        }
        let body = resp.text().await.map_err(|e| fail(OP, e))?;
        parse_pending(&body).map_err(|e| fail(OP, format!("unreadable answer: {e}")))
    }

    async fn abort(&self, object: &str, upload_id: &str) -> FilesResult<()> {
        let url = self
            .bucket
            .abort_multipart_upload(self.credentials.as_ref(), object, upload_id)
            .sign(SIGN_FOR);
        let resp = self
            .send("abort multipart upload", self.client.delete(url))
            .await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.refused("abort multipart upload", object, resp).await)
    }
}

/// Reads up to one part from the body (less only at its end).
async fn fill_part(body: &mut ByteStream) -> FilesResult<Bytes> {
    let mut buf = BytesMut::new();
    while buf.len() < PART_SIZE {
        match body.try_next().await.map_err(FilesError::Body)? {
            Some(chunk) => buf.extend_from_slice(&chunk),
            None => break,
        }
    }
    Ok(buf.freeze())
}

/// A reqwest error with its causes (the connection error behind "error sending
/// request").
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Backend for S3 {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, key: &str, mut body: ByteStream) -> FilesResult<()> {
        let object = self.object(key);
        let first = fill_part(&mut body).await?;
        if first.len() < PART_SIZE {
            return self.put_single(&object, first).await;
        }
        self.put_multipart(&object, first, &mut body).await
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> FilesResult<ObjectRead> {
        let object = self.object(key);
        let url = self
            .bucket
            .get_object(self.credentials.as_ref(), &object)
            .sign(SIGN_FOR);
        let mut request = self.client.request(Method::GET, url);
        if let Some(r) = range {
            request = request.header(reqwest::header::RANGE, range_header(r));
        }
        let resp = self.send("get", request).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(match self.refused("get", key, resp).await {
                FilesError::NotFound(_) => FilesError::NotFound(key.to_string()),
                other => other,
            });
        }
        // Some services (rclone's) answer a range with 200 and a Content-Range: the
        // header, not the status, says whether the body is the range.
        let size = match range {
            Some(r) => {
                let total = content_range_total(&resp).ok_or_else(|| {
                    fail(
                        "get",
                        format!("the service ignored the Range header ({status})"),
                    )
                })?;
                if content_range_start(&resp) != Some(r.start) {
                    return Err(fail("get", "the service answered another range"));
                }
                total
            }
            None => resp
                .content_length()
                .ok_or_else(|| fail("get", "no Content-Length"))?,
        };
        Ok(ObjectRead {
            size,
            body: response_stream(resp),
        })
    }

    async fn unfinished_uploads(&self, key_prefix: &str) -> FilesResult<Vec<Unfinished>> {
        let prefix = self.object(key_prefix);
        let mut found = Vec::new();
        let mut marker = None;
        // Bounded: a service that keeps answering "truncated" cannot hold the sweeper.
        for _ in 0..1000 {
            let page = self.list_pending(&prefix, marker.as_ref()).await?;
            for upload in page.uploads {
                // The listing's prefix is a request: check it ourselves.
                if let Some(key) = upload.key.strip_prefix(&self.prefix) {
                    if key.starts_with(key_prefix) {
                        found.push(Unfinished {
                            key: key.to_string(),
                            upload_id: upload.upload_id,
                            started: upload.initiated,
                        });
                    }
                }
            }
            match page.next {
                Some(next) if marker.as_ref() != Some(&next) => marker = Some(next),
                _ => break,
            }
        }
        Ok(found)
    }

    async fn abort_unfinished(&self, upload: &Unfinished) -> FilesResult<()> {
        self.abort(&self.object(&upload.key), &upload.upload_id)
            .await
    }

    async fn delete(&self, key: &str) -> FilesResult<()> {
        let object = self.object(key);
        let url = self
            .bucket
            .delete_object(self.credentials.as_ref(), &object)
            .sign(SIGN_FOR);
        let resp = self.send("delete", self.client.delete(url)).await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.refused("delete", key, resp).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multipart_listings() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>p/uploads/z</NextKeyMarker><NextUploadIdMarker>7</NextUploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>p/uploads/a&amp;b</Key><UploadId>3</UploadId>
    <Initiated>2024-05-01T10:00:00.000Z</Initiated><StorageClass>STANDARD</StorageClass></Upload>
  <Upload><Key>p/uploads/c</Key><UploadId>4</UploadId></Upload>
</ListMultipartUploadsResult>"#;
        let page = parse_pending(xml).unwrap();
        assert_eq!(page.uploads.len(), 2);
        assert_eq!(page.uploads[0].key, "p/uploads/a&b");
        assert_eq!(page.uploads[0].upload_id, "3");
        assert_eq!(
            page.uploads[0].initiated,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_557_600))
        );
        assert_eq!(page.uploads[1].initiated, None);
        assert_eq!(page.next, Some(("p/uploads/z".into(), "7".into())));
        let last = parse_pending(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert_eq!(
            last,
            PendingPage {
                uploads: vec![],
                next: None
            }
        );
        assert!(parse_pending("<Error><Code>x</Code></Error>").is_err());
    }
}

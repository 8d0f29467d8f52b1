//! The WebDAV backend: plain HTTP with basic auth. A put streams the body (chunked)
//! to a hidden partial name beside the object, then `MOVE`s it into place, so a
//! broken upload never shows under the key; parent collections are made with
//! `MKCOL` as needed.

use async_trait::async_trait;
use reqwest::{Method, StatusCode};

use super::s3::error_chain;
use super::{
    content_range_total, error_text, http_client, range_header, response_stream, Backend,
    ByteRange, ByteStream, FilesError, FilesResult, ObjectRead,
};

const NAME: &str = "webdav";

/// Connection settings of a WebDAV server.
#[derive(Clone, PartialEq, Eq)]
pub struct WebDavConfig {
    /// The collection objects go under, `https://dav.example.com/remote.php/dav/files/u/`.
    pub url: String,
    pub username: String,
    pub password: String,
    /// A folder below `url` (Rocket.Chat's `FileUpload_Webdav_Upload_Folder_Path`).
    pub folder: String,
}

impl std::fmt::Debug for WebDavConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDavConfig")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

pub(super) struct WebDav {
    base: url::Url,
    /// Segments of the folder, already validated.
    folder: Vec<String>,
    username: String,
    password: String,
    client: reqwest::Client,
}

fn fail(op: &'static str, detail: impl std::fmt::Display) -> FilesError {
    FilesError::Backend {
        backend: NAME,
        op,
        detail: detail.to_string(),
    }
}

impl WebDav {
    pub(super) fn new(config: &WebDavConfig) -> FilesResult<WebDav> {
        let mut base: url::Url = config
            .url
            .parse()
            .map_err(|e| fail("setup", format!("URL {:?}: {e}", config.url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(fail("setup", "the URL must be http:// or https://"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let folder: Vec<String> = config
            .folder
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if folder.iter().any(|s| s == "." || s == "..") {
            return Err(fail("setup", "the folder may not contain `.` or `..`"));
        }
        Ok(WebDav {
            base,
            folder,
            username: config.username.clone(),
            password: config.password.clone(),
            client: http_client()?,
        })
    }

    /// The URL of the path made of `segments` below the folder (each one encoded).
    fn url_of<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> url::Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
            path.pop_if_empty();
            path.extend(self.folder.iter().map(String::as_str));
            path.extend(segments);
        }
        url
    }

    fn request(&self, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        if self.username.is_empty() {
            request
        } else {
            request.basic_auth(&self.username, Some(&self.password))
        }
    }

    async fn send(
        &self,
        op: &'static str,
        request: reqwest::RequestBuilder,
    ) -> FilesResult<reqwest::Response> {
        request.send().await.map_err(|e| fail(op, error_chain(&e)))
    }

    async fn refused(&self, op: &'static str, key: &str, resp: reqwest::Response) -> FilesError {
        match resp.status() {
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

    /// Makes the folder and the key's parent collections (existing ones are fine).
    async fn make_parents(&self, key: &str) -> FilesResult<()> {
        let mut dirs: Vec<&str> = key.split('/').collect();
        dirs.pop();
        let folder: Vec<&str> = self.folder.iter().map(String::as_str).collect();
        let all: Vec<&str> = folder.iter().copied().chain(dirs.iter().copied()).collect();
        for depth in 1..=all.len() {
            let mut url = self.base.clone();
            {
                let mut path = url.path_segments_mut().expect("http(s) URLs have a path");
                path.pop_if_empty();
                path.extend(all[..depth].iter().copied());
                path.push("");
            }
            let mkcol = Method::from_bytes(b"MKCOL").expect("valid method");
            let resp = self.send("put", self.request(mkcol, url)).await?;
            let status = resp.status();
            // 405: it exists already.
            if !(status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED) {
                return Err(self.refused("put", key, resp).await);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Backend for WebDav {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, key: &str, body: ByteStream) -> FilesResult<()> {
        self.make_parents(key).await?;
        let mut segments: Vec<&str> = key.split('/').collect();
        let name = segments.pop().unwrap_or(key);
        let partial = format!(
            ".{}.partial-{}",
            hex::encode(&name.as_bytes()[..name.len().min(32)]),
            hex::encode(rand::random::<[u8; 8]>())
        );
        let mut partial_path = segments.clone();
        partial_path.push(&partial);
        let partial_url = self.url_of(partial_path.iter().copied());
        let final_url = self.url_of(key.split('/'));

        let sent = self
            .send(
                "put",
                self.request(Method::PUT, partial_url.clone())
                    .body(reqwest::Body::wrap_stream(body)),
            )
            .await;
        let outcome = match sent {
            Ok(resp) if resp.status().is_success() => {
                let moved = self
                    .send(
                        "put",
                        self.request(
                            Method::from_bytes(b"MOVE").expect("valid method"),
                            partial_url.clone(),
                        )
                        .header("Destination", final_url.as_str())
                        .header("Overwrite", "T"),
                    )
                    .await;
                match moved {
                    Ok(resp) if resp.status().is_success() => return Ok(()),
                    Ok(resp) => Err(self.refused("put", key, resp).await),
                    Err(e) => Err(e),
                }
            }
            Ok(resp) => Err(self.refused("put", key, resp).await),
            // A body error surfaces as a request error; the caller knows the cause.
            Err(e) => Err(e),
        };
        if let Err(e) = self
            .send("put", self.request(Method::DELETE, partial_url))
            .await
        {
            tracing::warn!(key, error = %e, "removing a partial WebDAV upload failed");
        }
        outcome
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> FilesResult<ObjectRead> {
        let mut request = self.request(Method::GET, self.url_of(key.split('/')));
        if let Some(r) = range {
            request = request.header(reqwest::header::RANGE, range_header(r));
        }
        let resp = self.send("get", request).await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.refused("get", key, resp).await);
        }
        let size = match (range, status) {
            (Some(_), StatusCode::PARTIAL_CONTENT) => content_range_total(&resp)
                .ok_or_else(|| fail("get", "206 without a Content-Range"))?,
            (Some(_), _) => return Err(fail("get", "the server ignored the Range header")),
            (None, _) => resp
                .content_length()
                .ok_or_else(|| fail("get", "no Content-Length"))?,
        };
        Ok(ObjectRead {
            size,
            body: response_stream(resp),
        })
    }

    async fn delete(&self, key: &str) -> FilesResult<()> {
        let resp = self
            .send(
                "delete",
                self.request(Method::DELETE, self.url_of(key.split('/'))),
            )
            .await?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.refused("delete", key, resp).await)
    }
}

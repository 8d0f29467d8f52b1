//! The few client-server API calls the bridge makes, as the application service
//! (`Authorization: Bearer <as_token>`, `user_id=` to act as a puppet).

use std::time::Duration;

use serde_json::{json, Value};

use crate::worker::outbox::policy::{DeliveryError, Retry};

/// A file being downloaded from the homeserver.
pub struct Media {
    pub content_type: Option<String>,
    pub response: reqwest::Response,
}

/// The homeserver, as the application service sees it.
pub struct HomeserverClient {
    http: reqwest::Client,
    base: String,
    as_token: String,
}

/// A failed call: the homeserver's `errcode`, or a network failure.
#[derive(Debug, Clone)]
pub struct CallError {
    pub status: Option<u16>,
    pub errcode: Option<String>,
    pub message: String,
}

impl CallError {
    pub fn is(&self, errcode: &str) -> bool {
        self.errcode.as_deref() == Some(errcode)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<CallError> for DeliveryError {
    /// Network errors, 5xx and 429 are tried again; other refusals are final.
    fn from(e: CallError) -> DeliveryError {
        let retry = match e.status {
            None => Retry::Later { after: None },
            Some(429) | Some(500..=599) => Retry::Later { after: None },
            Some(_) => Retry::Never,
        };
        DeliveryError {
            message: e.message,
            retry,
        }
    }
}

/// A path segment, percent-encoded (room ids, aliases and user ids hold `!#@:`).
pub fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl HomeserverClient {
    pub fn new(base: String, as_token: String) -> HomeserverClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Palaver/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HomeserverClient {
            http,
            base,
            as_token,
        }
    }

    /// One call; `as_user` is the puppet to act as (none: the bridge bot).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        as_user: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, CallError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.as_token);
        if let Some(user) = as_user {
            request = request.query(&[("user_id", user)]);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| CallError {
            status: None,
            errcode: None,
            message: format!("homeserver unreachable: {e}"),
        })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let errcode = value["errcode"].as_str().map(str::to_string);
        Err(CallError {
            status: Some(status),
            message: format!(
                "homeserver: HTTP {status} {} {}",
                errcode.as_deref().unwrap_or(""),
                value["error"].as_str().unwrap_or("")
            ),
            errcode,
        })
    }

    fn network(e: reqwest::Error) -> CallError {
        CallError {
            status: None,
            errcode: None,
            message: format!("homeserver unreachable: {e}"),
        }
    }

    async fn refused(response: reqwest::Response) -> CallError {
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let errcode = value["errcode"].as_str().map(str::to_string);
        CallError {
            status: Some(status),
            message: format!(
                "homeserver: HTTP {status} {} {}",
                errcode.as_deref().unwrap_or(""),
                value["error"].as_str().unwrap_or("")
            ),
            errcode,
        }
    }

    /// Opens `mxc://<server>/<media id>` through the authenticated media API (the
    /// application service's token), falling back to the older unauthenticated
    /// path for homeservers without it. The body is streamed, not buffered.
    pub async fn download(&self, mxc: &str) -> Result<Media, CallError> {
        let bad = || CallError {
            status: Some(400),
            errcode: None,
            message: format!("not an mxc URL: {mxc:?}"),
        };
        let (server, media_id) = mxc
            .strip_prefix("mxc://")
            .and_then(|r| r.split_once('/'))
            .filter(|(s, m)| !s.is_empty() && !m.is_empty() && !m.contains('/'))
            .ok_or_else(bad)?;
        let mut last = None;
        for prefix in [
            "/_matrix/client/v1/media/download",
            "/_matrix/media/v3/download",
        ] {
            let url = format!("{}{prefix}/{}/{}", self.base, seg(server), seg(media_id));
            let response = self
                .http
                .get(url)
                .bearer_auth(&self.as_token)
                .send()
                .await
                .map_err(Self::network)?;
            if response.status().is_success() {
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                return Ok(Media {
                    content_type,
                    response,
                });
            }
            let e = Self::refused(response).await;
            // Only an unknown endpoint tries the older path.
            if !(e.status == Some(404) && e.is("M_UNRECOGNIZED")) {
                return Err(e);
            }
            last = Some(e);
        }
        Err(last.unwrap_or_else(bad))
    }

    /// Downloads `mxc` whole, refusing more than `max` bytes (said in the error,
    /// whether the homeserver announced the length or not).
    pub async fn download_capped(
        &self,
        mxc: &str,
        max: usize,
    ) -> Result<(Vec<u8>, Option<String>), CallError> {
        use futures::StreamExt;
        let too_large = || CallError {
            status: Some(413),
            errcode: Some("M_TOO_LARGE".into()),
            message: format!("{mxc} is larger than the limit of {max} bytes"),
        };
        let media = self.download(mxc).await?;
        if media
            .response
            .content_length()
            .is_some_and(|n| n > max as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        let mut stream = media.response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(Self::network)?;
            if bytes.len() + chunk.len() > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes, media.content_type))
    }

    /// Uploads a file to the homeserver's media repository as `mxid`; returns its
    /// `mxc://` URL.
    pub async fn upload(
        &self,
        mxid: &str,
        name: &str,
        content_type: &str,
        body: reqwest::Body,
        size: u64,
    ) -> Result<String, CallError> {
        let response = self
            .http
            .post(format!("{}/_matrix/media/v3/upload", self.base))
            .bearer_auth(&self.as_token)
            .query(&[("user_id", mxid), ("filename", name)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(body)
            .send()
            .await
            .map_err(Self::network)?;
        if !response.status().is_success() {
            return Err(Self::refused(response).await);
        }
        let bytes = response.bytes().await.map_err(Self::network)?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        v["content_uri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CallError {
                status: None,
                errcode: None,
                message: "the homeserver answered without content_uri".into(),
            })
    }

    /// Registers a user of the namespace; one who exists already is fine.
    pub async fn register(&self, localpart: &str) -> Result<(), CallError> {
        let body = json!({ "type": "m.login.application_service", "username": localpart, "inhibit_login": true });
        match self
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/register",
                None,
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is("M_USER_IN_USE") => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn set_displayname(&self, mxid: &str, name: &str) -> Result<(), CallError> {
        let path = format!("/_matrix/client/v3/profile/{}/displayname", seg(mxid));
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(mxid),
            Some(json!({ "displayname": name })),
        )
        .await
        .map(drop)
    }

    /// Sets (an `mxc://` URL) or removes (empty) `mxid`'s avatar; the homeserver
    /// updates its member events in every room.
    pub async fn set_avatar_url(&self, mxid: &str, mxc: &str) -> Result<(), CallError> {
        let path = format!("/_matrix/client/v3/profile/{}/avatar_url", seg(mxid));
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(mxid),
            Some(json!({ "avatar_url": mxc })),
        )
        .await
        .map(drop)
    }

    /// One event of a room, as `mxid` sees it.
    pub async fn event(
        &self,
        mxid: &str,
        room_id: &str,
        event_id: &str,
    ) -> Result<Value, CallError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/event/{}",
            seg(room_id),
            seg(event_id)
        );
        self.call(reqwest::Method::GET, &path, Some(mxid), None)
            .await
    }

    /// Joins `room` (an id or alias) as `mxid`; returns the room id.
    pub async fn join(&self, mxid: Option<&str>, room: &str) -> Result<String, CallError> {
        let path = format!("/_matrix/client/v3/join/{}", seg(room));
        let v = self
            .call(reqwest::Method::POST, &path, mxid, Some(json!({})))
            .await?;
        Ok(v["room_id"].as_str().unwrap_or(room).to_string())
    }

    pub async fn invite(
        &self,
        by: Option<&str>,
        room_id: &str,
        mxid: &str,
    ) -> Result<(), CallError> {
        let path = format!("/_matrix/client/v3/rooms/{}/invite", seg(room_id));
        match self
            .call(
                reqwest::Method::POST,
                &path,
                by,
                Some(json!({ "user_id": mxid })),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Already in the room (or invited): nothing to do.
            Err(e) if e.status == Some(403) || e.status == Some(400) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn leave(&self, mxid: &str, room_id: &str) -> Result<(), CallError> {
        let path = format!("/_matrix/client/v3/rooms/{}/leave", seg(room_id));
        self.call(reqwest::Method::POST, &path, Some(mxid), Some(json!({})))
            .await
            .map(drop)
    }

    /// Sends an event with the queue item's id as transaction id, so a repeated
    /// attempt is the same event to the homeserver; returns the event id.
    pub async fn send(
        &self,
        mxid: &str,
        room_id: &str,
        event_type: &str,
        txn_id: &str,
        content: Value,
    ) -> Result<String, CallError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{}/{}",
            seg(room_id),
            seg(event_type),
            seg(txn_id)
        );
        let v = self
            .call(reqwest::Method::PUT, &path, Some(mxid), Some(content))
            .await?;
        Ok(v["event_id"].as_str().unwrap_or_default().to_string())
    }

    pub async fn redact(
        &self,
        mxid: &str,
        room_id: &str,
        event_id: &str,
        txn_id: &str,
    ) -> Result<(), CallError> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{}",
            seg(room_id),
            seg(event_id),
            seg(txn_id)
        );
        self.call(reqwest::Method::PUT, &path, Some(mxid), Some(json!({})))
            .await
            .map(drop)
    }

    /// The room an alias names.
    pub async fn resolve_alias(&self, alias: &str) -> Result<String, CallError> {
        let path = format!("/_matrix/client/v3/directory/room/{}", seg(alias));
        let v = self.call(reqwest::Method::GET, &path, None, None).await?;
        v["room_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CallError {
                status: None,
                errcode: None,
                message: "the homeserver answered without room_id".into(),
            })
    }

    /// Creates a room owned by the bridge bot; returns its id.
    pub async fn create_room(&self, body: Value) -> Result<String, CallError> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/_matrix/client/v3/createRoom",
                None,
                Some(body),
            )
            .await?;
        v["room_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CallError {
                status: None,
                errcode: None,
                message: "the homeserver answered without room_id".into(),
            })
    }
}

//! Images in chat: at upload, an image's dimensions, blurred preview and
//! thumbnail are made once (the thumbnail stored as its own file beside the
//! original, as Rocket.Chat does), and a decompression bomb is refused; decoding
//! runs on blocking threads, a bounded number at a time.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

use super::error::{ChatError, ChatResult};
use super::{ids, Chat};
use crate::files::{ByteStream, Storage};
use crate::media::{self, Encoded, MediaError};
use crate::outbound::OutboundHttp;
use crate::store::uploads::{ImageDimensions, Upload, UploadState, TYPE_GROUP_THUMB};

/// Content types whose bytes are decoded at upload (Rocket.Chat's list, less BMP).
const DECODED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/pjpeg",
    "image/png",
    "image/gif",
    "image/webp",
];

/// Scaled avatars kept in memory (each a few KiB).
const AVATAR_CACHE_ENTRIES: usize = 512;

/// Decoding slots, scaled avatars, link previews read lately and the client
/// fetching avatar URLs and linked pages.
pub(crate) struct MediaState {
    slots: tokio::sync::Semaphore,
    pub(super) scaled: Mutex<ScaledCache>,
    pub(super) http: OnceLock<OutboundHttp>,
    pub(super) previews: super::url_preview::PreviewCache,
}

impl Default for MediaState {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        MediaState {
            // Half the cores (at least one): chat keeps answering while images decode.
            slots: tokio::sync::Semaphore::new((cores / 2).clamp(1, 4)),
            scaled: Mutex::new(ScaledCache::default()),
            http: OnceLock::new(),
            previews: Default::default(),
        }
    }
}

/// Scaled avatars by (avatar file id, size), evicted oldest first.
#[derive(Default)]
pub(crate) struct ScaledCache {
    entries: std::collections::HashMap<(String, u32), Arc<Encoded>>,
    order: std::collections::VecDeque<(String, u32)>,
}

impl ScaledCache {
    pub(super) fn get(&self, id: &str, size: u32) -> Option<Arc<Encoded>> {
        self.entries.get(&(id.to_string(), size)).cloned()
    }

    pub(super) fn put(&mut self, id: &str, size: u32, image: Arc<Encoded>) {
        let key = (id.to_string(), size);
        if self.entries.insert(key.clone(), image).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > AVATAR_CACHE_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

/// A media refusal as the chat layer reports it.
pub(crate) fn media_error(e: MediaError) -> ChatError {
    match e {
        MediaError::TooManyPixels { .. } => {
            ChatError::refused("error-image-too-large", e.to_string())
        }
        MediaError::Unsupported | MediaError::Undecodable(_) => {
            ChatError::refused("error-invalid-image", e.to_string())
        }
        MediaError::Encode(_) => ChatError::refused("error-image-processing", e.to_string()),
    }
}

/// One whole in-memory body as a [`ByteStream`].
pub(crate) fn body_of(bytes: Vec<u8>) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(Bytes::from(bytes))]))
}

/// How an upload of this type is read: decoded, rasterized (SVG), or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageKind {
    Raster,
    Svg,
}

fn image_kind(content_type: &str) -> Option<ImageKind> {
    let base = content_type.split(';').next().unwrap_or("").trim();
    if base.eq_ignore_ascii_case("image/svg+xml") {
        Some(ImageKind::Svg)
    } else if DECODED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(base)) {
        Some(ImageKind::Raster)
    } else {
        None
    }
}

impl Chat {
    /// Runs CPU-heavy image work on a blocking thread, waiting for a free slot.
    pub(crate) async fn image_job<T, F>(&self, job: F) -> ChatResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _slot = self.media.slots.acquire().await.map_err(|_| {
            ChatError::refused("error-image-processing", "Image processing stopped")
        })?;
        tokio::task::spawn_blocking(job).await.map_err(|e| {
            tracing::error!(error = %e, "image job failed");
            ChatError::refused("error-image-processing", "The image could not be processed")
        })
    }

    /// The image limit from the configuration.
    pub(crate) fn image_max_pixels(&self) -> u64 {
        self.opts.image_max_pixels
    }

    /// Reads a stored image upload: records its dimensions, format and preview and
    /// stores its thumbnail (unconfirmed, expiring with it); an SVG is rasterized
    /// into a PNG thumbnail whatever its size. A decompression bomb
    /// is `Err` (the caller removes the upload); an image that does not decode
    /// stays a plain file.
    pub(super) async fn describe_image(
        &self,
        storage: &Storage,
        upload: &mut Upload,
    ) -> ChatResult<()> {
        let Some(kind) = image_kind(&upload.content_type) else {
            return Ok(());
        };
        if upload.size > self.opts.image_max_bytes {
            return Ok(());
        }
        let bytes = storage
            .read_all(&upload.key, self.opts.image_max_bytes)
            .await?;
        let s = self.settings();
        let thumb_box = s.bool("Message_Attachments_Thumbnails_Enabled").then(|| {
            let dim = |k: &str| u32::try_from(s.int(k)).unwrap_or(1).max(1);
            (
                dim("Message_Attachments_Thumbnails_Width"),
                dim("Message_Attachments_Thumbnails_Height"),
            )
        });
        let max = self.image_max_pixels();
        let processed = match self
            .image_job(move || match kind {
                ImageKind::Raster => media::process_upload(&bytes, max, thumb_box),
                ImageKind::Svg => media::process_svg(&bytes, thumb_box),
            })
            .await?
        {
            Ok(p) => p,
            Err(e @ MediaError::TooManyPixels { .. }) => {
                tracing::info!(file_id = %upload.id, room_id = %upload.rid, error = %e, "image refused");
                return Err(media_error(e));
            }
            Err(e) => {
                tracing::info!(file_id = %upload.id, error = %e, "uploaded image not decoded; kept as a file");
                return Ok(());
            }
        };
        // Rocket.Chat identifies raster images only: an SVG has no size or format
        // of its own on record, its thumbnail has.
        if kind == ImageKind::Raster {
            upload.dimensions = Some(ImageDimensions {
                width: processed.info.width,
                height: processed.info.height,
            });
            upload.format = Some(processed.info.format.to_string());
        }
        upload.preview = Some(processed.preview);
        if let Some(thumb) = processed.thumbnail {
            let id = ids::new_id();
            let mut record = Upload {
                key: format!("uploads/{id}"),
                id,
                name: format!("thumb-{}", upload.name),
                size: 0,
                content_type: thumb.content_type.to_string(),
                sha256: String::new(),
                rid: upload.rid.clone(),
                user_id: upload.user_id.clone(),
                username: upload.username.clone(),
                store: storage.backend_name().to_string(),
                state: UploadState::Uploading,
                uploaded_at: upload.uploaded_at,
                expires_at: upload.expires_at,
                message_id: None,
                description: None,
                dimensions: Some(ImageDimensions {
                    width: thumb.width,
                    height: thumb.height,
                }),
                format: Some(thumb.content_type.trim_start_matches("image/").to_string()),
                preview: None,
                thumb_id: None,
                type_group: Some(TYPE_GROUP_THUMB.to_string()),
                original_file_id: Some(upload.id.clone()),
            };
            self.store.insert_upload(&record).await?;
            match storage.put(&record.key, body_of(thumb.bytes), None).await {
                Ok(stored) => {
                    record.size = stored.size;
                    record.sha256 = stored.sha256;
                    record.state = UploadState::Stored;
                    self.store.update_upload(&record).await?;
                    upload.thumb_id = Some(record.id);
                }
                Err(e) => {
                    // The image is still posted, without a thumbnail.
                    tracing::warn!(file_id = %upload.id, error = %e, "cannot store a thumbnail");
                    self.remove_uploads(vec![record]).await;
                }
            }
        }
        Ok(())
    }

    /// The thumbnail made for an upload, if it is still there.
    pub(super) async fn thumbnail_of(&self, upload: &Upload) -> ChatResult<Option<Upload>> {
        let Some(id) = &upload.thumb_id else {
            return Ok(None);
        };
        Ok(self.store.upload(id).await?.filter(|t| {
            t.state == UploadState::Stored
                && t.original_file_id.as_deref() == Some(upload.id.as_str())
        }))
    }

    /// The client fetching avatar URLs, built once from the operator's routes.
    pub(super) fn avatar_http(&self) -> &OutboundHttp {
        self.media.http.get_or_init(|| {
            match crate::outbound::OperatorRouting::new(
                &self.opts.outbound_connect_to,
                self.opts.outbound_extra_ca_file.as_deref(),
            ) {
                Ok(routing) => OutboundHttp::with_routing(routing),
                Err(e) => {
                    tracing::error!(error = %e, "outbound routing; avatar URLs use the defaults");
                    OutboundHttp::new()
                }
            }
        })
    }
}

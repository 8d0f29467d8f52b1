//! The file storage the settings name (local, S3, WebDAV): built from them, cached
//! until they change, and opened per backend for files written before a change.

use std::sync::Mutex;

use super::error::{ChatError, ChatResult};
use super::Chat;
use crate::files::{FilesError, S3Config, Storage, StorageConfig, WebDavConfig};

/// The storage built from the current settings, rebuilt when they change.
#[derive(Default)]
pub(crate) struct StorageCache(Mutex<Option<(StorageConfig, Storage)>>);

impl Chat {
    /// The file storage the settings name (built again when they changed).
    pub fn file_storage(&self) -> ChatResult<Storage> {
        let config = self.storage_config()?;
        let mut cache = self.files.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, s)) = cache.as_ref() {
            if *c == config {
                return Ok(s.clone());
            }
        }
        let storage = Storage::open(&config)?;
        *cache = Some((config, storage.clone()));
        Ok(storage)
    }

    fn storage_config(&self) -> ChatResult<StorageConfig> {
        self.storage_config_of(&self.settings().string("FileUpload_Storage_Type"))
    }

    /// The storage a record names (`local`, `s3`, `webdav`), built from that
    /// backend's settings: files stay readable on the backend they were written to
    /// while the configured one changes (`palaver files migrate`).
    pub(crate) fn storage_for(&self, backend: &str) -> ChatResult<Storage> {
        let current = self.file_storage()?;
        if current.backend_name() == backend {
            return Ok(current);
        }
        let storage_type = storage_type_of(backend).ok_or_else(|| {
            ChatError::Files(FilesError::Backend {
                backend: "unknown",
                op: "open",
                detail: format!("no storage backend named {backend:?}"),
            })
        })?;
        Ok(Storage::open(&self.storage_config_of(storage_type)?)?)
    }

    /// The configuration of the storage type `storage_type` (the values of
    /// `FileUpload_Storage_Type`) from its settings.
    pub(crate) fn storage_config_of(&self, storage_type: &str) -> ChatResult<StorageConfig> {
        let s = self.settings();
        Ok(match storage_type {
            "AmazonS3" => {
                let region = s.string("FileUpload_S3_Region");
                let mut endpoint = s.string("FileUpload_S3_BucketURL");
                if endpoint.is_empty() {
                    let r = if region.is_empty() {
                        "us-east-1"
                    } else {
                        &region
                    };
                    endpoint = format!("https://s3.{r}.amazonaws.com");
                }
                StorageConfig::S3(S3Config {
                    endpoint,
                    region,
                    bucket: s.string("FileUpload_S3_Bucket"),
                    path_style: s.bool("FileUpload_S3_ForcePathStyle"),
                    access_key: s.string("FileUpload_S3_AWSAccessKeyId"),
                    secret_key: s.string("FileUpload_S3_AWSSecretAccessKey"),
                    prefix: s.string("FileUpload_S3_Prefix"),
                })
            }
            "Webdav" => StorageConfig::WebDav(WebDavConfig {
                url: s.string("FileUpload_Webdav_Server_URL"),
                username: s.string("FileUpload_Webdav_Username"),
                password: s.string("FileUpload_Webdav_Password"),
                folder: s.string("FileUpload_Webdav_Upload_Folder_Path"),
            }),
            _ => {
                let path = s.string("FileUpload_FileSystemPath");
                let root = if path.trim().is_empty() {
                    self.opts.files_root.clone()
                } else {
                    path.into()
                };
                StorageConfig::Local { root }
            }
        })
    }

    /// The admin's "test connection": a probe object written, read and deleted.
    pub(crate) async fn test_file_storage(&self) -> ChatResult<()> {
        let storage = self.file_storage()?;
        storage.probe().await.map_err(|e| {
            ChatError::refused(
                "error-file-storage-test-failed",
                format!("The {} storage test failed: {e}", storage.backend_name()),
            )
        })
    }
}

/// The `FileUpload_Storage_Type` value of a backend name.
pub(crate) fn storage_type_of(backend: &str) -> Option<&'static str> {
    match backend {
        "local" => Some("FileSystem"),
        "s3" => Some("AmazonS3"),
        "webdav" => Some("Webdav"),
        _ => None,
    }
}

//! The local backend: a directory (by default `<data_dir>/uploads`). An object lives
//! at `<root>/<h0h1>/<sha256(key)>`: any key (unicode, `?`, spaces, very long) maps
//! to a safe, fixed-length file name, and no key can reach outside the root. A put
//! writes `<root>/.partial/<sha256(key)>.<random>` and renames it into place, so a
//! crash leaves at worst a file in `.partial/` (never a half object under a key);
//! deleting the key removes those too (the upload sweeper deletes the key of an
//! upload a crash interrupted).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{Backend, ByteRange, ByteStream, FilesError, FilesResult, ObjectRead};

const NAME: &str = "local";
const PARTIAL_DIR: &str = ".partial";

pub(super) struct Local {
    root: PathBuf,
}

impl Local {
    pub(super) fn new(root: PathBuf) -> Local {
        Local { root }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        let hash = key_hash(key);
        self.root.join(&hash[..2]).join(hash)
    }

    /// Removes partial writes of `key` a crash left behind.
    async fn remove_partials(&self, key: &str) -> FilesResult<()> {
        let dir = self.root.join(PARTIAL_DIR);
        let prefix = format!("{}.", key_hash(key));
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("delete", &dir, e)),
        };
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_err("delete", &dir, e))?
        {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("delete", &path, e)),
                }
            }
        }
        Ok(())
    }
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn io_err(op: &'static str, path: &Path, e: std::io::Error) -> FilesError {
    let detail = format!("{}: {e}", path.display());
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        FilesError::Denied {
            backend: NAME,
            op,
            detail,
        }
    } else {
        FilesError::Backend {
            backend: NAME,
            op,
            detail,
        }
    }
}

#[async_trait]
impl Backend for Local {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn put(&self, key: &str, mut body: ByteStream) -> FilesResult<()> {
        let partial_dir = self.root.join(PARTIAL_DIR);
        tokio::fs::create_dir_all(&partial_dir)
            .await
            .map_err(|e| io_err("put", &partial_dir, e))?;
        let tmp = partial_dir.join(format!(
            "{}.{}",
            key_hash(key),
            hex::encode(rand::random::<[u8; 8]>())
        ));
        let written: FilesResult<()> = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io_err("put", &tmp, e))?;
            while let Some(chunk) = body.try_next().await.map_err(FilesError::Body)? {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| io_err("put", &tmp, e))?;
            }
            file.sync_all().await.map_err(|e| io_err("put", &tmp, e))?;
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let path = self.path_of(key);
        let placed: FilesResult<()> = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| io_err("put", dir, e))?;
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| io_err("put", &path, e))
        }
        .await;
        if placed.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        placed
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> FilesResult<ObjectRead> {
        let path = self.path_of(key);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FilesError::NotFound(key.to_string()))
            }
            Err(e) => return Err(io_err("get", &path, e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(|e| io_err("get", &path, e))?
            .len();
        let body: ByteStream = match range {
            None => Box::pin(tokio_util::io::ReaderStream::new(file)),
            Some(r) => {
                if r.start > r.end || r.end >= size {
                    return Err(FilesError::RangeNotSatisfiable { size });
                }
                file.seek(SeekFrom::Start(r.start))
                    .await
                    .map_err(|e| io_err("get", &path, e))?;
                Box::pin(tokio_util::io::ReaderStream::new(file.take(r.len())))
            }
        };
        Ok(ObjectRead { size, body })
    }

    async fn delete(&self, key: &str) -> FilesResult<()> {
        let path = self.path_of(key);
        self.remove_partials(key).await?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", &path, e)),
        }
    }
}

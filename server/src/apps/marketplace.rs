//! The local marketplace: a folder of app packages (`*.zip`, each optionally with a
//! detached ed25519 signature `<package>.zip.sig`). Every package is listed, with
//! its reason when it is invalid; a bad package is never hidden and never fatal.
//! Results are cached by file size and modification time, so listing is cheap and
//! a changed file is checked again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Serialize;

use super::manifest::{CommandDef, Manifest, SettingDef};
use super::package::sha256_hex;
use super::permissions::Permission;
use super::{AppsEngine, AppsError};

/// One package of the folder, as `GET /api/apps/marketplace` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub file: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    pub author: Option<super::manifest::Author>,
    pub api_version: Option<String>,
    pub permissions: Vec<PermissionView>,
    pub settings: Vec<SettingDef>,
    pub commands: Vec<CommandDef>,
    pub sha256: String,
    /// Signed by a trusted publisher key (and the signature checks out).
    pub signed: bool,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A requested permission, explained for the admin.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionView {
    pub name: String,
    pub required: bool,
    pub reason: Option<String>,
    pub hosts: Vec<String>,
    pub explanation: String,
}

pub fn permission_views(m: &Manifest) -> Vec<PermissionView> {
    m.permissions
        .iter()
        .map(|p| PermissionView {
            name: p.name.clone(),
            required: p.required,
            reason: p.reason.clone(),
            hosts: p.hosts.clone(),
            explanation: Permission::from_name(&p.name)
                .map(|p| p.explanation().to_string())
                .unwrap_or_default(),
        })
        .collect()
}

type Stamp = (u64, Option<SystemTime>, Option<SystemTime>);

/// Caches listings by file stamp (size, mtime, signature mtime).
#[derive(Default)]
pub struct Marketplace {
    cache: Mutex<BTreeMap<PathBuf, (Stamp, Listing)>>,
}

pub(crate) fn decode_key(text: &str) -> Option<VerifyingKey> {
    let text = text.trim();
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

/// Checks a detached signature (raw 64 bytes, or base64/hex text) over `bytes`
/// against the trusted keys. `Ok(false)`: no signature file.
pub fn verify_signature(package: &Path, bytes: &[u8], trusted: &[String]) -> Result<bool, String> {
    let sig_path = PathBuf::from(format!("{}.sig", package.display()));
    let raw = match std::fs::read(&sig_path) {
        Ok(raw) => raw,
        Err(_) => return Ok(false),
    };
    let sig_bytes: Vec<u8> = if raw.len() == 64 {
        raw
    } else {
        let text = String::from_utf8_lossy(&raw).trim().to_string();
        hex::decode(&text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(&text).ok())
            .ok_or("the signature file is neither 64 raw bytes nor hex/base64 text")?
    };
    let signature = Signature::from_slice(&sig_bytes).map_err(|_| "the signature is malformed")?;
    let keys: Vec<VerifyingKey> = trusted.iter().filter_map(|k| decode_key(k)).collect();
    if keys.is_empty() {
        return Err("the package is signed but no publisher keys are trusted".into());
    }
    if keys.iter().any(|k| k.verify(bytes, &signature).is_ok()) {
        Ok(true)
    } else {
        Err("the signature does not match any trusted publisher key".into())
    }
}

impl Marketplace {
    /// Lists the folder, checking new or changed packages.
    pub async fn list(&self, engine: &AppsEngine) -> Vec<Listing> {
        let dir = engine.config().marketplace_dir.clone();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "zip") && p.is_file())
                .collect(),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the marketplace folder");
                Vec::new()
            }
        };
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for path in files {
            let stamp = stamp(&path);
            let cached = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&path)
                .filter(|(s, _)| *s == stamp)
                .map(|(_, l)| l.clone());
            let listing = match cached {
                Some(l) => l,
                None => {
                    let l = check(engine, &path).await;
                    self.cache
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(path.clone(), (stamp, l.clone()));
                    l
                }
            };
            out.push(listing);
        }
        out
    }

    /// The package bytes of a listed app: the highest valid version, or the given
    /// one.
    pub async fn package_for(
        &self,
        engine: &AppsEngine,
        app_id: &str,
        version: Option<&str>,
    ) -> Result<Vec<u8>, AppsError> {
        let listings = self.list(engine).await;
        let mut candidates: Vec<&Listing> = listings
            .iter()
            .filter(|l| l.id.as_deref() == Some(app_id))
            .filter(|l| version.is_none() || l.version.as_deref() == version)
            .collect();
        if candidates.is_empty() {
            return Err(AppsError::NotInMarketplace(match version {
                Some(v) => format!("the marketplace has no {app_id} {v}"),
                None => format!("the marketplace has no app {app_id:?}"),
            }));
        }
        candidates.sort_by_key(|l| {
            l.version
                .as_deref()
                .and_then(|v| semver::Version::parse(v).ok())
        });
        let best = candidates.last().copied().ok_or(AppsError::NotFound)?;
        if !best.valid {
            return Err(AppsError::Invalid(format!(
                "{} is invalid: {}",
                best.file,
                best.error.clone().unwrap_or_default()
            )));
        }
        let path = engine.config().marketplace_dir.join(&best.file);
        let bytes = std::fs::read(&path).map_err(|e| AppsError::Io(e.to_string()))?;
        // The file may have changed since it was listed: check its hash.
        if sha256_hex(&bytes) != best.sha256 {
            return Err(AppsError::Invalid(format!(
                "{} changed while being installed; try again",
                best.file
            )));
        }
        Ok(bytes)
    }
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok();
    let sig = std::fs::metadata(format!("{}.sig", path.display()))
        .ok()
        .and_then(|m| m.modified().ok());
    (
        meta.as_ref().map_or(0, |m| m.len()),
        meta.and_then(|m| m.modified().ok()),
        sig,
    )
}

async fn check(engine: &AppsEngine, path: &Path) -> Listing {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut listing = Listing {
        file,
        id: None,
        name: None,
        version: None,
        description: None,
        author: None,
        api_version: None,
        permissions: Vec::new(),
        settings: Vec::new(),
        commands: Vec::new(),
        sha256: String::new(),
        signed: false,
        valid: false,
        error: None,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            listing.error = Some(format!("cannot read: {e}"));
            return listing;
        }
    };
    listing.sha256 = sha256_hex(&bytes);
    let cfg = engine.config();
    match verify_signature(path, &bytes, &cfg.trusted_keys) {
        Ok(signed) => listing.signed = signed,
        Err(e) => {
            listing.error = Some(e);
            return listing;
        }
    }
    // Show what the manifest says even when the component is refused.
    if let Ok(p) = super::package::read(&bytes, &cfg.package_limits) {
        let m = &p.manifest;
        listing.id = Some(m.id.clone());
        listing.name = Some(m.name.clone());
        listing.version = Some(m.version.clone());
        listing.description = Some(m.description.clone());
        listing.author = Some(m.author.clone());
        listing.api_version = Some(m.api_version.clone());
        listing.permissions = permission_views(m);
        listing.settings = m.settings.clone();
        listing.commands = m.commands.clone();
    }
    if cfg.require_signatures && !listing.signed {
        listing.error = Some("unsigned, and this server requires signed packages".into());
        return listing;
    }
    match engine.validate(&bytes).await {
        Ok(_) => listing.valid = true,
        Err(e) => listing.error = Some(e.to_string()),
    }
    listing
}

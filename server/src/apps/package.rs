//! App packages: one `.zip` holding `app.toml`, `app.wasm` and optionally
//! `icon.png`, `README.md`, `i18n/<lang>.toml`. Read entirely in memory with every
//! size checked against what is actually decompressed (declared sizes can lie);
//! nothing in a package can name a path outside it. Its assets (README, icon,
//! translations) are written to disk only through a cap-std [`cap_std::fs::Dir`] of the
//! app's own asset directory ([`extract_assets`]), so no entry can land outside it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};

use super::manifest::{Manifest, ManifestError};

/// Bounds on a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackageLimits {
    pub max_package_bytes: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_entries: usize,
    /// Largest uncompressed/compressed ratio of one entry (zip bombs).
    pub max_ratio: u64,
}

impl Default for PackageLimits {
    fn default() -> Self {
        PackageLimits {
            max_package_bytes: 32 * 1024 * 1024,
            max_file_bytes: 48 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            max_entries: 64,
            max_ratio: 200,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackageError {
    #[error("the package is not a zip file: {0}")]
    NotZip(String),
    #[error("the package is {0} bytes, over the {1}-byte limit")]
    TooLarge(usize, usize),
    #[error("unsafe entry {0:?}: {1}")]
    UnsafeEntry(String, &'static str),
    #[error("entry {0:?} appears twice")]
    Duplicate(String),
    #[error("unexpected entry {0:?}: a package holds app.toml, app.wasm, icon.png, README.md and i18n/*.toml only")]
    Unexpected(String),
    #[error("entry {0:?} is too large or too compressed (zip bomb protection): {1}")]
    Bomb(String, String),
    #[error("the package has no {0}")]
    Missing(&'static str),
    #[error("{0} is not UTF-8 text")]
    NotText(String),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// A package's contents.
#[derive(Clone, Debug)]
pub struct Package {
    pub manifest: Manifest,
    pub manifest_text: String,
    pub wasm: Vec<u8>,
    pub readme: Option<String>,
    pub icon: Option<Vec<u8>>,
    /// Translations by language code.
    pub i18n: BTreeMap<String, String>,
    /// SHA-256 of the package file, hex.
    pub sha256: String,
}

/// The file in an asset directory naming the package its contents came from.
const ASSETS_MARKER: &str = ".package-sha256";

/// Writes the package's README, icon and translations into `dir` (created if need
/// be, emptied first), through a capability on `dir` only. Does nothing when `dir`
/// already holds this package's assets (every start loads every app).
pub fn extract_assets(package: &Package, dir: &std::path::Path) -> std::io::Result<()> {
    use cap_std::ambient_authority;
    use cap_std::fs::Dir;

    if std::fs::read_to_string(dir.join(ASSETS_MARKER)).is_ok_and(|s| s == package.sha256) {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let root = Dir::open_ambient_dir(dir, ambient_authority())?;
    if let Some(readme) = &package.readme {
        root.write("README.md", readme)?;
    }
    if let Some(icon) = &package.icon {
        root.write("icon.png", icon)?;
    }
    if !package.i18n.is_empty() {
        root.create_dir("i18n")?;
        let i18n = root.open_dir("i18n")?;
        for (lang, body) in &package.i18n {
            i18n.write(format!("{lang}.toml"), body)?;
        }
    }
    // Written last: a half-extracted directory is redone at the next load.
    root.write(ASSETS_MARKER, &package.sha256)?;
    Ok(())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks an entry name: relative, no `..`, no backslashes or drive letters.
fn check_name(name: &str) -> Result<(), PackageError> {
    let unsafe_entry = |why| Err(PackageError::UnsafeEntry(name.to_string(), why));
    if name.is_empty() || name.contains('\0') {
        return unsafe_entry("empty or NUL in name");
    }
    if name.starts_with('/') || name.contains('\\') || name.contains(':') {
        return unsafe_entry("absolute or non-portable path");
    }
    if name.split('/').any(|seg| seg == "..") {
        return unsafe_entry("path escapes the package (\"..\")");
    }
    Ok(())
}

fn allowed(name: &str) -> bool {
    matches!(name, "app.toml" | "app.wasm" | "icon.png" | "README.md")
        || name
            .strip_prefix("i18n/")
            .and_then(|f| f.strip_suffix(".toml"))
            .is_some_and(|lang| {
                (2..=16).contains(&lang.len())
                    && lang
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
}

/// Entry names as the central directory lists them (the zip reader keeps only one
/// entry per name, so duplicates must be found here). `None` when the directory
/// cannot be walked (ZIP64, damage): the reader then reports the problem.
fn central_names(bytes: &[u8]) -> Option<Vec<String>> {
    let u16_at = |i: usize| Some(u16::from_le_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
    let u32_at = |i: usize| {
        Some(u32::from_le_bytes([
            *bytes.get(i)?,
            *bytes.get(i + 1)?,
            *bytes.get(i + 2)?,
            *bytes.get(i + 3)?,
        ]))
    };
    let start = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (start..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))?;
    let count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)? as usize;
    if count == u16::MAX || at == u32::MAX as usize {
        return None;
    }
    let mut names = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if bytes.get(at..at + 4)? != b"PK\x01\x02" {
            return None;
        }
        let (name_len, extra, comment) = (
            u16_at(at + 28)? as usize,
            u16_at(at + 30)? as usize,
            u16_at(at + 32)? as usize,
        );
        names.push(String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_len)?).to_string());
        at += 46 + name_len + extra + comment;
    }
    Some(names)
}

/// Reads and validates a package (the manifest included; the component is checked
/// against the WIT world separately, by the runtime).
pub fn read(bytes: &[u8], limits: &PackageLimits) -> Result<Package, PackageError> {
    if bytes.len() > limits.max_package_bytes {
        return Err(PackageError::TooLarge(
            bytes.len(),
            limits.max_package_bytes,
        ));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| PackageError::NotZip(e.to_string()))?;
    // The zip reader keeps one entry per name, so count the central directory.
    if let Some(names) = central_names(bytes) {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = names.into_iter().find(|n| !seen.insert(n.clone())) {
            return Err(PackageError::Duplicate(dup));
        }
    }
    if archive.len() > limits.max_entries {
        return Err(PackageError::Bomb(
            "*".into(),
            format!("{} entries, at most {}", archive.len(), limits.max_entries),
        ));
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| PackageError::NotZip(e.to_string()))?;
        let name = entry.name().to_string();
        check_name(&name)?;
        if entry.is_symlink() || entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(PackageError::UnsafeEntry(name, "links are not allowed"));
        }
        if entry.is_dir() {
            continue;
        }
        if !allowed(&name) {
            return Err(PackageError::Unexpected(name));
        }
        if files.contains_key(&name) {
            return Err(PackageError::Duplicate(name));
        }
        let declared = entry.size();
        let compressed = entry.compressed_size().max(1);
        if declared > limits.max_file_bytes {
            return Err(PackageError::Bomb(
                name,
                format!("{declared} bytes, at most {}", limits.max_file_bytes),
            ));
        }
        if declared / compressed > limits.max_ratio {
            return Err(PackageError::Bomb(
                name,
                format!(
                    "compression ratio {} over {}",
                    declared / compressed,
                    limits.max_ratio
                ),
            ));
        }
        // Never trust the declared size: read at most one byte past every limit.
        let budget = limits
            .max_file_bytes
            .min(limits.max_total_bytes.saturating_sub(total));
        let mut data = Vec::with_capacity(declared.min(budget) as usize);
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| PackageError::NotZip(format!("{name}: {e}")))?;
        if data.len() as u64 > budget {
            return Err(PackageError::Bomb(
                name,
                "decompresses past the package limits".into(),
            ));
        }
        if data.len() as u64 / compressed > limits.max_ratio {
            return Err(PackageError::Bomb(
                name,
                "compression ratio too high".into(),
            ));
        }
        total += data.len() as u64;
        files.insert(name, data);
    }
    let text = |files: &mut BTreeMap<String, Vec<u8>>,
                name: &str|
     -> Result<Option<String>, PackageError> {
        files
            .remove(name)
            .map(|b| String::from_utf8(b).map_err(|_| PackageError::NotText(name.to_string())))
            .transpose()
    };
    let manifest_text = text(&mut files, "app.toml")?.ok_or(PackageError::Missing("app.toml"))?;
    let manifest = Manifest::parse(&manifest_text)?;
    let wasm = files
        .remove("app.wasm")
        .ok_or(PackageError::Missing("app.wasm"))?;
    let readme = text(&mut files, "README.md")?;
    let icon = files.remove("icon.png");
    let mut i18n = BTreeMap::new();
    for name in files.keys().cloned().collect::<Vec<_>>() {
        if let Some(lang) = name
            .strip_prefix("i18n/")
            .and_then(|f| f.strip_suffix(".toml"))
        {
            let body = text(&mut files, &name)?.unwrap_or_default();
            i18n.insert(lang.to_string(), body);
        }
    }
    Ok(Package {
        manifest,
        manifest_text,
        wasm,
        readme,
        icon,
        i18n,
        sha256: sha256_hex(bytes),
    })
}

/// Builds a package from its parts (used by `palaver app pack`).
pub fn write(
    manifest_text: &str,
    wasm: &[u8],
    extras: &[(&str, Vec<u8>)],
) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        let mut add = |name: &str, data: &[u8]| -> Result<(), String> {
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(data).map_err(|e| e.to_string())
        };
        add("app.toml", manifest_text.as_bytes())?;
        add("app.wasm", wasm)?;
        for (name, data) in extras {
            if !allowed(name) {
                return Err(format!("{name} does not belong in a package"));
            }
            add(name, data)?;
        }
        zip.finish().map_err(|e| e.to_string())?;
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MANIFEST: &str = "id = \"tt\"\nname = \"T\"\nversion = \"1.0.0\"\napi-version = \"0.1.0\"\n[author]\nname = \"me\"\n";

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, data) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn round_trips() {
        let bytes = write(MANIFEST, b"\0asm", &[("README.md", b"hi".to_vec())]).unwrap();
        let p = read(&bytes, &PackageLimits::default()).unwrap();
        assert_eq!(p.manifest.id, "tt");
        assert_eq!(p.wasm, b"\0asm");
        assert_eq!(p.readme.as_deref(), Some("hi"));
        let dir = tempfile::tempdir().expect("tempdir");
        let assets = dir.path().join("assets");
        extract_assets(&p, &assets).expect("extract");
        assert_eq!(
            std::fs::read_to_string(assets.join("README.md")).unwrap(),
            "hi"
        );
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn refuses_unsafe_packages() {
        let limits = PackageLimits::default();
        let err = |entries: &[(&str, &[u8])]| read(&zip_of(entries), &limits).unwrap_err();
        assert!(matches!(
            err(&[("../app.toml", b"x")]),
            PackageError::UnsafeEntry(..)
        ));
        assert!(matches!(
            err(&[("/etc/passwd", b"x")]),
            PackageError::UnsafeEntry(..)
        ));
        assert!(matches!(
            err(&[("evil.sh", b"x")]),
            PackageError::Unexpected(_)
        ));
        assert!(matches!(
            err(&[("app.wasm", b"x")]),
            PackageError::Missing("app.toml")
        ));
        assert!(matches!(
            err(&[("app.toml", MANIFEST.as_bytes())]),
            PackageError::Missing("app.wasm")
        ));
        assert!(matches!(
            read(b"not a zip", &limits).unwrap_err(),
            PackageError::NotZip(_)
        ));
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let bomb = zip_of(&[("app.toml", MANIFEST.as_bytes()), ("app.wasm", &zeros)]);
        assert!(matches!(
            read(&bomb, &limits).unwrap_err(),
            PackageError::Bomb(..)
        ));
    }
}

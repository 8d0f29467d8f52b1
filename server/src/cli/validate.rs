//! `palaver app validate PKG`: the install checks, offline.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use super::{fail, CliError, CliResult};
use crate::apps::limits::AppLimits;
use crate::apps::marketplace::{permission_views, verify_signature};
use crate::apps::package::{self, Package, PackageLimits};
use crate::apps::runtime::Runtime;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The package (.zip). A detached signature PKG.sig next to it is verified.
    pub pkg: PathBuf,
    /// A trusted publisher key (ed25519 public key, hex or base64), as in the server's
    /// `apps.trusted_keys`. Repeatable.
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Refuse an unsigned package, as a server with `apps.require_signatures` does.
    #[arg(long)]
    pub require_signature: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A package that passed every check.
#[derive(Debug)]
pub struct Valid {
    pub package: Package,
    pub signed: bool,
}

/// A temporary directory removed on drop (the compile cache of one validation).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        TempDir(
            std::env::temp_dir().join(format!("palaver-validate-{}-{nanos}", std::process::id())),
        )
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Checks the package at `path` as an install would: signature (when `PKG.sig`
/// exists, or required), format and manifest, and the component against the
/// palaver:apps world (compiled, not run). `Err` is the refusal.
pub fn validate(
    path: &Path,
    trusted_keys: &[String],
    require_signature: bool,
) -> Result<Valid, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let signed = verify_signature(path, &bytes, trusted_keys)?;
    if require_signature && !signed {
        return Err(format!(
            "unsigned ({}.sig does not exist), and a signature is required",
            path.display()
        ));
    }
    let package = package::read(&bytes, &PackageLimits::default()).map_err(|e| e.to_string())?;
    let cache = TempDir::new();
    let runtime = Runtime::new(&AppLimits::default(), &cache.0)
        .map_err(|e| format!("cannot start the WebAssembly runtime: {e}"))?;
    runtime.prepare(&package.wasm).map_err(|e| e.to_string())?;
    Ok(Valid { package, signed })
}

/// The summary of a valid package, as JSON.
pub fn summary_json(path: &Path, valid: &Valid) -> Value {
    let m = &valid.package.manifest;
    json!({
        "valid": true,
        "file": path.display().to_string(),
        "id": m.id,
        "name": m.name,
        "version": m.version,
        "apiVersion": m.api_version,
        "sha256": valid.package.sha256,
        "signed": valid.signed,
        "permissions": permission_views(m),
        "commands": m.commands,
        "endpoints": m.endpoints,
        "settings": m.settings,
        "events": m.events,
    })
}

/// The summary of a valid package, as text.
pub fn summary_text(path: &Path, valid: &Valid) -> String {
    let m = &valid.package.manifest;
    let none = || "(none)".to_string();
    let list = |items: Vec<String>| {
        if items.is_empty() {
            none()
        } else {
            items.join(", ")
        }
    };
    let permissions = list(
        m.permissions
            .iter()
            .map(|p| {
                let mut notes = Vec::new();
                if !p.required {
                    notes.push("optional".to_string());
                }
                if !p.hosts.is_empty() {
                    notes.push(format!("hosts: {}", p.hosts.join(" ")));
                }
                if notes.is_empty() {
                    p.name.clone()
                } else {
                    format!("{} ({})", p.name, notes.join("; "))
                }
            })
            .collect(),
    );
    let commands = list(
        m.commands
            .iter()
            .map(|c| {
                if c.params.is_empty() {
                    format!("/{}", c.name)
                } else {
                    format!("/{} {}", c.name, c.params)
                }
            })
            .collect(),
    );
    let endpoints = list(
        m.endpoints
            .iter()
            .map(|e| {
                format!(
                    "{} {} ({})",
                    e.methods.join("|"),
                    e.path,
                    if e.public { "public" } else { "private" }
                )
            })
            .collect(),
    );
    let settings = list(m.settings.iter().map(|s| s.id.clone()).collect());
    let events = list(
        m.events
            .iter()
            .map(|e| {
                serde_json::to_value(e)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect(),
    );
    let rows = [
        ("file", path.display().to_string()),
        ("id", m.id.clone()),
        ("name", m.name.clone()),
        ("version", m.version.clone()),
        ("api-version", m.api_version.clone()),
        ("permissions", permissions),
        ("commands", commands),
        ("endpoints", endpoints),
        ("settings", settings),
        ("events", events),
        ("sha256", valid.package.sha256.clone()),
        (
            "signed",
            if valid.signed { "yes" } else { "no" }.to_string(),
        ),
    ];
    let mut out = format!("valid: {} {}\n", m.id, m.version);
    for (key, value) in rows {
        out.push_str(&format!("  {:<12} {value}\n", format!("{key}:")));
    }
    out
}

pub fn run(args: &ValidateArgs) -> CliResult {
    match validate(&args.pkg, &args.trusted_keys, args.require_signature) {
        Ok(valid) => {
            if args.json {
                let text = serde_json::to_string_pretty(&summary_json(&args.pkg, &valid))
                    .map_err(|e| fail!("{e}"))?;
                println!("{text}");
            } else {
                print!("{}", summary_text(&args.pkg, &valid));
            }
            Ok(())
        }
        Err(reason) => {
            if args.json {
                println!(
                    "{}",
                    json!({"valid": false, "file": args.pkg.display().to_string(), "error": reason})
                );
            }
            Err(CliError(format!(
                "invalid package {}: {reason}",
                args.pkg.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "id = \"t-app\"\nname = \"T\"\nversion = \"1.2.3\"\napi-version = \"0.1.0\"\n[author]\nname = \"me\"\n";

    #[test]
    fn refuses_what_an_install_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.zip");
        let check = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            validate(&path, &[], false).unwrap_err()
        };
        assert!(check(b"not a zip").contains("not a zip file"));
        let minimal = package::write(MANIFEST, b"\0asm", &[]).unwrap();
        assert!(check(&package::write("id = 1", b"\0asm", &[]).unwrap())
            .contains("invalid app manifest"));
        let err = check(&package::write(MANIFEST, b"\0asm\x0d\0\x01\0junk", &[]).unwrap());
        assert!(err.contains("not a valid component"), "{err}");

        // A signature needs trusted keys; an unsigned package may be required signed.
        std::fs::write(&path, &minimal).unwrap();
        std::fs::write(tmp.path().join("p.zip.sig"), [7u8; 64]).unwrap();
        assert!(validate(&path, &[], false)
            .unwrap_err()
            .contains("no publisher keys are trusted"));
        std::fs::remove_file(tmp.path().join("p.zip.sig")).unwrap();
        assert!(validate(&path, &[], true)
            .unwrap_err()
            .contains("a signature is required"));
        assert!(validate(&tmp.path().join("missing.zip"), &[], false)
            .unwrap_err()
            .contains("cannot read"));
    }
}

//! `palaver app build` and `palaver app pack`: from an app crate to a package.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use serde_json::Value;

use super::{fail, CliResult};
use crate::apps::manifest::Manifest;
use crate::apps::package::{self, PackageLimits};

/// The target apps are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The first 8 bytes of a WebAssembly component (a core module has version 1 there).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The app's directory (with Cargo.toml and app.toml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the package (default: DIR/dist/<id>-<version>.zip).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also copy the package into this marketplace directory.
    #[arg(long, value_name = "DIR")]
    pub marketplace: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The app's directory (with app.toml, and Cargo.toml unless --wasm is given).
    pub dir: PathBuf,
    /// The component to pack (default: the crate's release build for wasm32-wasip2).
    #[arg(long, value_name = "FILE")]
    pub wasm: Option<PathBuf>,
    /// Where to write the package (default: DIR/dist/<id>-<version>.zip).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// A package written by [`pack`].
#[derive(Debug)]
pub struct Packed {
    pub path: PathBuf,
    pub sha256: String,
    pub manifest: Manifest,
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// A child's output goes to our stderr: stdout is for the results.
fn to_stderr() -> Stdio {
    Stdio::from(std::io::stderr())
}

/// Installs the wasm32-wasip2 target with rustup when it is missing. Without rustup
/// (or when it cannot list targets) the build is left to say what is wrong.
fn ensure_target() -> CliResult {
    let listed = match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => out,
        _ => return Ok(()),
    };
    let installed = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET);
    if installed {
        return Ok(());
    }
    eprintln!("Installing the {WASM_TARGET} target: rustup target add {WASM_TARGET}");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .stdout(to_stderr())
        .status()
        .map_err(|e| fail!("cannot run rustup: {e}"))?;
    if !status.success() {
        return Err(fail!("`rustup target add {WASM_TARGET}` failed ({status})"));
    }
    Ok(())
}

/// The name of the library a `Cargo.toml` builds (`[lib] name`, else the package
/// name), as it appears in file names (`-` → `_`).
pub fn lib_name_from_cargo_toml(text: &str) -> Result<String, String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("Cargo.toml: {}", e.message()))?;
    let lib = table
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str());
    let package = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    lib.or(package)
        .map(|n| n.replace('-', "_"))
        .ok_or_else(|| "Cargo.toml has no [package] name (is it a workspace manifest?)".into())
}

/// From `cargo metadata --format-version 1 --no-deps` output: the target directory,
/// and the library name of the package whose manifest is `manifest_path` (its cdylib
/// target, `-` → `_`).
pub fn from_metadata(
    metadata: &Value,
    manifest_path: &Path,
) -> Result<(PathBuf, Option<String>), String> {
    let target_dir = metadata["target_directory"]
        .as_str()
        .ok_or("cargo metadata has no target_directory")?;
    let package = metadata["packages"].as_array().and_then(|packages| {
        packages
            .iter()
            .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest_path))
    });
    let lib = package.and_then(|p| {
        p["targets"].as_array()?.iter().find_map(|t| {
            let kinds = t["crate_types"].as_array()?;
            kinds
                .iter()
                .any(|k| k == "cdylib")
                .then(|| t["name"].as_str().map(|n| n.replace('-', "_")))?
        })
    });
    Ok((PathBuf::from(target_dir), lib))
}

/// Where the release component of `lib_name` is in `target_dir`.
pub fn wasm_file(target_dir: &Path, lib_name: &str) -> PathBuf {
    target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{lib_name}.wasm"))
}

/// The target directory when cargo metadata is not available: `CARGO_TARGET_DIR`
/// (relative to `dir`), else `dir/target`.
pub fn fallback_target_dir(dir: &Path, env_target_dir: Option<&std::ffi::OsStr>) -> PathBuf {
    match env_target_dir {
        Some(t) if !t.is_empty() => {
            let t = Path::new(t);
            if t.is_absolute() {
                t.to_path_buf()
            } else {
                dir.join(t)
            }
        }
        _ => dir.join("target"),
    }
}

/// The release component cargo builds for the crate in `dir`.
pub fn find_wasm(dir: &Path) -> CliResult<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| {
        fail!(
            "{}: {e} (pass --wasm FILE to pack a component built elsewhere)",
            manifest.display()
        )
    })?;
    let declared = lib_name_from_cargo_toml(&text).map_err(super::CliError)?;
    let canonical = manifest.canonicalize().unwrap_or_else(|_| manifest.clone());
    let metadata = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(&canonical)
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|m| from_metadata(&m, &canonical).ok());
    let (target_dir, lib) = match metadata {
        Some((target_dir, lib)) => (target_dir, lib.unwrap_or(declared)),
        None => (
            fallback_target_dir(dir, std::env::var_os("CARGO_TARGET_DIR").as_deref()),
            declared,
        ),
    };
    let wasm = wasm_file(&target_dir, &lib);
    if !wasm.is_file() {
        return Err(fail!(
            "there is no component at {}: build it first (palaver app build), or pass --wasm FILE",
            wasm.display()
        ));
    }
    Ok(wasm)
}

/// Checks that `bytes` are a WebAssembly component.
fn check_component(path: &Path, bytes: &[u8]) -> CliResult {
    if bytes.starts_with(&COMPONENT_HEADER) {
        Ok(())
    } else if bytes.starts_with(&MODULE_HEADER) {
        Err(fail!(
            "{} is a core WebAssembly module, not a component: build the app for {WASM_TARGET}",
            path.display()
        ))
    } else {
        Err(fail!("{} is not WebAssembly", path.display()))
    }
}

/// The optional files of a package found in `dir`: README.md, icon.png, i18n/*.toml.
fn extras(dir: &Path) -> CliResult<Vec<(String, Vec<u8>)>> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| fail!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for name in ["README.md", "icon.png"] {
        let path = dir.join(name);
        if path.is_file() {
            out.push((name.to_string(), read(&path)?));
        }
    }
    let i18n = dir.join("i18n");
    if i18n.is_dir() {
        let entries = std::fs::read_dir(&i18n).map_err(|e| fail!("{}: {e}", i18n.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| fail!("{}: the file name is not UTF-8", file.display()))?;
            out.push((format!("i18n/{name}"), read(&file)?));
        }
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, then
/// a rename), so a server watching the directory never sees half a package.
fn write_atomic(path: &Path, bytes: &[u8]) -> CliResult {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| fail!("cannot create {}: {e}", parent.display()))?;
    let file_name = path
        .file_name()
        .ok_or_else(|| fail!("{} is not a file path", path.display()))?;
    let partial = parent.join(format!(
        ".{}.{}.partial",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&partial)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&partial, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(fail!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Packs the app in `dir` with the component at `wasm_path` into `out` (default
/// `dir/dist/<id>-<version>.zip`), and checks the result as the server would read it.
pub fn pack(dir: &Path, wasm_path: &Path, out: Option<&Path>) -> CliResult<Packed> {
    let manifest_path = dir.join("app.toml");
    let manifest_text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| fail!("{}: {e}", manifest_path.display()))?;
    let manifest =
        Manifest::parse(&manifest_text).map_err(|e| fail!("{}: {e}", manifest_path.display()))?;
    let wasm = std::fs::read(wasm_path).map_err(|e| fail!("{}: {e}", wasm_path.display()))?;
    check_component(wasm_path, &wasm)?;
    let extras = extras(dir)?;
    let extra_refs: Vec<(&str, Vec<u8>)> = extras
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let bytes = package::write(&manifest_text, &wasm, &extra_refs)
        .map_err(|e| fail!("cannot pack {}: {e}", dir.display()))?;
    let read = package::read(&bytes, &PackageLimits::default())
        .map_err(|e| fail!("the package would be refused: {e}"))?;
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => dir
            .join("dist")
            .join(format!("{}-{}.zip", manifest.id, manifest.version)),
    };
    write_atomic(&path, &bytes)?;
    Ok(Packed {
        path,
        sha256: read.sha256,
        manifest,
    })
}

/// Copies a package into a marketplace directory (atomically); returns its new path.
fn publish(package: &Path, marketplace: &Path) -> CliResult<PathBuf> {
    let bytes = std::fs::read(package).map_err(|e| fail!("{}: {e}", package.display()))?;
    let name = package
        .file_name()
        .ok_or_else(|| fail!("{} is not a file path", package.display()))?;
    let dest = marketplace.join(name);
    write_atomic(&dest, &bytes)?;
    Ok(dest)
}

fn print_packed(packed: &Packed) {
    println!(
        "Packed {} {} into {}",
        packed.manifest.id,
        packed.manifest.version,
        packed.path.display()
    );
    println!("sha256 {}", packed.sha256);
}

pub fn run_build(args: &BuildArgs) -> CliResult {
    let dir = &args
        .dir
        .canonicalize()
        .map_err(|e| fail!("{}: {e}", args.dir.display()))?;
    for needed in ["Cargo.toml", "app.toml"] {
        if !dir.join(needed).is_file() {
            return Err(fail!(
                "{} has no {needed}: is it an app directory? (palaver app new NAME makes one)",
                dir.display()
            ));
        }
    }
    // A manifest error is reported before a long build.
    let manifest_path = dir.join("app.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| fail!("{}: {e}", manifest_path.display()))?;
    Manifest::parse(&text).map_err(|e| fail!("{}: {e}", manifest_path.display()))?;

    ensure_target()?;
    let manifest = dir.join("Cargo.toml");
    eprintln!("Building {} for {WASM_TARGET} (release)", dir.display());
    let status = Command::new(cargo())
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(to_stderr())
        .status()
        .map_err(|e| fail!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(fail!("cargo build failed ({status})"));
    }
    let wasm = find_wasm(dir)?;
    let packed = pack(dir, &wasm, args.out.as_deref())?;
    print_packed(&packed);
    if let Some(marketplace) = &args.marketplace {
        let dest = publish(&packed.path, marketplace)?;
        println!("Copied to {}", dest.display());
    }
    Ok(())
}

pub fn run_pack(args: &PackArgs) -> CliResult {
    let wasm = match &args.wasm {
        Some(w) => w.clone(),
        None => find_wasm(&args.dir)?,
    };
    let packed = pack(&args.dir, &wasm, args.out.as_deref())?;
    print_packed(&packed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lib_names() {
        let pkg = "[package]\nname = \"my-app\"\nversion = \"0.1.0\"\n";
        assert_eq!(lib_name_from_cargo_toml(pkg).unwrap(), "my_app");
        let lib = format!("{pkg}[lib]\nname = \"other-name\"\ncrate-type = [\"cdylib\"]\n");
        assert_eq!(lib_name_from_cargo_toml(&lib).unwrap(), "other_name");
        assert!(lib_name_from_cargo_toml("[workspace]\nmembers = []\n")
            .unwrap_err()
            .contains("no [package] name"));
        assert!(lib_name_from_cargo_toml("not toml [").is_err());
    }

    #[test]
    fn metadata_gives_the_target_dir_and_the_cdylib() {
        let metadata = json!({
            "target_directory": "/ws/target",
            "packages": [
                {"manifest_path": "/ws/other/Cargo.toml", "targets": [
                    {"name": "other", "crate_types": ["cdylib"]}]},
                {"manifest_path": "/ws/my-app/Cargo.toml", "targets": [
                    {"name": "build-script-build", "crate_types": ["bin"]},
                    {"name": "my-app", "crate_types": ["cdylib", "rlib"]}]},
            ],
        });
        let (dir, lib) = from_metadata(&metadata, Path::new("/ws/my-app/Cargo.toml")).unwrap();
        assert_eq!(dir, PathBuf::from("/ws/target"));
        assert_eq!(lib.as_deref(), Some("my_app"));
        assert_eq!(
            wasm_file(&dir, "my_app"),
            PathBuf::from("/ws/target/wasm32-wasip2/release/my_app.wasm")
        );
        let (_, none) = from_metadata(&metadata, Path::new("/elsewhere/Cargo.toml")).unwrap();
        assert_eq!(none, None);
        assert!(from_metadata(&json!({}), Path::new("/x")).is_err());
    }

    #[test]
    fn fallback_target_dirs() {
        let dir = Path::new("/apps/hello");
        assert_eq!(fallback_target_dir(dir, None), dir.join("target"));
        assert_eq!(
            fallback_target_dir(dir, Some(std::ffi::OsStr::new(""))),
            dir.join("target")
        );
        assert_eq!(
            fallback_target_dir(dir, Some(std::ffi::OsStr::new("/t"))),
            PathBuf::from("/t")
        );
        assert_eq!(
            fallback_target_dir(dir, Some(std::ffi::OsStr::new("out"))),
            dir.join("out")
        );
    }

    const MANIFEST: &str = "id = \"t-app\"\nname = \"T\"\nversion = \"1.2.3\"\napi-version = \"0.1.0\"\n[author]\nname = \"me\"\n";

    #[test]
    fn packs_and_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("app.toml"), MANIFEST).unwrap();
        std::fs::write(dir.join("README.md"), "# T").unwrap();
        std::fs::create_dir(dir.join("i18n")).unwrap();
        std::fs::write(dir.join("i18n/de.toml"), "x = 1").unwrap();
        let mut wasm = COMPONENT_HEADER.to_vec();
        wasm.extend_from_slice(b"rest");
        let wasm_path = dir.join("c.wasm");
        std::fs::write(&wasm_path, &wasm).unwrap();

        let packed = pack(dir, &wasm_path, None).unwrap();
        assert_eq!(packed.path, dir.join("dist/t-app-1.2.3.zip"));
        let bytes = std::fs::read(&packed.path).unwrap();
        let p = package::read(&bytes, &PackageLimits::default()).unwrap();
        assert_eq!(p.sha256, packed.sha256);
        assert_eq!(p.wasm, wasm);
        assert_eq!(p.readme.as_deref(), Some("# T"));
        assert_eq!(p.i18n.get("de").map(String::as_str), Some("x = 1"));
        // The same inputs give the same bytes.
        let again = pack(dir, &wasm_path, Some(&dir.join("again.zip"))).unwrap();
        assert_eq!(again.sha256, packed.sha256);
        let market = dir.join("market");
        let published = publish(&packed.path, &market).unwrap();
        assert_eq!(std::fs::read(published).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(&market).unwrap().count(), 1);

        std::fs::write(&wasm_path, MODULE_HEADER).unwrap();
        assert!(pack(dir, &wasm_path, None)
            .unwrap_err()
            .0
            .contains("not a component"));
        std::fs::write(&wasm_path, b"nope").unwrap();
        assert!(pack(dir, &wasm_path, None)
            .unwrap_err()
            .0
            .contains("not WebAssembly"));
        std::fs::write(dir.join("app.toml"), "id = \"X\"").unwrap();
        assert!(pack(dir, &wasm_path, None)
            .unwrap_err()
            .0
            .contains("invalid app manifest"));
        std::fs::write(dir.join("app.toml"), MANIFEST).unwrap();
        std::fs::write(&wasm_path, &wasm).unwrap();
        std::fs::write(dir.join("i18n/not a language!.toml"), "").unwrap();
        assert!(pack(dir, &wasm_path, None)
            .unwrap_err()
            .0
            .contains("does not belong in a package"));
        assert!(find_wasm(dir).unwrap_err().0.contains("Cargo.toml"));
    }
}

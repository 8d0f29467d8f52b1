//! The WebAssembly apps the end-to-end tests install: built from their cargo workspaces
//! (`sample-apps/`, `tests/apps/`) for `wasm32-wasip2`, and packed into `.zip`
//! packages like the ones an admin drops into the marketplace directory.
//!
//! [`build_apps`] runs `cargo build --release --target wasm32-wasip2` once per test
//! process and workspace, into its own target directory (`<target>/wasm-apps`, so it
//! never waits for the lock of the main build), under a file lock so that concurrent
//! test processes take turns. [`package`] writes `<id>-<version>.zip` with `app.toml`,
//! `app.wasm` and, when present, `README.md`, `icon.png` and `i18n/*.toml`.
//!
//! ```ignore
//! let marketplace = tempfile::tempdir().unwrap();
//! let hello = palaver_tests::apps::hello_package(marketplace.path()); // …/hello-0.1.0.zip
//! ```

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::lock;
use crate::process::{cargo, target_dir};

/// The target the apps are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// The first 8 bytes of a WebAssembly *component* (a core module has `01 00 00 00`
/// where a component has `0d 00 01 00`).
pub const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Environment variables of the outer cargo that must not leak into the wasm build:
/// host flags (sanitizers, coverage, `-C target-cpu=native`) break or slow a
/// `wasm32-wasip2` build, and a forced target or target directory would send it
/// elsewhere.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// The repository root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// The `sample-apps/` workspace (hello, …).
pub fn sample_apps_dir() -> PathBuf {
    repo_root().join("sample-apps")
}

/// The `tests/apps/` workspace (hostile, polite, guard).
pub fn test_apps_dir() -> PathBuf {
    repo_root().join("tests").join("apps")
}

/// Where the apps are built: `PALAVER_TEST_WASM_TARGET_DIR` when set (so two checkouts
/// sharing one `CARGO_TARGET_DIR` do not overwrite each other's components), else
/// `<target dir>/wasm-apps`, the target directory being `CARGO_TARGET_DIR` or
/// `<repo>/target`.
pub fn wasm_target_dir() -> PathBuf {
    match std::env::var_os("PALAVER_TEST_WASM_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_dir().join("wasm-apps"),
    }
}

/// Makes sure the `wasm32-wasip2` target is installed: runs `rustup target add
/// wasm32-wasip2` when `rustup target list --installed` lacks it. Once per process;
/// without rustup it assumes the target is there (the build then says otherwise).
pub fn ensure_wasm_target() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let listed = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .stderr(Stdio::inherit())
            .output();
        let listed = match listed {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!(
                    "`rustup target list --installed` failed ({}); assuming {WASM_TARGET} is installed",
                    out.status
                );
                return;
            }
            Err(e) => {
                eprintln!("rustup is not available ({e}); assuming {WASM_TARGET} is installed");
                return;
            }
        };
        let installed = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .any(|line| line.trim() == WASM_TARGET);
        if installed {
            return;
        }
        eprintln!("installing the {WASM_TARGET} target with rustup");
        let out = Command::new("rustup")
            .args(["target", "add", WASM_TARGET])
            .output()
            .expect("run `rustup target add wasm32-wasip2`");
        if !out.status.success() {
            panic!(
                "`rustup target add {WASM_TARGET}` failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// An exclusive `flock` on a file, released when dropped (or when the process dies).
struct FileLock {
    _file: File,
}

impl FileLock {
    fn acquire(path: &Path) -> FileLock {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open the lock file {}: {e}", path.display()));
        loop {
            // SAFETY: `file` owns a valid open descriptor for the duration of the call.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return FileLock { _file: file };
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                panic!("lock {}: {err}", path.display());
            }
        }
    }
}

/// Builds every app of the cargo workspace at `workspace` (e.g. [`sample_apps_dir`])
/// with `cargo build --release --target wasm32-wasip2`, and returns the directory
/// holding the `.wasm` components (`<wasm target dir>/wasm32-wasip2/release`; an app
/// crate `foo-bar` gives `foo_bar.wasm`).
///
/// Once per process and workspace; concurrent callers wait for the first. Panics with
/// cargo's output when the build fails.
pub fn build_apps(workspace: &Path) -> PathBuf {
    static BUILDS: OnceLock<Mutex<HashMap<PathBuf, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let key = workspace
        .canonicalize()
        .unwrap_or_else(|e| panic!("app workspace {}: {e}", workspace.display()));
    let cell = {
        let mut builds = lock(BUILDS.get_or_init(Default::default));
        builds.entry(key.clone()).or_default().clone()
    };
    cell.get_or_init(|| build_now(&key)).clone()
}

fn build_now(workspace: &Path) -> PathBuf {
    ensure_wasm_target();
    let target_dir = wasm_target_dir();
    fs::create_dir_all(&target_dir)
        .unwrap_or_else(|e| panic!("create {}: {e}", target_dir.display()));
    let _lock = FileLock::acquire(&target_dir.join(".palaver-tests-build.lock"));

    let started = Instant::now();
    let mut command = Command::new(cargo());
    command
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SCRUBBED_ENV {
        command.env_remove(var);
    }
    crate::process::scrub_test_env(&mut command);
    let out = command.output().unwrap_or_else(|e| {
        panic!(
            "run cargo to build the apps in {}: {e}",
            workspace.display()
        )
    });
    if !out.status.success() {
        panic!(
            "building the apps in {} for {WASM_TARGET} failed ({}):\n{}{}",
            workspace.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!(
        "built the apps in {} for {WASM_TARGET} in {:.1?}",
        workspace.display(),
        started.elapsed()
    );
    target_dir.join(WASM_TARGET).join("release")
}

/// The component built for the app crate `crate_name` of `workspace` (building the
/// workspace first if this process has not).
pub fn wasm_path(workspace: &Path, crate_name: &str) -> PathBuf {
    let wasm = build_apps(workspace).join(format!("{}.wasm", crate_name.replace('-', "_")));
    assert!(
        wasm.is_file(),
        "the build of {} did not produce {}",
        workspace.display(),
        wasm.display()
    );
    wasm
}

/// Whether `bytes` start like a WebAssembly component (rather than a core module).
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.starts_with(&COMPONENT_HEADER)
}

/// The `id` and `version` of the manifest `app.toml` in `app_dir`.
pub fn manifest_id_version(app_dir: &Path) -> (String, String) {
    let path = app_dir.join("app.toml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let manifest: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let field = |name: &str| {
        manifest
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{} has no string `{name}`", path.display()))
            .to_string()
    };
    (field("id"), field("version"))
}

/// Packs the app in `app_dir` (its `app.toml`, and `README.md`, `icon.png`,
/// `i18n/*.toml` when present) with the component `wasm` as `app.wasm` into
/// `<out_dir>/<id>-<version>.zip`, and returns that path.
///
/// The file appears atomically (written under a temporary name, then renamed), so a
/// server watching `out_dir` never sees half a package. Entries carry a fixed date, so
/// the same inputs give the same bytes (and sha256).
pub fn package(app_dir: &Path, wasm: &Path, out_dir: &Path) -> PathBuf {
    let (id, version) = manifest_id_version(app_dir);
    fs::create_dir_all(out_dir).unwrap_or_else(|e| panic!("create {}: {e}", out_dir.display()));
    let name = format!("{id}-{version}.zip");
    let path = out_dir.join(&name);
    let partial = out_dir.join(format!(".{name}.partial"));

    let mut entries: Vec<(String, PathBuf)> = vec![
        ("app.toml".into(), app_dir.join("app.toml")),
        ("app.wasm".into(), wasm.to_path_buf()),
    ];
    for optional in ["README.md", "icon.png"] {
        let file = app_dir.join(optional);
        if file.is_file() {
            entries.push((optional.into(), file));
        }
    }
    if let Ok(dir) = fs::read_dir(app_dir.join("i18n")) {
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let file_name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("i18n file names are UTF-8")
                .to_string();
            entries.push((format!("i18n/{file_name}"), file));
        }
    }

    let write = || -> zip::result::ZipResult<()> {
        let mut zip = ZipWriter::new(File::create(&partial)?);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for (entry, source) in &entries {
            let bytes = fs::read(source)?;
            zip.start_file(entry.as_str(), options)?;
            zip.write_all(&bytes)?;
        }
        zip.finish()?.sync_all()?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&partial);
        panic!("write the package {}: {e}", path.display());
    }
    fs::rename(&partial, &path)
        .unwrap_or_else(|e| panic!("move the package to {}: {e}", path.display()));
    path
}

/// Builds the workspace's apps if needed and packs the app crate `crate_name` (in
/// `<workspace>/<crate_name>/`) into `out_dir`.
pub fn app_package(workspace: &Path, crate_name: &str, out_dir: &Path) -> PathBuf {
    let wasm = wasm_path(workspace, crate_name);
    package(&workspace.join(crate_name), &wasm, out_dir)
}

/// `sample-apps/hello` packed into `out_dir` (`hello-0.1.0.zip`).
pub fn hello_package(out_dir: &Path) -> PathBuf {
    app_package(&sample_apps_dir(), "hello", out_dir)
}

/// `tests/apps/hostile` packed into `out_dir` (`hostile-0.1.0.zip`).
pub fn hostile_package(out_dir: &Path) -> PathBuf {
    app_package(&test_apps_dir(), "hostile", out_dir)
}

/// `tests/apps/polite` packed into `out_dir` (`polite-0.1.0.zip`).
pub fn polite_package(out_dir: &Path) -> PathBuf {
    app_package(&test_apps_dir(), "polite", out_dir)
}

/// `tests/apps/guard` packed into `out_dir` (`guard-0.1.0.zip`).
pub fn guard_package(out_dir: &Path) -> PathBuf {
    app_package(&test_apps_dir(), "guard", out_dir)
}

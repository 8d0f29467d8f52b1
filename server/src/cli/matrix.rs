//! `palaver matrix …`: the Matrix bridge's set-up.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{fail, CliResult};
use crate::bridges::matrix::Registration;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum MatrixCommand {
    /// Write the application service registration file for the homeserver.
    ///
    /// Generates fresh random as_token and hs_token, and claims the user namespace
    /// @palaver_.*:<server_name> and the alias namespace #palaver_.*:<server_name>,
    /// with the bridge URL (matrix.bridge_url, or http://<matrix.listen>). Writes
    /// it to --output, else matrix.registration_file, else
    /// <data_dir>/matrix-registration.yaml; the server reads its tokens from there.
    /// Give the same file to the homeserver (Synapse: app_service_config_files) and
    /// restart both. Refuses to replace an existing file without --force (new
    /// tokens break the running pairing).
    Registration(RegistrationArgs),
}

#[derive(Debug, Args)]
pub struct RegistrationArgs {
    /// The server's TOML configuration file (the [matrix] section).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write the registration (default: from the configuration).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(command: MatrixCommand) -> CliResult {
    match command {
        MatrixCommand::Registration(args) => registration(args),
    }
}

fn registration(args: RegistrationArgs) -> CliResult {
    let config = Config::load(args.config.as_deref()).map_err(|e| fail!("{e}"))?;
    let path = args
        .output
        .unwrap_or_else(|| config.matrix.registration_path(&config.data_dir));
    if path.exists() && !args.force {
        return Err(fail!(
            "{} exists; use --force to replace it (with new tokens)",
            path.display()
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail!("cannot create {}: {e}", parent.display()))?;
    }
    let yaml = Registration::generate().to_yaml(&config.matrix);
    write_private(&path, &yaml).map_err(|e| fail!("cannot write {}: {e}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// Writes a file only its owner can read (it holds the tokens).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

//! `palaver files migrate --to <backend>`: moves every stored file of a running
//! server to another storage backend through its admin API (`files.migrate`), a
//! batch per call, printing progress. Each file is copied, its sha256 checked, and
//! its record switched to the target before the next; when none is left, the
//! installed apps' packages are copied (verified) and the storage setting switched. Interrupted (this command or the server stopped), it
//! resumes where it stopped when run again.

use clap::{Args, Subcommand};
use serde_json::json;

use super::admin::Client;
use super::{fail, CliResult, ServerArgs};

#[derive(Debug, Args)]
pub struct FilesArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: FilesCommand,
}

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Copy every stored file and app package to another backend (verified by
    /// sha256), then make it the configured storage. Safe to interrupt and run
    /// again: it resumes.
    ///
    /// The target's connection settings (FileUpload_S3_* or FileUpload_Webdav_*, or
    /// FileUpload_FileSystemPath) must be set first. Files stay readable throughout;
    /// the copies on the old backend are left in place.
    Migrate {
        /// The backend to move to: local, s3 or webdav.
        #[arg(long)]
        to: String,
        /// Files copied per request.
        #[arg(long, default_value_t = 20)]
        batch: u64,
    },
}

/// Runs `palaver files …`.
pub fn run(args: FilesArgs) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let mut client = Client::new(&args.server)?;
        client.login(&args.server).await?;
        let result = match args.command {
            FilesCommand::Migrate { to, batch } => migrate(&client, &to, batch).await,
        };
        client.logout().await;
        result
    })
}

async fn migrate(client: &Client, to: &str, batch: u64) -> CliResult {
    let mut total = 0u64;
    loop {
        let step = client
            .post(
                &["api", "v1", "files.migrate"],
                &json!({"to": to, "batch": batch}),
            )
            .await
            .map_err(|e| fail!("migration stopped after {total} file(s) this run: {e}; run the command again to resume"))?;
        let migrated = step["migrated"].as_u64().unwrap_or(0);
        let remaining = step["remaining"].as_u64().unwrap_or(0);
        total += migrated;
        println!("migrated {total} file(s), {remaining} remaining");
        if remaining == 0 {
            let packages = step["packages"].as_u64().unwrap_or(0);
            println!("copied {packages} app package(s)");
            let storage = step["storageType"].as_str().unwrap_or(to);
            if step["switched"].as_bool() == Some(true) {
                println!("storage switched to {storage}");
            } else {
                println!("every file is on {storage}; the storage setting was already {storage}");
            }
            return Ok(());
        }
        if migrated == 0 {
            return Err(fail!(
                "no progress: {remaining} file(s) could not be migrated"
            ));
        }
    }
}

//! The `palaver` command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use palaver_server::cli;
use palaver_server::config::Config;

/// Palaver: a Rocket.Chat-compatible chat server with a WebAssembly apps engine.
#[derive(Parser)]
#[command(name = "palaver", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server.
    ///
    /// Settings come from the TOML file given with --config (optional), overridden by
    /// PALAVER_* environment variables: PALAVER_LISTEN, PALAVER_DATA_DIR,
    /// PALAVER_STORAGE, PALAVER_ADMIN_USERNAME, PALAVER_ADMIN_PASSWORD,
    /// PALAVER_ADMIN_EMAIL, PALAVER_SITE_URL and more (see the README).
    Serve {
        /// A TOML configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Develop apps: create, build, pack and validate app packages.
    App {
        #[command(subcommand)]
        command: cli::AppCommand,
    },
    /// Manage the apps of a running server (list, install, enable, disable, settings,
    /// logs, uninstall) through its admin API.
    ///
    /// The server and the admin's credentials come from --url, --user and --password
    /// or PALAVER_URL, PALAVER_USER and PALAVER_PASSWORD; scripts can log in once with
    /// `eval "$(palaver apps login)"` (PALAVER_USER_ID, PALAVER_AUTH_TOKEN).
    Apps(cli::AppsArgs),
    /// Manage a running server's stored files: `palaver files migrate --to s3`
    /// copies every file to another storage backend (verified, resumable) and
    /// switches the storage setting. Credentials as for `palaver apps`.
    Files(cli::files::FilesArgs),
    /// Set up the Matrix bridge (the application service registration).
    Matrix {
        #[command(subcommand)]
        command: cli::matrix::MatrixCommand,
    },
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs())
        .init();
}

/// Colour only on a terminal, and not when `NO_COLOR` is set (https://no-color.org):
/// a log file or pipe gets plain text.
fn colour_logs() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::App { command } => {
            init_logging("warn");
            finish(cli::run_app(command))
        }
        Command::Matrix { command } => {
            init_logging("warn");
            finish(cli::matrix::run(command))
        }
        Command::Files(args) => {
            init_logging("warn");
            finish(cli::files::run(args))
        }
        Command::Apps(args) => {
            init_logging("warn");
            finish(cli::run_apps(args))
        }
        Command::Serve { config } => {
            // Kept in memory too, for administrators; `Log_Level` takes over once
            // the settings are read.
            let log = palaver_server::server_log::install(
                palaver_server::server_log::LogLevel::Information,
                colour_logs(),
            );
            let config = match Config::load(config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("palaver: {e}");
                    return ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("palaver: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let served = runtime.block_on(palaver_server::serve::serve(config, log));
            // Whatever is still detached (an app call past the deadline, a blocking
            // task) must not hold the exit: the shutdown already had its grace.
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("palaver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The exit of a CLI command: 0, or 1 after printing its error.
fn finish(result: cli::CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palaver: {e}");
            ExitCode::FAILURE
        }
    }
}

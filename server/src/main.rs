//! The `palaver` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve { config } => {
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
            match runtime.block_on(palaver_server::serve::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("palaver: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

//! The command line beyond `palaver serve`:
//!
//! - `palaver app …` for app developers: [`scaffold`] (`new`), [`build`] (`build`,
//!   `pack`) and [`validate`] (`validate`, the install checks run offline);
//! - `palaver apps …` for admins: [`admin`], a client of the admin REST API of a
//!   running server, printing [`table`]s (or the raw JSON with `--json`);
//! - `palaver files migrate` for admins: [`files`], moving the stored files to
//!   another storage backend through the same admin API.
//!
//! Every command returns a [`CliError`] on failure; `main` prints it and exits 1.

pub mod admin;
pub mod build;
pub mod files;
pub mod matrix;
pub mod scaffold;
pub mod table;
pub mod validate;

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};

/// A failure of a command: the message printed (after `palaver: `) before exiting 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError(s)
    }
}

impl From<&str> for CliError {
    fn from(s: &str) -> Self {
        CliError(s.to_string())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Shorthand for building a [`CliError`] from `format!` arguments.
macro_rules! fail {
    ($($arg:tt)*) => {
        $crate::cli::CliError(format!($($arg)*))
    };
}
pub(crate) use fail;

/// `palaver app …`: developing apps.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a new app: a cargo crate using apps-sdk, with its manifest.
    ///
    /// Writes Cargo.toml (a cdylib, its own workspace, release profile tuned for
    /// size), app.toml (the manifest; the id is derived from NAME), src/lib.rs (a
    /// `/NAME` slash command and a pre-send hook), README.md and .gitignore. Refuses
    /// to write into an existing, non-empty directory.
    New(scaffold::NewArgs),
    /// Build the app in DIR for wasm32-wasip2 (release) and pack it.
    ///
    /// Installs the wasm32-wasip2 target with rustup when it is missing, runs
    /// `cargo build --release --target wasm32-wasip2`, then packs app.toml, the
    /// component and README.md / icon.png / i18n/*.toml into
    /// DIR/dist/<id>-<version>.zip. Prints the package's path and sha256.
    Build(build::BuildArgs),
    /// Pack an already built app into a package (.zip) without building it.
    ///
    /// The package holds app.toml, the component as app.wasm, and README.md,
    /// icon.png and i18n/*.toml when present. It is read back with the server's own
    /// package checks, so a pack never produces a package the server refuses for its
    /// format.
    Pack(build::PackArgs),
    /// Check a package offline exactly as an install would (exit 0 valid, 1 invalid).
    ///
    /// Reads the package (format, sizes, manifest), compiles the component and checks
    /// it against the palaver:apps world without running it, and verifies the
    /// detached signature PKG.sig when there is one. Checks that need a server (a
    /// command clashing with another installed app) are left to the install.
    Validate(validate::ValidateArgs),
}

/// Where the admin commands find the server, and how they log in.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(
        long,
        env = "PALAVER_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub url: String,
    /// The admin's username (or e-mail address).
    #[arg(long, env = "PALAVER_USER", default_value = "admin", global = true)]
    pub user: String,
    /// The admin's password.
    #[arg(long, env = "PALAVER_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Use an existing login instead of the password: the user id (with --auth-token).
    #[arg(long, env = "PALAVER_USER_ID", global = true, requires = "auth_token")]
    pub user_id: Option<String>,
    /// Use an existing login instead of the password: the token (with --user-id).
    #[arg(
        long,
        env = "PALAVER_AUTH_TOKEN",
        hide_env_values = true,
        global = true,
        requires = "user_id"
    )]
    pub auth_token: Option<String>,
    /// Print the server's JSON response instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `palaver apps …`: managing the apps of a running server.
#[derive(Debug, Args)]
pub struct AppsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: AppsCommand,
}

/// Log levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Log in once and print the session as shell exports, for scripts:
    /// `eval "$(palaver apps login)"`. Later commands use PALAVER_USER_ID and
    /// PALAVER_AUTH_TOKEN instead of logging in again (the server rate-limits logins).
    Login,
    /// List the installed apps (id, version, status, reason), or with --marketplace
    /// the packages of the server's marketplace directory.
    List {
        /// List the marketplace directory's packages (file, id, version, valid,
        /// signed, error) instead of the installed apps.
        #[arg(long)]
        marketplace: bool,
    },
    /// Show one installed app: status, permissions asked and granted, commands.
    Info {
        /// The app's id.
        id: String,
    },
    /// Install an app from the server's marketplace directory, or upload a package
    /// with --file. Installed apps start disabled unless --enable is given.
    #[command(group(ArgGroup::new("source").required(true).args(["app_id", "file"])))]
    Install {
        /// The id of an app in the marketplace directory.
        app_id: Option<String>,
        /// Upload this package instead (with PKG.sig, its signature, when present).
        #[arg(long, value_name = "PKG", conflicts_with = "version")]
        file: Option<PathBuf>,
        /// The marketplace version to install (default: the highest valid one).
        #[arg(long)]
        version: Option<String>,
        /// The permissions to grant, comma-separated (default: all the app asks for;
        /// every required one must be granted).
        #[arg(long, value_name = "PERM,PERM", value_delimiter = ',')]
        grant: Option<Vec<String>>,
        /// Enable the app right after installing it.
        #[arg(long)]
        enable: bool,
    },
    /// Enable an installed app.
    Enable {
        /// The app's id.
        id: String,
    },
    /// Disable an installed app.
    Disable {
        /// The app's id.
        id: String,
    },
    /// List an app's settings, or change some with --set.
    Settings {
        /// The app's id.
        id: String,
        /// Set a value: KEY=VALUE, the value read as JSON when it parses (true, 42,
        /// null to clear, "quoted text") and as a plain string otherwise. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = admin::parse_setting)]
        set: Vec<(String, serde_json::Value)>,
    },
    /// Show an app's log entries.
    Logs {
        /// The app's id.
        id: String,
        /// Only entries at this level or above.
        #[arg(long, value_enum)]
        level: Option<LogLevel>,
        /// How many entries to show.
        #[arg(long)]
        count: Option<u32>,
        /// How many entries to skip.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Uninstall an app: its settings, data, commands, endpoints and jobs go too.
    Uninstall {
        /// The app's id.
        id: String,
    },
}

/// Runs `palaver app …`.
pub fn run_app(command: AppCommand) -> CliResult {
    match command {
        AppCommand::New(args) => scaffold::run(&args),
        AppCommand::Build(args) => build::run_build(&args),
        AppCommand::Pack(args) => build::run_pack(&args),
        AppCommand::Validate(args) => validate::run(&args),
    }
}

/// Runs `palaver apps …`.
pub fn run_apps(args: AppsArgs) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail!("cannot start the async runtime: {e}"))?;
    runtime.block_on(admin::run(args))
}

//! `palaver app new NAME`: a working app crate using apps-sdk.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{fail, CliResult};
use crate::apps::manifest::{Manifest, SUPPORTED_API_VERSIONS};

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The app's name; its id, crate name and slash command are derived from it
    /// (lower case, letters, digits, '.' and '-').
    pub name: String,
    /// The directory to create (default: ./<id>). It must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The apps-sdk directory the app depends on (default: the apps-sdk of the
    /// source tree this palaver was built from).
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// The names derived from what the developer typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The manifest's `id`.
    pub id: String,
    /// The manifest's `name`, as typed.
    pub display: String,
    /// The cargo package name.
    pub crate_name: String,
    /// The slash command, without `/`.
    pub command: String,
    /// The Rust type implementing `App`.
    pub type_name: String,
}

/// Derives the app id from a name: lower case; runs of anything but letters, digits,
/// '.' and '-' become one '-'; no leading or trailing '-' / '.'; at most 63
/// characters.
pub fn app_id(name: &str) -> Result<String, String> {
    let mut id = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    let mut id = id.trim_matches(['-', '.']).to_string();
    if id.len() > 63 {
        id.truncate(63);
        id = id.trim_end_matches(['-', '.']).to_string();
    }
    if id.len() < 2 {
        return Err(format!(
            "cannot derive an app id from {name:?}: use at least two ASCII letters or digits"
        ));
    }
    Ok(id)
}

/// All the names of an app called `name`.
pub fn names(name: &str) -> Result<Names, String> {
    let id = app_id(name)?;
    let dashed = id.replace('.', "-");
    let crate_name = if dashed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("app-{dashed}")
    } else {
        dashed.clone()
    };
    let mut command: String = dashed.chars().take(32).collect();
    command = command.trim_end_matches('-').to_string();
    let mut type_name: String = dashed
        .split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if type_name.starts_with(|c: char| c.is_ascii_digit()) {
        type_name.insert_str(0, "App");
    }
    // `App` is the SDK's trait; a suffix also keeps clear of its other type names.
    if type_name == "App" || !type_name.ends_with("App") {
        type_name.push_str("App");
    }
    // The manifest's name: at most 100 bytes, one line.
    let mut display = String::new();
    for c in name.trim().chars() {
        if display.len() + c.len_utf8() > 100 {
            break;
        }
        display.push(if c.is_control() { ' ' } else { c });
    }
    Ok(Names {
        id,
        display,
        crate_name,
        command,
        type_name,
    })
}

/// A TOML basic string (quoted and escaped).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The apps-sdk directory: `--sdk`, or the one next to this palaver's source.
fn sdk_dir(explicit: Option<&Path>) -> CliResult<PathBuf> {
    let (candidate, hint) = match explicit {
        Some(p) => (p.to_path_buf(), ""),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps-sdk"),
            " (this palaver was built elsewhere: pass --sdk PATH to an apps-sdk checkout)",
        ),
    };
    let dir = candidate
        .canonicalize()
        .map_err(|e| fail!("the apps SDK is not at {}: {e}{hint}", candidate.display()))?;
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| fail!("{} is not the apps SDK: {e}{hint}", dir.display()))?;
    let name = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_string))
        .unwrap_or_default();
    if name != "palaver-apps-sdk" {
        return Err(fail!(
            "{} is not the apps SDK (its package is {name:?}, not \"palaver-apps-sdk\"){hint}",
            dir.display()
        ));
    }
    Ok(dir)
}

fn api_version() -> &'static str {
    SUPPORTED_API_VERSIONS.last().copied().unwrap_or("0.1.0")
}

fn fill(template: &str, n: &Names, sdk: &str) -> String {
    // Free text last, so that it is never expanded itself.
    template
        .replace("{{id}}", &n.id)
        .replace("{{crate}}", &n.crate_name)
        .replace("{{command}}", &n.command)
        .replace("{{type}}", &n.type_name)
        .replace("{{api_version}}", api_version())
        .replace("{{sdk_toml}}", &toml_str(sdk))
        .replace("{{name_toml}}", &toml_str(&n.display))
        .replace("{{name}}", &n.display)
}

const CARGO_TOML: &str = r#"[package]
name = "{{crate}}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
# An app is a WebAssembly component: build it with `palaver app build`
# (cargo build --release --target wasm32-wasip2, then pack).
crate-type = ["cdylib"]

[dependencies]
palaver-apps-sdk = { path = {{sdk_toml}} }

# The app is a workspace of its own, so it builds wherever it lives.
[workspace]

# Apps are shipped as small components: optimise for size.
[profile.release]
opt-level = "s"
lto = true
strip = true
codegen-units = 1
debug = false
"#;

const APP_TOML: &str = r#"# The app's manifest: what it is, what it asks for and what it offers. The
# admin sees the permissions (with their reasons) and grants them at install.
id = "{{id}}"
name = {{name_toml}}
version = "0.1.0"
description = "Answers /{{command}} and checks messages before they are stored."
# The version of the palaver:apps contract the app is built for.
api-version = "{{api_version}}"
# Handlers the server calls besides commands: this app checks every message.
events = ["pre-message-sent"]

[author]
name = "Your Name"
# homepage = "https://example.com"
# support = "support@example.com"

[[permissions]]
name = "slashcommand"
reason = "Answers /{{command}}."

[[permissions]]
name = "message.write"
reason = "Posts the greeting."

[[permissions]]
name = "message.read"
reason = "Reads messages before they are stored, to refuse the blocked word."

[[settings]]
id = "blocked-word"
type = "string"
label = "Blocked word"
description = "Messages containing it (in any case) are refused. Empty: nothing is refused."
required = false
default = ""

[[commands]]
name = "{{command}}"
description = "Say hello"
params = "[name]"
"#;

const LIB_RS: &str = r#"//! {{name}}: a Palaver app.
//!
//! - `/{{command}} [name]` posts a greeting in the room and tells the sender, privately,
//!   that it did.
//! - A pre-send hook refuses messages containing the `blocked-word` setting.

use palaver_apps_sdk::prelude::*;
use palaver_apps_sdk::settings;

/// The app. State that must survive a call belongs in `palaver_apps_sdk::persistence`.
#[derive(Default)]
pub struct {{type}};

impl App for {{type}} {
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        let name = ctx
            .args()
            .rest(0)
            .unwrap_or_else(|| ctx.sender.display_name().to_string());
        info!("{} ran /{{command}}", ctx.sender.username);
        Ok(CommandReply::message(ctx.reply(greeting(&name)))
            .with_ephemeral(format!("Said hello to {name}.")))
    }

    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        let word = settings::str_or("blocked-word", "")?;
        Ok(check(message, &word))
    }
}

palaver_apps_sdk::export_app!({{type}});

/// The greeting for `name`.
pub fn greeting(name: &str) -> String {
    format!("Hello, {}!", name.trim())
}

/// The pre-send decision: refuse messages containing `word` (ignoring case).
pub fn check(message: &Message, word: &str) -> PreSendDecision {
    let word = word.trim();
    if !word.is_empty() && message.text.to_lowercase().contains(&word.to_lowercase()) {
        return PreSendDecision::prevent(format!("The word \"{word}\" is not allowed here."));
    }
    PreSendDecision::Continue
}

// The pure logic runs on the host: `cargo test`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets() {
        assert_eq!(greeting(" Ada "), "Hello, Ada!");
    }

    #[test]
    fn refuses_the_blocked_word_only() {
        let message = Message::new("room", "This is SECRET");
        assert!(matches!(check(&message, "secret"), PreSendDecision::Prevent(_)));
        assert_eq!(check(&message, ""), PreSendDecision::Continue);
        assert_eq!(check(&message, "other"), PreSendDecision::Continue);
    }
}
"#;

const README_MD: &str = r#"# {{name}}

A [Palaver](https://example.com/palaver) app written with `palaver-apps-sdk`.

| | |
|---|---|
| `/{{command}} [name]` | posts "Hello, *name*!" in the room |
| every message | refused when it contains the **Blocked word** setting |

## Develop

```sh
cargo test                      # the pure logic, on the host
palaver app build               # wasm32-wasip2 release build + dist/{{id}}-0.1.0.zip
palaver app validate dist/{{id}}-0.1.0.zip   # the server's install checks, offline
```

`palaver app build --marketplace DIR` also copies the package into a server's
marketplace directory (`PALAVER_MARKETPLACE_DIR`); then, as an admin:

```sh
palaver apps install {{id}} --enable
palaver apps settings {{id}} --set blocked-word=secret
palaver apps logs {{id}}
```

## Files

- `app.toml`: the manifest (id, version, permissions, settings, commands, events).
- `src/lib.rs`: the handlers (`App` trait) and `export_app!`.
- `Cargo.toml`: a `cdylib`, its own workspace, release profile tuned for size.
"#;

const GITIGNORE: &str = "/target\n/dist\n";

/// The files of a new app, by relative path.
pub fn files(n: &Names, sdk: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Cargo.toml", fill(CARGO_TOML, n, sdk)),
        ("app.toml", fill(APP_TOML, n, sdk)),
        ("src/lib.rs", fill(LIB_RS, n, sdk)),
        ("README.md", fill(README_MD, n, sdk)),
        (".gitignore", GITIGNORE.to_string()),
    ]
}

pub fn run(args: &NewArgs) -> CliResult {
    let names = names(&args.name).map_err(super::CliError)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&names.id));
    match std::fs::read_dir(&dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(fail!(
                    "{} already exists and is not empty; choose another --dir",
                    dir.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail!("{} already exists: {e}", dir.display())),
    }
    let sdk = sdk_dir(args.sdk.as_deref())?;
    let sdk = sdk
        .to_str()
        .ok_or_else(|| fail!("the SDK path {} is not UTF-8", sdk.display()))?
        .to_string();
    let files = files(&names, &sdk);
    // Never write a manifest the server would refuse.
    let manifest = files
        .iter()
        .find(|(p, _)| *p == "app.toml")
        .map(|(_, t)| t.as_str())
        .unwrap_or_default();
    Manifest::parse(manifest).map_err(|e| fail!("internal error: the scaffold's {e}"))?;
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| fail!("cannot write {}: {e}", path.display()))?;
    }
    println!(
        "Created the app {} (id {}, command /{}) in {}",
        names.display,
        names.id,
        names.command,
        dir.display()
    );
    println!("SDK: {sdk}");
    println!("Next: cd {} && palaver app build", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_names() {
        let n = names("My Cool_App").unwrap();
        assert_eq!(n.id, "my-cool-app");
        assert_eq!(n.crate_name, "my-cool-app");
        assert_eq!(n.command, "my-cool-app");
        assert_eq!(n.type_name, "MyCoolApp");
        assert_eq!(n.display, "My Cool_App");

        let n = names("hello").unwrap();
        assert_eq!((n.id.as_str(), n.type_name.as_str()), ("hello", "HelloApp"));
        let n = names("com.example.Bot").unwrap();
        assert_eq!(n.id, "com.example.bot");
        assert_eq!(n.crate_name, "com-example-bot");
        assert_eq!(n.command, "com-example-bot");
        assert_eq!(n.type_name, "ComExampleBotApp");
        let n = names("42 answers").unwrap();
        assert_eq!(n.id, "42-answers");
        assert_eq!(n.crate_name, "app-42-answers");
        assert_eq!(n.type_name, "App42AnswersApp");
        assert_eq!(names("app").unwrap().type_name, "AppApp");
        assert_eq!(names("--Émile--").unwrap().id, "mile");
        let long = names(&"x".repeat(80)).unwrap();
        assert_eq!((long.id.len(), long.command.len()), (63, 32));
        assert!(names("x").is_err());
        assert!(names("  ").is_err());
        assert!(names("???").is_err());
    }

    #[test]
    fn the_scaffold_manifest_is_valid() {
        for name in ["hello", "My App", "com.example.bot", "9lives", "a\"quote\\"] {
            let n = names(name).unwrap();
            let files = files(&n, "/some/where/apps-sdk");
            let manifest = &files.iter().find(|(p, _)| *p == "app.toml").unwrap().1;
            let m = Manifest::parse(manifest).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(m.id, n.id);
            assert_eq!(m.name, name);
            assert_eq!(m.commands[0].name, n.command);
            let cargo = &files[0].1;
            let t: toml::Table = toml::from_str(cargo).unwrap();
            assert_eq!(t["package"]["name"].as_str(), Some(n.crate_name.as_str()));
            assert_eq!(
                t["dependencies"]["palaver-apps-sdk"]["path"].as_str(),
                Some("/some/where/apps-sdk")
            );
            assert!(t.contains_key("workspace"));
            let lib = &files.iter().find(|(p, _)| *p == "src/lib.rs").unwrap().1;
            assert!(lib.contains(&format!("export_app!({});", n.type_name)));
            assert!(!lib.contains("{{"));
        }
    }

    #[test]
    fn finds_the_sdk_of_this_source_tree() {
        let dir = sdk_dir(None).unwrap();
        assert!(dir.join("src/lib.rs").is_file());
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(sdk_dir(Some(here))
            .unwrap_err()
            .0
            .contains("is not the apps SDK"));
        assert!(sdk_dir(Some(&here.join("no-such-dir"))).is_err());
    }
}

//! `palaver apps …`: the admin REST API (`/api/apps`) of a running server, from the
//! command line. Logs in with `POST /api/v1/login` (unless given a token), prints
//! tables or, with `--json`, the server's responses; a refusal prints the server's
//! `error` and exits 1.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use url::{Host, Url};

use super::table::Table;
use super::{fail, AppsArgs, AppsCommand, CliError, CliResult, LogLevel, ServerArgs};
use crate::apps::engine::status;

/// Parses `KEY=VALUE` of `--set`: the value as JSON when it parses, else the text.
pub fn parse_setting(arg: &str) -> Result<(String, Value), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?} is not KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{arg:?} has no KEY before '='"));
    }
    let value =
        serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.into()));
    Ok((key.to_string(), value))
}

/// What a response means: the body of a success, or the message of a refusal (the
/// server's `error`, else its `message`, else the HTTP status).
pub fn check_response(status: u16, body: &str) -> Result<Value, String> {
    let json = serde_json::from_str::<Value>(body).ok();
    let refused = json.as_ref().is_some_and(|j| {
        j.get("success") == Some(&Value::Bool(false))
            || j.get("status").and_then(Value::as_str) == Some("error")
    });
    match json {
        Some(json) if (200..300).contains(&status) && !refused => Ok(json),
        Some(json) => {
            let text = |key: &str| {
                json.get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let mut message = text("error")
                .or_else(|| text("message"))
                .unwrap_or_else(|| format!("the server answered {status}"));
            if let Some(diff) = json.get("permissionDiff") {
                message.push_str(&format!(" (permission changes: {diff})"));
            }
            Err(message)
        }
        None => {
            let snippet: String = body.trim().chars().take(200).collect();
            Err(if snippet.is_empty() {
                format!("the server answered {status}")
            } else {
                format!("the server answered {status}: {snippet}")
            })
        }
    }
}

/// A JSON value as a table cell: strings bare, null empty.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn yes_no(v: &Value) -> &'static str {
    if v.as_bool().unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
}

fn items<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub fn installed_table(body: &Value) -> Table {
    let mut t = Table::new(&["ID", "VERSION", "STATUS", "REASON"]);
    for a in items(body, "apps") {
        t.row([
            cell(&a["id"]),
            cell(&a["version"]),
            cell(&a["status"]),
            cell(&a["statusReason"]),
        ]);
    }
    t
}

pub fn marketplace_table(body: &Value) -> Table {
    let mut t = Table::new(&["FILE", "ID", "VERSION", "VALID", "SIGNED", "ERROR"]);
    for a in items(body, "apps") {
        t.row([
            cell(&a["file"]),
            cell(&a["id"]),
            cell(&a["version"]),
            yes_no(&a["valid"]).to_string(),
            yes_no(&a["signed"]).to_string(),
            cell(&a["error"]),
        ]);
    }
    t
}

pub fn settings_table(body: &Value) -> Table {
    let mut t = Table::new(&["ID", "TYPE", "REQUIRED", "VALUE", "LABEL"]);
    for s in items(body, "settings") {
        let value = if s["type"] == "password" {
            if s["isSet"].as_bool().unwrap_or(false) {
                "(set)".to_string()
            } else {
                "(not set)".to_string()
            }
        } else {
            cell(&s["value"])
        };
        t.row([
            cell(&s["id"]),
            cell(&s["type"]),
            yes_no(&s["required"]).to_string(),
            value,
            cell(&s["label"]),
        ]);
    }
    t
}

pub fn logs_table(body: &Value) -> Table {
    let mut t = Table::new(&["TIME", "LEVEL", "HANDLER", "MESSAGE"]);
    for e in items(body, "logs") {
        let mut message = cell(&e["message"]);
        if let Some(fault) = e["fault"].as_str().filter(|f| !f.is_empty()) {
            message.push_str(&format!(" [fault: {fault}]"));
        }
        t.row([
            cell(&e["ts"]),
            cell(&e["level"]),
            cell(&e["handler"]),
            message,
        ]);
    }
    t
}

/// One installed app (`{app: …}`) as `key: value` lines.
pub fn app_details(app: &Value) -> String {
    let names = |v: &Value, f: &dyn Fn(&Value) -> String| -> String {
        let list: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(f).collect())
            .unwrap_or_default();
        if list.is_empty() {
            "(none)".into()
        } else {
            list.join(", ")
        }
    };
    let permissions = names(&app["permissions"], &|p| {
        let mut s = cell(&p["name"]);
        if p["required"] == false {
            s.push_str(" (optional)");
        }
        s
    });
    let granted = names(&app["permissionsGranted"], &|p| match p {
        Value::String(s) => s.clone(),
        other => cell(&other["name"]),
    });
    let commands = names(&app["commands"], &|c| format!("/{}", cell(&c["name"])));
    let endpoints = names(&app["endpoints"], &|e| cell(&e["path"]));
    let rows = [
        ("id", cell(&app["id"])),
        ("name", cell(&app["name"])),
        ("version", cell(&app["version"])),
        ("status", cell(&app["status"])),
        ("reason", cell(&app["statusReason"])),
        ("asks", permissions),
        ("granted", granted),
        ("commands", commands),
        ("endpoints", endpoints),
        ("bot user", cell(&app["botUserId"])),
        ("installed", cell(&app["installedAt"])),
        ("updated", cell(&app["updatedAt"])),
    ];
    let mut out = String::new();
    for (key, value) in rows {
        if !value.is_empty() {
            out.push_str(&format!("{:<10} {value}\n", format!("{key}:")));
        }
    }
    out
}

/// A client of one server, logged in.
pub(super) struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<(String, String)>,
    /// Logged in by us (so logged out at the end).
    own_login: bool,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Client {
    pub(super) fn new(server: &ServerArgs) -> CliResult<Client> {
        let base = Url::parse(&server.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| fail!("--url {:?} is not an http(s) URL", server.url))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Installing compiles the component: give it time.
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("palaver-cli/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| fail!("cannot create the HTTP client: {e}"))?;
        Ok(Client {
            http,
            base,
            auth: None,
            own_login: false,
        })
    }

    fn url(&self, segments: &[&str]) -> CliResult<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| fail!("--url {} cannot take a path", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut req = self.http.request(method, url);
        if let Some((user_id, token)) = &self.auth {
            req = req
                .header("X-User-Id", user_id)
                .header("X-Auth-Token", token);
        }
        req
    }

    async fn send(&self, req: RequestBuilder) -> CliResult<Value> {
        let resp = req
            .send()
            .await
            .map_err(|e| fail!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| fail!("reading the server's response: {e}"))?;
        check_response(status, &body).map_err(CliError)
    }

    async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> CliResult<Value> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        self.send(self.request(Method::GET, url)).await
    }

    pub(super) async fn post(&self, segments: &[&str], body: &Value) -> CliResult<Value> {
        let url = self.url(segments)?;
        self.send(
            self.request(Method::POST, url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string()),
        )
        .await
    }

    async fn delete(&self, segments: &[&str]) -> CliResult<Value> {
        let url = self.url(segments)?;
        self.send(self.request(Method::DELETE, url)).await
    }

    pub(super) async fn login(&mut self, server: &ServerArgs) -> CliResult {
        if let (Some(user_id), Some(token)) = (&server.user_id, &server.auth_token) {
            self.auth = Some((user_id.clone(), token.clone()));
            return Ok(());
        }
        let password = server.password.as_deref().ok_or_else(|| {
            fail!("no password: pass --password or set PALAVER_PASSWORD (or give --user-id and --auth-token)")
        })?;
        let body = self
            .post(
                &["api", "v1", "login"],
                &json!({"user": server.user, "password": password}),
            )
            .await
            .map_err(|e| fail!("cannot log in to {} as {}: {e}", self.base, server.user))?;
        let data = &body["data"];
        match (data["userId"].as_str(), data["authToken"].as_str()) {
            (Some(id), Some(token)) => {
                self.auth = Some((id.to_string(), token.to_string()));
                self.own_login = true;
                Ok(())
            }
            _ => Err(fail!(
                "cannot log in to {}: the answer has no data.userId/data.authToken",
                self.base
            )),
        }
    }

    /// Ends a login this client made (best effort).
    pub(super) async fn logout(&self) {
        if self.own_login {
            if let Ok(url) = self.url(&["api", "v1", "logout"]) {
                let _ = self.request(Method::POST, url).send().await;
            }
        }
    }
}

fn print_json(body: &Value) -> CliResult {
    let text = serde_json::to_string_pretty(body).map_err(|e| fail!("{e}"))?;
    println!("{text}");
    Ok(())
}

fn print_table(table: &Table, empty: &str) {
    if table.is_empty() {
        println!("{empty}");
    } else {
        print!("{table}");
    }
}

/// `status (reason)` of an app or a status change.
fn status_text(body: &Value) -> String {
    let mut text = cell(&body["status"]);
    if let Some(reason) = body["statusReason"].as_str().filter(|r| !r.is_empty()) {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

fn status_line(id: &str, body: &Value) -> String {
    format!("{id}: {}", status_text(body))
}

pub async fn run(args: AppsArgs) -> CliResult {
    let server = &args.server;
    let mut client = Client::new(server)?;
    client.login(server).await?;
    if let AppsCommand::Login = args.command {
        let Some((user_id, token)) = &client.auth else {
            return Err(fail!("not logged in"));
        };
        if server.json {
            println!("{}", json!({"userId": user_id, "authToken": token}));
        } else {
            println!("export PALAVER_USER_ID={}", shell_quote(user_id));
            println!("export PALAVER_AUTH_TOKEN={}", shell_quote(token));
        }
        return Ok(());
    }
    let result = command(&client, server.json, args.command).await;
    client.logout().await;
    result
}

/// `s` in single quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

async fn command(client: &Client, json_out: bool, command: AppsCommand) -> CliResult {
    match command {
        AppsCommand::Login => Ok(()),
        AppsCommand::List { marketplace } => {
            let body = if marketplace {
                client.get(&["api", "apps", "marketplace"], &[]).await?
            } else {
                client.get(&["api", "apps"], &[]).await?
            };
            if json_out {
                return print_json(&body);
            }
            if marketplace {
                print_table(
                    &marketplace_table(&body),
                    "The marketplace directory holds no packages.",
                );
            } else {
                print_table(&installed_table(&body), "No apps are installed.");
            }
            Ok(())
        }
        AppsCommand::Info { id } => {
            let body = client.get(&["api", "apps", &id], &[]).await?;
            if json_out {
                return print_json(&body);
            }
            print!("{}", app_details(&body["app"]));
            Ok(())
        }
        AppsCommand::Install {
            app_id,
            file,
            version,
            grant,
            enable,
        } => {
            let grant: Option<Vec<String>> = grant.map(|g| {
                g.into_iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            });
            let body = match (file, app_id) {
                (Some(file), _) => install_upload(client, &file, grant.as_deref(), enable).await?,
                (None, Some(app_id)) => {
                    let mut req = json!({"appId": app_id, "enable": enable});
                    if let Some(v) = version {
                        req["version"] = json!(v);
                    }
                    if let Some(g) = &grant {
                        req["permissionsGranted"] = json!(g);
                    }
                    client.post(&["api", "apps"], &req).await?
                }
                (None, None) => return Err(fail!("give an APP_ID or --file PKG")),
            };
            let app = &body["app"];
            let status = cell(&app["status"]);
            if json_out {
                print_json(&body)?;
            } else {
                println!(
                    "Installed {} {}: {}",
                    cell(&app["id"]),
                    cell(&app["version"]),
                    status_text(app)
                );
                let granted: Vec<String> = app["permissionsGranted"]
                    .as_array()
                    .map(|a| a.iter().map(cell).collect())
                    .unwrap_or_default();
                println!(
                    "Granted: {}",
                    if granted.is_empty() {
                        "(nothing)".to_string()
                    } else {
                        granted.join(", ")
                    }
                );
            }
            if enable && !status::is_enabled(&status) {
                return Err(fail!(
                    "installed, but not enabled: {}",
                    status_line(&cell(&app["id"]), app)
                ));
            }
            Ok(())
        }
        AppsCommand::Enable { id } => set_status(client, json_out, &id, true).await,
        AppsCommand::Disable { id } => set_status(client, json_out, &id, false).await,
        AppsCommand::Settings { id, set } => {
            let body = if set.is_empty() {
                client.get(&["api", "apps", &id, "settings"], &[]).await?
            } else {
                let settings: serde_json::Map<String, Value> = set.into_iter().collect();
                client
                    .post(
                        &["api", "apps", &id, "settings"],
                        &json!({ "settings": settings }),
                    )
                    .await?
            };
            if json_out {
                return print_json(&body);
            }
            print_table(&settings_table(&body), &format!("{id} has no settings."));
            if body.get("status").is_some() {
                println!("{}", status_line(&id, &body));
            }
            Ok(())
        }
        AppsCommand::Logs {
            id,
            level,
            count,
            offset,
        } => {
            let mut query = Vec::new();
            if let Some(level) = level {
                query.push(("level", LogLevel::as_str(level).to_string()));
            }
            if let Some(count) = count {
                query.push(("count", count.to_string()));
            }
            if let Some(offset) = offset {
                query.push(("offset", offset.to_string()));
            }
            let body = client.get(&["api", "apps", &id, "logs"], &query).await?;
            if json_out {
                return print_json(&body);
            }
            let table = logs_table(&body);
            print_table(&table, "No log entries.");
            let shown = items(&body, "logs").len() as u64;
            if let Some(total) = body["total"].as_u64().filter(|t| *t > shown && shown > 0) {
                println!("({shown} of {total} entries: see --offset and --count)");
            }
            Ok(())
        }
        AppsCommand::Uninstall { id } => {
            let body = client.delete(&["api", "apps", &id]).await?;
            if json_out {
                return print_json(&body);
            }
            println!("Uninstalled {id}");
            Ok(())
        }
    }
}

async fn set_status(client: &Client, json_out: bool, id: &str, enable: bool) -> CliResult {
    let wanted = if enable {
        status::MANUALLY_ENABLED
    } else {
        status::MANUALLY_DISABLED
    };
    let body = client
        .post(&["api", "apps", id, "status"], &json!({ "status": wanted }))
        .await?;
    if json_out {
        print_json(&body)?;
    } else {
        println!("{}", status_line(id, &body));
    }
    let now = body["status"].as_str().unwrap_or_default();
    if enable && !status::is_enabled(now) {
        return Err(fail!("not enabled: {}", status_line(id, &body)));
    }
    Ok(())
}

async fn install_upload(
    client: &Client,
    file: &Path,
    grant: Option<&[String]>,
    enable: bool,
) -> CliResult<Value> {
    use reqwest::multipart::{Form, Part};
    let bytes = std::fs::read(file).map_err(|e| fail!("cannot read {}: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "app.zip".into());
    let part = Part::bytes(bytes)
        .file_name(name)
        .mime_str("application/zip")
        .map_err(|e| fail!("{e}"))?;
    let mut form = Form::new()
        .part("app", part)
        .text("enable", if enable { "true" } else { "false" });
    if let Some(grant) = grant {
        form = form.text("permissionsGranted", json!(grant).to_string());
    }
    let sig_path = format!("{}.sig", file.display());
    if let Ok(sig) = std::fs::read(&sig_path) {
        form = form.part("signature", Part::bytes(sig).file_name("signature"));
    }
    let url = client.url(&["api", "apps"])?;
    client
        .send(client.request(Method::POST, url).multipart(form))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("abc-_9"), "'abc-_9'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn parses_settings() {
        assert_eq!(
            parse_setting("word=banana").unwrap(),
            ("word".into(), json!("banana"))
        );
        assert_eq!(parse_setting("n=42").unwrap(), ("n".into(), json!(42)));
        assert_eq!(parse_setting("b=true").unwrap(), ("b".into(), json!(true)));
        assert_eq!(parse_setting("x=null").unwrap(), ("x".into(), Value::Null));
        assert_eq!(
            parse_setting("q=\"42\"").unwrap(),
            ("q".into(), json!("42"))
        );
        assert_eq!(parse_setting("e=").unwrap(), ("e".into(), json!("")));
        assert_eq!(
            parse_setting(" url = a=b").unwrap(),
            ("url".into(), json!(" a=b"))
        );
        assert_eq!(
            parse_setting("l=[1, 2]").unwrap(),
            ("l".into(), json!([1, 2]))
        );
        assert!(parse_setting("novalue").is_err());
        assert!(parse_setting("=x").is_err());
    }

    #[test]
    fn reads_responses() {
        assert_eq!(
            check_response(200, r#"{"success":true,"apps":[]}"#).unwrap()["apps"],
            json!([])
        );
        assert_eq!(
            check_response(
                400,
                r#"{"success":false,"error":"app \"x\" is not installed"}"#
            )
            .unwrap_err(),
            "app \"x\" is not installed"
        );
        assert_eq!(
            check_response(401, r#"{"status":"error","message":"Unauthorized"}"#).unwrap_err(),
            "Unauthorized"
        );
        assert_eq!(
            check_response(200, r#"{"success":false,"error":"no"}"#).unwrap_err(),
            "no"
        );
        assert_eq!(
            check_response(502, "Bad gateway").unwrap_err(),
            "the server answered 502: Bad gateway"
        );
        assert_eq!(
            check_response(500, "").unwrap_err(),
            "the server answered 500"
        );
        assert_eq!(
            check_response(404, "{}").unwrap_err(),
            "the server answered 404"
        );
        assert!(check_response(
            400,
            r#"{"success":false,"error":"grew","permissionDiff":{"added":["networking"]}}"#
        )
        .unwrap_err()
        .contains("networking"));
    }

    #[test]
    fn tables() {
        let installed = json!({"apps": [
            {"id": "hello", "version": "0.1.0", "status": "manually_enabled", "statusReason": null},
            {"id": "guard", "version": "1.0.0", "status": "invalid_settings_disabled",
             "statusReason": "the setting \"key\" is required"},
        ]});
        assert_eq!(
            installed_table(&installed).render(),
            "ID     VERSION  STATUS                     REASON\n\
             hello  0.1.0    manually_enabled\n\
             guard  1.0.0    invalid_settings_disabled  the setting \"key\" is required\n"
        );
        let market = json!({"apps": [
            {"file": "hello-0.1.0.zip", "id": "hello", "version": "0.1.0", "valid": true, "signed": false},
            {"file": "bad.zip", "id": null, "valid": false, "signed": false, "error": "the package is not a zip file"},
        ]});
        assert_eq!(
            marketplace_table(&market).render(),
            "FILE             ID     VERSION  VALID  SIGNED  ERROR\n\
             hello-0.1.0.zip  hello  0.1.0    yes    no\n\
             bad.zip                          no     no      the package is not a zip file\n"
        );
        let settings = json!({"settings": [
            {"id": "word", "type": "string", "required": false, "value": "banana", "label": "Word"},
            {"id": "key", "type": "password", "required": true, "value": null, "isSet": true, "label": "Key"},
            {"id": "n", "type": "int", "required": false, "value": 3, "label": "N"},
        ]});
        assert_eq!(
            settings_table(&settings).render(),
            "ID    TYPE      REQUIRED  VALUE   LABEL\n\
             word  string    no        banana  Word\n\
             key   password  yes       (set)   Key\n\
             n     int       no        3       N\n"
        );
        let logs = json!({"logs": [
            {"ts": "2025-01-01T00:00:00.000Z", "level": "error", "handler": "execute-command",
             "message": "boom", "fault": "trap"},
            {"ts": "2025-01-01T00:00:01.000Z", "level": "info", "handler": null, "message": "enabled"},
        ]});
        assert_eq!(
            logs_table(&logs).render(),
            "TIME                      LEVEL  HANDLER          MESSAGE\n\
             2025-01-01T00:00:00.000Z  error  execute-command  boom [fault: trap]\n\
             2025-01-01T00:00:01.000Z  info                    enabled\n"
        );
        assert!(installed_table(&json!({})).is_empty());
    }

    #[test]
    fn details_and_urls() {
        let app = json!({"id": "hello", "version": "0.1.0", "status": "manually_disabled",
            "permissions": [{"name": "slashcommand", "required": true},
                            {"name": "networking", "required": false}],
            "permissionsGranted": ["slashcommand"],
            "commands": [{"name": "hello"}]});
        let text = app_details(&app);
        assert!(
            text.contains("asks:      slashcommand, networking (optional)\n"),
            "{text}"
        );
        assert!(text.contains("granted:   slashcommand\n"), "{text}");
        assert!(text.contains("commands:  /hello\n"), "{text}");
        assert!(!text.contains("reason:"), "{text}");

        let server = |url: &str| ServerArgs {
            url: url.into(),
            user: "admin".into(),
            password: None,
            user_id: None,
            auth_token: None,
            json: false,
        };
        let c = Client::new(&server("http://127.0.0.1:3000")).unwrap();
        assert_eq!(
            c.url(&["api", "apps", "a/b c", "logs"]).unwrap().as_str(),
            "http://127.0.0.1:3000/api/apps/a%2Fb%20c/logs"
        );
        let c = Client::new(&server("https://chat.example.com/palaver/")).unwrap();
        assert_eq!(
            c.url(&["api", "apps"]).unwrap().as_str(),
            "https://chat.example.com/palaver/api/apps"
        );
        assert!(Client::new(&server("not a url")).is_err());
        assert!(Client::new(&server("ftp://x")).is_err());
        assert!(is_loopback(&Url::parse("http://localhost:1").unwrap()));
        assert!(is_loopback(&Url::parse("http://[::1]:1").unwrap()));
        assert!(!is_loopback(&Url::parse("http://example.com").unwrap()));
    }
}

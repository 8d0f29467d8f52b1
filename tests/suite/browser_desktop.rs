//! Rocket.Chat's desktop app against the web client: its injected script
//! (Rocket.Chat.Electron `src/injected.ts`) force-reloads the page when
//! `window.require` stays missing, then reads the server version, the site name,
//! the favicon, the login state and the unread badge through the old web client's
//! modules. The same checks, in the page, with a recording `RocketChatDesktop`.

use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Palaver};
use serde_json::json;

use crate::browser_chat::log_in;

/// `injected.ts`'s start and `setupReactiveFeatures`, trimmed to what a server
/// provides (no retries: the page is loaded), recording into `window.__desktop`.
const INJECTED_CHECKS: &str = r#"
const calls = {};
const record = (name) => (...args) => { (calls[name] ||= []).push(args); };
window.RocketChatDesktop = new Proxy({}, { get: (_, name) => record(name) });
const out = { calls, failed: [] };
window.__desktop = out;
if (typeof window.require !== 'function') { out.reload = true; return out; }
const { Info: serverInfo = {} } = window.require('/app/utils/rocketchat.info');
if (!serverInfo.version) { out.noVersion = true; return out; }
window.RocketChatDesktop.setServerInfo(serverInfo);
const ge = (a, b) => {
  const v1 = a.split('-')[0].split('.').map(Number), v2 = b.split('-')[0].split('.').map(Number);
  for (let i = 0; i < Math.max(v1.length, v2.length); i++) {
    if ((v1[i] || 0) > (v2[i] || 0)) return true;
    if ((v1[i] || 0) < (v2[i] || 0)) return false;
  }
  return true;
};
const load = (path) => { try { return window.require(path); } catch (e) { out.failed.push(path); return {}; } };
const { Meteor } = load('meteor/meteor');
const { Session } = load('meteor/session');
const { Tracker } = load('meteor/tracker');
const { settings } = load(ge(serverInfo.version, '5.0.0') ? '/app/settings/client/index.ts' : '/app/settings');
const { getUserPreference } = load(ge(serverInfo.version, '5.0.0') ? '/app/utils/client/index.ts' : '/app/utils');
load(ge(serverInfo.version, '6.3.0') ? 'meteor/rocketchat:user-presence' : 'meteor/konecty:user-presence');
window.RocketChatDesktop.setUrlResolver(Meteor.absoluteUrl);
if (!ge(serverInfo.version, '7.8.0')) {
  Tracker.autorun(() => window.RocketChatDesktop.setBadge(Session.get('unread')));
}
window.addEventListener('unread-changed', (ev) => window.RocketChatDesktop.setBadgeEvent(ev.detail));
Tracker.autorun(() => {
  const { url, defaultUrl } = settings.get('Assets_favicon') || {};
  window.RocketChatDesktop.setFavicon(url || defaultUrl);
});
Tracker.autorun(() => window.RocketChatDesktop.setTitle(settings.get('Site_Name')));
Tracker.autorun(() => window.RocketChatDesktop.setUserLoggedIn(Meteor.userId() !== null));
Tracker.autorun(() => { const uid = Meteor.userId(); if (uid) getUserPreference(uid, 'enableAutoAway'); });
return out;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_apps_checks_find_what_they_need() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "dana").await;
    let eve = srv.create_user(&admin, "eve").await;
    let dm = srv
        .post_ok("im.create", &eve, json!({"username": "dana"}))
        .await;
    let rid = dm["room"]["_id"].as_str().expect("dm id").to_string();

    let b = Browser::start().await;
    log_in(&b, &srv, "dana", &password_for("dana")).await;
    let out = b.exec(INJECTED_CHECKS, vec![]).await;
    assert_eq!(
        out["reload"],
        json!(null),
        "the desktop app would reload: {out}"
    );
    assert_eq!(out["failed"], json!([]), "modules it loads: {out}");
    let calls = &out["calls"];
    let version = calls["setServerInfo"][0][0]["version"]
        .as_str()
        .unwrap_or_default();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_default();
    assert!(major >= 6, "a Rocket.Chat version the app accepts: {out}");
    assert_eq!(calls["setTitle"][0], json!(["Palaver"]), "{out}");
    assert_eq!(calls["setUserLoggedIn"][0], json!([true]), "{out}");
    let favicon = calls["setFavicon"][0][0].as_str().unwrap_or_default();
    assert_eq!(favicon, srv.url("/assets/favicon.svg"), "{out}");
    let icon = reqwest::get(favicon).await.expect("favicon");
    assert!(icon.status().is_success(), "the favicon is served");

    // A message from eve: the DM appears, and the app's badge follows the client's
    // unread count (the title's): through `unread-changed`, and for servers before
    // 7.8 also through `Session.get('unread')`, as the app's script reads them.
    srv.post_ok(
        "chat.postMessage",
        &eve,
        json!({"roomId": rid, "text": "hi dana"}),
    )
    .await;
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_default();
    let old_badge = (major, minor) < (7, 8);
    b.wait_js(
        "the badge to show the unread count",
        &format!(
            "const c = window.__desktop.calls; const last = (k) => (c[k] || []).slice(-1)[0]; \
         const m = document.title.match(/^\\((\\d+)\\)/); const n = m ? Number(m[1]) : 0; \
         const session = {old_badge} ? Number(last('setBadge')?.[0]) : n; \
         return document.body.innerText.includes('eve Name') && n >= 1 \
           && session === n && Number(last('setBadgeEvent')?.[0]) === n;"
        ),
    )
    .await;
    b.screenshot("desktop-badge").await;
}

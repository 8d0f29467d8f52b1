//! Meteor's OAuth credential flow, as Rocket.Chat's mobile app (and Meteor clients)
//! run it: the app opens the provider's authorize URL itself (built from
//! `settings.oauth`) with `state` = base64 of `{loginStyle, credentialToken,
//! isCordova, redirectUrl?}`; the provider sends the browser to `/_oauth/<service>`,
//! where the code is exchanged and the result is kept as a *pending credential*
//! under the app's `credentialToken` and a fresh `credentialSecret`; the answer page
//! hands both to the app (`popup`: in the page's `config` and the URL hash;
//! `redirect` to `rocketchat://auth`: in that URL), and the app logs in with
//! `login {oauth: {credentialToken, credentialSecret}}` over REST or realtime.
//!
//! The pending credential lives in the store's single-use keys (any instance can
//! redeem it, once, within [`CREDENTIAL_TTL_MS`]); its key holds a hash of the
//! secret, so a wrong secret finds nothing and cannot burn the right one. Each
//! `credentialToken` can start one credential only. This flow has no PKCE and no
//! nonce, because the app sends none (the provider must allow that for this
//! client); the ID token is still verified (signature, `iss`, `aud`, `exp`).

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{client, consume_state, now_secs, random_token, signin, Claims, OAuthError};
use super::{OAuthResult, ProviderConfig, FLOW_TTL};
use crate::chat::login::LoginOutcome;
use crate::chat::{Chat, ChatError};
use crate::store::Ts;

/// How long the app has to redeem its credential (Meteor keeps them a minute).
pub const CREDENTIAL_TTL_MS: i64 = 60_000;
const KIND_APP_STATE: &str = "oauth-app-state";
const KIND_CREDENTIAL: &str = "oauth-credential";
/// Where `loginStyle: "redirect"` may send the credential: Rocket.Chat's app.
pub const APP_REDIRECT: &str = "rocketchat://auth";
/// Meteor's storage prefix, which the page's script also uses for `localStorage`.
const STORAGE_PREFIX: &str = "Meteor.oauth.credentialSecret-";

/// The app's `state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppState {
    pub popup: bool,
    pub credential_token: String,
    pub is_cordova: bool,
    pub redirect_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawState {
    #[serde(default)]
    login_style: Option<String>,
    credential_token: String,
    #[serde(default)]
    is_cordova: bool,
    #[serde(default)]
    redirect_url: Option<String>,
}

/// Reads a Meteor-style `state`; `None` when it is not one (then it is a state of
/// this server's own browser flow, or garbage).
pub fn parse_state(state: &str) -> Option<AppState> {
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let bytes = [
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient),
        GeneralPurpose::new(&base64::alphabet::STANDARD, lenient),
    ]
    .iter()
    .find_map(|e| e.decode(state.trim()).ok())
    .or_else(|| URL_SAFE.decode(state).ok())
    .or_else(|| STANDARD.decode(state).ok())?;
    let raw: RawState = serde_json::from_slice(&bytes).ok()?;
    // The token comes back into an HTML page and a URL: keep it to the characters
    // Meteor's and the app's random tokens use.
    let token_ok = (8..=256).contains(&raw.credential_token.len())
        && raw
            .credential_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !token_ok {
        return None;
    }
    Some(AppState {
        popup: raw.login_style.as_deref() != Some("redirect"),
        credential_token: raw.credential_token,
        is_cordova: raw.is_cordova,
        redirect_url: raw.redirect_url.filter(|u| !u.is_empty()),
    })
}

/// What a pending credential stands for until the app redeems it.
#[derive(Serialize, Deserialize)]
struct Pending {
    service: String,
    subject: String,
    claims: Map<String, Value>,
}

fn credential_key(token: &str, secret: &str) -> String {
    format!("{token}:{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// Finishes the app's flow at the callback: the state's token is used once (on
/// every instance), the code is exchanged, and the claims wait for the app under
/// its token and the returned secret.
pub async fn complete(
    chat: &Chat,
    cfg: &ProviderConfig,
    redirect_uri: &str,
    query: &HashMap<String, String>,
    app: &AppState,
) -> OAuthResult<String> {
    if !app.popup && !app.redirect_url.as_deref().is_some_and(is_app_redirect) {
        return Err(OAuthError::Provider(
            "a redirect-style sign-in may only return to Rocket.Chat's app".into(),
        ));
    }
    let expires = now_secs() + FLOW_TTL.as_secs() as i64;
    if !consume_state(chat, KIND_APP_STATE, &app.credential_token, expires).await? {
        return Err(OAuthError::State);
    }
    let claims = client()
        .exchange(cfg, redirect_uri, query, None, None)
        .await?;
    let secret = random_token();
    let pending = Pending {
        service: cfg.name.clone(),
        subject: claims.subject.clone(),
        claims: claims.all,
    };
    let value = serde_json::to_string(&pending).map_err(|e| OAuthError::Storage(e.to_string()))?;
    let stored = chat
        .put_once(
            KIND_CREDENTIAL,
            &credential_key(&app.credential_token, &secret),
            &value,
            Ts(Ts::now().0 + CREDENTIAL_TTL_MS),
        )
        .await
        .map_err(|e| OAuthError::Storage(e.to_string()))?;
    if !stored {
        return Err(OAuthError::State);
    }
    tracing::info!(service = %cfg.name, "OAuth credential waiting for the app");
    Ok(secret)
}

fn is_app_redirect(url: &str) -> bool {
    url == APP_REDIRECT || url.starts_with(&format!("{APP_REDIRECT}?"))
}

/// `login {oauth: {credentialToken, credentialSecret}}`: the pending credential,
/// once, then the account it maps to (as any sign-in with the provider).
pub async fn login_with_credential(
    chat: &Chat,
    token: &str,
    secret: &str,
) -> Result<LoginOutcome, ChatError> {
    if token.is_empty() || secret.is_empty() {
        return Err(OAuthError::UnknownCredential.into());
    }
    let pending: Pending = chat
        .take_once(KIND_CREDENTIAL, &credential_key(token, secret))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .ok_or(OAuthError::UnknownCredential)?;
    let cfg = signin::provider(chat, &pending.service)?;
    let claims = Claims {
        subject: pending.subject,
        all: pending.claims,
    };
    signin::login_with_claims(chat, &cfg, &claims).await
}

/// The page that ends the flow in the app's web view: Meteor's
/// `end_of_popup_response` (the credential in the `config` element, read by
/// `/_oauth/end_of_popup_response.js`, which puts it in the URL hash for the app).
/// `credential` is `None` after a failure: the page says so and hands nothing over.
pub fn popup_page(app: &AppState, credential: Option<&str>, error: Option<&str>) -> String {
    let config = serde_json::json!({
        "setCredentialToken": credential.is_some(),
        "credentialToken": app.credential_token,
        "credentialSecret": credential.unwrap_or(""),
        "storagePrefix": STORAGE_PREFIX,
        "isCordova": app.is_cordova,
    });
    let config = html_safe_json(&config);
    let message = match error {
        Some(e) => format!("Sign-in failed: {}", html_escape(e)),
        None => "Login completed. You can close this window.".to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign-in</title></head><body>\n\
         <p id=\"completedText\"{hidden}>{message}</p>\n\
         <div id=\"config\" hidden>{config}</div>\n\
         <script src=\"/_oauth/end_of_popup_response.js\"></script>\n</body></html>\n",
        hidden = if error.is_some() { "" } else { " hidden" },
    )
}

/// The script of [`popup_page`] (a file, so the page needs no inline script).
pub const POPUP_SCRIPT: &str = r#"(function () {
  var config = JSON.parse(document.getElementById('config').textContent);
  if (config.setCredentialToken) {
    if (config.isCordova) {
      window.location.hash = JSON.stringify({
        credentialToken: config.credentialToken,
        credentialSecret: config.credentialSecret
      });
    }
    try {
      localStorage.setItem(config.storagePrefix + config.credentialToken, config.credentialSecret);
    } catch (e) { /* storage may be off */ }
  }
  if (!config.isCordova) {
    document.getElementById('completedText').hidden = false;
    window.close();
  }
})();
"#;

/// Where `loginStyle: "redirect"` sends the credential (Rocket.Chat's form).
pub fn app_redirect_url(
    site: &str,
    token: &str,
    secret: Option<&str>,
    error: Option<&str>,
) -> String {
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut url = format!("{APP_REDIRECT}?host={}&type=oauth", enc(site));
    if let Some(e) = error {
        url.push_str(&format!("&error={}", enc(e)));
    }
    if let Some(secret) = secret {
        url.push_str(&format!(
            "&credentialToken={}&credentialSecret={}",
            enc(token),
            enc(secret)
        ));
    }
    url
}

/// JSON that can sit in HTML text: `<`, `>` and `&` escaped as JSON escapes.
fn html_safe_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        URL_SAFE.encode(v.to_string())
    }

    #[test]
    fn the_apps_state_is_read_in_either_alphabet_with_or_without_padding() {
        let v = serde_json::json!({"loginStyle": "popup", "credentialToken": "abcDEF0123456789", "isCordova": true});
        let want = AppState {
            popup: true,
            credential_token: "abcDEF0123456789".into(),
            is_cordova: true,
            redirect_url: None,
        };
        assert_eq!(parse_state(&b64(&v)), Some(want.clone()));
        assert_eq!(
            parse_state(&STANDARD.encode(v.to_string())),
            Some(want.clone())
        );
        assert_eq!(parse_state(b64(&v).trim_end_matches('=')), Some(want));
        let r = serde_json::json!({"loginStyle": "redirect", "credentialToken": "abcDEF0123456789", "isCordova": true, "redirectUrl": APP_REDIRECT});
        let got = parse_state(&b64(&r)).expect("redirect state");
        assert!(!got.popup);
        assert_eq!(got.redirect_url.as_deref(), Some(APP_REDIRECT));
    }

    #[test]
    fn a_state_that_is_not_the_apps_or_carries_markup_is_not_read() {
        assert_eq!(parse_state("Zm9v"), None);
        assert_eq!(parse_state("random-state-of-our-own-flow"), None);
        let v = serde_json::json!({"credentialToken": "<script>alert(1)</script>"});
        assert_eq!(parse_state(&b64(&v)), None);
        let v = serde_json::json!({"credentialToken": "short"});
        assert_eq!(parse_state(&b64(&v)), None);
    }

    #[test]
    fn the_page_carries_the_credential_and_no_markup_from_it() {
        let app = AppState {
            popup: true,
            credential_token: "tok_0123456789".into(),
            is_cordova: true,
            redirect_url: None,
        };
        let page = popup_page(&app, Some("s3cret"), None);
        assert!(page.contains(r#""credentialSecret":"s3cret""#), "{page}");
        assert!(
            page.contains(r#""credentialToken":"tok_0123456789""#),
            "{page}"
        );
        let failed = popup_page(&app, None, Some("<b>denied</b>"));
        assert!(failed.contains("&lt;b&gt;denied"), "{failed}");
        assert!(failed.contains(r#""setCredentialToken":false"#), "{failed}");
        assert_eq!(
            html_safe_json(&serde_json::json!({"a": "</div>"})),
            r#"{"a":"\u003c/div\u003e"}"#
        );
    }

    #[test]
    fn a_wrong_secret_names_another_key() {
        assert_ne!(credential_key("t", "a"), credential_key("t", "b"));
        assert_eq!(credential_key("t", "a"), credential_key("t", "a"));
    }
}

//! HTTPS fakes of the push services, at their real host names (see fake_tls): Rocket.Chat's
//! push gateway (`gateway.rocket.chat`), Google's token endpoint and FCM HTTP v1
//! (`oauth2.googleapis.com`, `fcm.googleapis.com`), and APNs over HTTP/2
//! (`api.push.apple.com`, `api.sandbox.push.apple.com`).
//!
//! They check what a real service checks (the JWTs' signatures and claims, the
//! headers, the access token) and answer as it does. A test scripts answers per
//! device token: dead (gateway 406, FCM 404 `UNREGISTERED`, APNs 410) or a list of
//! statuses to answer first (e.g. 500 then 200). Accepted pushes are kept in order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

use crate::fake_tls::{Recorded, TlsFake};
use crate::lock;

pub const GATEWAY_HOST: &str = "gateway.rocket.chat";
pub const OAUTH_HOST: &str = "oauth2.googleapis.com";
pub const FCM_HOST: &str = "fcm.googleapis.com";
pub const APNS_HOST: &str = "api.push.apple.com";
pub const APNS_SANDBOX_HOST: &str = "api.sandbox.push.apple.com";

pub const FCM_PROJECT: &str = "palaver-test";
pub const SA_EMAIL: &str = "push@palaver-test.iam.gserviceaccount.com";
pub const SA_KEY_ID: &str = "0123456789abcdef";
pub const APNS_KEY_ID: &str = "ABC123DEFG";
pub const APNS_TEAM_ID: &str = "DEF123GHIJ";

/// The test service account's RSA key (made for these tests only).
const SA_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDOcM1cL/rbUSKs
tXEvw/PpYEelF08k03TGxzKTv0h4WeVVy5qrIlRtNnwdNzI9F5DnwtsZAgpc97IO
wUIjc5TTIhzL3W2uyeASLXFa/L48B2SeHEQ7p9lrMOQNP1dmHIHXGHgV7BGbBrJ6
xed3O7uTGk2Xko3oHE+RMggBsIL/sTMsQeG37pdmnnkaz1rSZYtDpj7Zh9vvd8Dr
gIONaeiF2B6kMwzmpwgmFlt0q3iplxVBjOdgyWuRih+rmmrOV/QzXuyJ1I60iO+q
DU9YGcqQBDa02kUSy5ckqQJTczjyV9yQ6UEm/srcpxbI68b7nGghtxiCRob67+ar
dQMv3+h1AgMBAAECggEAWFIlYf/7BLLBMX/NBYEBzQJOlKCU0S4Qo2ycxF5NfIQF
XH/n07izwyfQ0NUJDt8StT0F7LyVP3IPgUWIbM9pyCyrgkLhRqsCzPQZL7K7FsaY
8xYn0Rf+KmB36P0FAOBIYoSK9+IQJDGo0WLzJO1u0kAqGyNtx/S4y+dKSqLAYPCj
rUbqe3p9ASeCjdsLDfDnCkHeImuaQKMVLfgQ/oe4iEfotQyeTeepEmu05QqweuEz
2pqaBhOoQBV5YHl2Bqv1nZ2+ZZ6WcRdiGWFFgRV31NA26KT1sLTaJqcSbzCsqpU7
gjxbtYcW2JN63BQLiGk8KMTWcK0ceqYIo+8nzBWATwKBgQDrws4jgUxt4P7iEOdt
6J+Fd+5s7b9zGvmWyz1/3gxlaYjVX8+tqhKtcZ3ReR3G92rjXoVsfLUbYa8A71oC
4yUG4mwFuHq5yOMhGfelNEdcEAzZ1Hy0aCJtG9Kn2RKIitAoBTqgofQ3KqZpI7yD
3kSp2tv4JTjFhjq9Rea3YzpzkwKBgQDgKaO77V9GFIth+qql8rLj6D3wybcsqepI
X85yuhURM27IAoO+rheidGfRiy54LKiWqzv955MZI10XHK2eOFKex/2ytl754NpK
auS9rhrx/e6cAARSjTqXzInsQS86GvSGIKFrqS0kDr7LbFcYvvACOXY657hA6HF5
48ZnfUrI1wKBgQCWMLXNnJMp9ImrToWAWQ82oZ58OkEafPa/f54gFT7kZATNmYnd
4lifsZ+OUJANrpSjYBWzdQaS+PnZqKE48acm6ZtTUaCtNjKrZbWDwvgqx/bH1jvT
WfuEcpMSZpEN9xCATkR5DHNdqYf1ttRjVXd8lXZIcL3n54kIBr3h2g7kjQKBgCa2
SjaMOeXqal/TYGEkVsyRMRFCZMXr2jABi6+4fybnUPxtor7tZduCauN/O9k5LSxI
CiZBNeAjgVIae8lVRL9zHlccs65HrKspZrNzO+gKyIhcYGK5TSMmCbOpVjScrxny
zK3BG7Ccc0rCPRBi+SQJNGfb2LAs9FvugDcjJiUlAoGAOC7gHnB08A8EPu4+paXn
na0icZ0Ln+9DpEYSXHWIJk6Xf7vrAXHu6W5X9LNDNCR7k9whqPTYynKRaBLVpgW8
BbqzcVGV8daJZbFLMAIDQ+uXX/1t+zM4o08hyzfhBW4JmVCTUQLBDGOZGN9szI3a
qHEdho4TBNUAzPOQlzTWwlA=
-----END PRIVATE KEY-----";

/// One push a fake accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// `gateway-apn`, `gateway-gcm`, `fcm` or `apns`.
    pub service: String,
    pub token: String,
    pub request: Recorded,
}

#[derive(Default)]
struct Inner {
    dead: HashSet<String>,
    script: HashMap<String, VecDeque<u16>>,
    access_tokens: HashSet<String>,
    accepted: Vec<Accepted>,
    /// Why requests were refused (a failed check), for the test's messages.
    refusals: Vec<String>,
    sa_public: Vec<u8>,
    apns_public: Vec<u8>,
}

type Shared = Arc<Mutex<Inner>>;

/// The push services.
pub struct FakePush {
    https: TlsFake,
    apns: TlsFake,
    inner: Shared,
    apns_key_pem: String,
}

impl FakePush {
    pub async fn start() -> FakePush {
        let sa = RsaKeyPair::from_pkcs8(&pem_der(SA_PRIVATE_KEY)).expect("the test RSA key");
        let p8 = EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .expect("an APNs test key");
        let apns_key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            p8.as_ref(),
            &SystemRandom::new(),
        )
        .expect("the APNs test key");
        let inner = Arc::new(Mutex::new(Inner {
            sa_public: sa.public().as_ref().to_vec(),
            apns_public: apns_key.public_key().as_ref().to_vec(),
            ..Inner::default()
        }));
        let https = TlsFake::start(
            &[GATEWAY_HOST, OAUTH_HOST, FCM_HOST],
            Router::new().fallback(handle).with_state(inner.clone()),
        )
        .await;
        let apns = TlsFake::start_h2(
            &[APNS_HOST, APNS_SANDBOX_HOST],
            Router::new()
                .fallback(handle_apns)
                .with_state(inner.clone()),
        )
        .await;
        let apns_key_pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(p8.as_ref())
        );
        FakePush {
            https,
            apns,
            inner,
            apns_key_pem,
        }
    }

    /// The server's environment routing the push hosts here and trusting the test CA.
    pub fn palaver_env(&self) -> Vec<(String, String)> {
        let mut routes: Vec<String> = [GATEWAY_HOST, OAUTH_HOST, FCM_HOST]
            .iter()
            .map(|h| format!("\"{h}:443={}\"", self.https.addr()))
            .collect();
        routes.extend(
            [APNS_HOST, APNS_SANDBOX_HOST]
                .iter()
                .map(|h| format!("\"{h}:443={}\"", self.apns.addr())),
        );
        vec![
            (
                "PALAVER_PUSH__CONNECT_TO".into(),
                format!("[{}]", routes.join(", ")),
            ),
            (
                "PALAVER_PUSH__EXTRA_CA_FILE".into(),
                self.https.ca_file().display().to_string(),
            ),
        ]
    }

    /// The service account key file's content (for `Push_google_api_credentials`).
    pub fn service_account_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": FCM_PROJECT,
            "private_key_id": SA_KEY_ID,
            "private_key": SA_PRIVATE_KEY,
            "client_email": SA_EMAIL,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
    }

    /// The APNs auth key (.p8) the fake checks tokens against.
    pub fn apns_key_pem(&self) -> &str {
        &self.apns_key_pem
    }

    /// The service will say this device is gone.
    pub fn kill_token(&self, token: &str) {
        lock(&self.inner).dead.insert(token.to_string());
    }

    /// Answers these statuses to the next pushes to `token`, then accepts.
    pub fn script(&self, token: &str, statuses: &[u16]) {
        lock(&self.inner)
            .script
            .insert(token.to_string(), statuses.iter().copied().collect());
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.inner).accepted.clone()
    }

    /// How many pushes were accepted (without copying them: benchmarks poll this).
    pub fn accepted_count(&self) -> usize {
        lock(&self.inner).accepted.len()
    }

    pub fn refusals(&self) -> Vec<String> {
        lock(&self.inner).refusals.clone()
    }

    /// Every request either fake received.
    pub fn requests(&self) -> Vec<Recorded> {
        let mut all = self.https.requests();
        all.extend(self.apns.requests());
        all
    }
}

fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).expect("PEM base64")
}

/// Checks a JWT's signature with `alg` and `public`; its header and claims.
fn verify_jwt(
    token: &str,
    alg: &'static dyn signature::VerificationAlgorithm,
    public: &[u8],
) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("not a JWT: {token}"));
    }
    let decode = |p: &str| -> Result<Vec<u8>, String> {
        URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|e| format!("JWT base64url: {e}"))
    };
    let sig = decode(parts[2])?;
    signature::UnparsedPublicKey::new(alg, public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|_| "JWT signature does not verify".to_string())?;
    let header: Value =
        serde_json::from_slice(&decode(parts[0])?).map_err(|e| format!("JWT header: {e}"))?;
    let claims: Value =
        serde_json::from_slice(&decode(parts[1])?).map_err(|e| format!("JWT claims: {e}"))?;
    Ok((header, claims))
}

fn refuse(inner: &Shared, status: StatusCode, why: String) -> Response {
    lock(inner).refusals.push(why.clone());
    (status, Json(json!({"error": why}))).into_response()
}

use axum::Json;

/// The scripted answer for `token`, if any.
fn scripted(inner: &Shared, token: &str) -> Option<u16> {
    lock(inner)
        .script
        .get_mut(token)
        .and_then(VecDeque::pop_front)
}

async fn handle(State(inner): State<Shared>, Extension(req): Extension<Recorded>) -> Response {
    match (req.host.as_str(), req.method.as_str()) {
        (GATEWAY_HOST, "POST") => gateway(&inner, req),
        (OAUTH_HOST, "POST") if req.route() == "/token" => google_token(&inner, &req),
        (FCM_HOST, "POST") => fcm(&inner, req),
        _ => (StatusCode::NOT_FOUND, "no such route").into_response(),
    }
}

fn gateway(inner: &Shared, req: Recorded) -> Response {
    let service = match req.route() {
        "/push/apn/send" => "apn",
        "/push/gcm/send" => "gcm",
        other => {
            return refuse(
                inner,
                StatusCode::NOT_FOUND,
                format!("gateway: no route {other}"),
            )
        }
    };
    if !req.has_content_type("application/json") {
        return refuse(inner, StatusCode::BAD_REQUEST, "gateway: not JSON".into());
    }
    let body = req.json();
    let Some(token) = body["token"].as_str().map(str::to_string) else {
        return refuse(inner, StatusCode::BAD_REQUEST, "gateway: no token".into());
    };
    let options = &body["options"];
    for key in ["title", "text", "from", "userId", "createdAt", "createdBy"] {
        if options[key].is_null() {
            return refuse(
                inner,
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("gateway: options.{key} missing"),
            );
        }
    }
    if lock(inner).dead.contains(&token) {
        return (StatusCode::NOT_ACCEPTABLE, "token invalid").into_response();
    }
    if let Some(status) = scripted(inner, &token) {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            "scripted",
        )
            .into_response();
    }
    lock(inner).accepted.push(Accepted {
        service: format!("gateway-{service}"),
        token,
        request: req,
    });
    StatusCode::OK.into_response()
}

fn google_token(inner: &Shared, req: &Recorded) -> Response {
    if req.form_param("grant_type").as_deref()
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse(
            inner,
            StatusCode::BAD_REQUEST,
            "token: wrong grant_type".into(),
        );
    }
    let assertion = req.form_param("assertion").unwrap_or_default();
    let public = lock(inner).sa_public.clone();
    let checked = verify_jwt(&assertion, &signature::RSA_PKCS1_2048_8192_SHA256, &public).and_then(
        |(header, claims)| {
            let now = chrono::Utc::now().timestamp();
            let iat = claims["iat"].as_i64().unwrap_or_default();
            let exp = claims["exp"].as_i64().unwrap_or_default();
            if header["alg"] != "RS256" || header["kid"] != SA_KEY_ID {
                return Err(format!("token: JWT header {header}"));
            }
            if claims["iss"] != SA_EMAIL
                || claims["aud"] != "https://oauth2.googleapis.com/token"
                || claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging"
                || (iat - now).abs() > 300
                || exp <= now
                || exp - iat > 3600
            {
                return Err(format!("token: JWT claims {claims}"));
            }
            Ok(())
        },
    );
    if let Err(why) = checked {
        lock(inner).refusals.push(why);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
        )
            .into_response();
    }
    let token = format!("ya29.test-{}", lock(inner).access_tokens.len());
    lock(inner).access_tokens.insert(token.clone());
    Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

fn fcm(inner: &Shared, req: Recorded) -> Response {
    if req.route() != format!("/v1/projects/{FCM_PROJECT}/messages:send") {
        return refuse(
            inner,
            StatusCode::NOT_FOUND,
            format!("fcm: no route {}", req.route()),
        );
    }
    let bearer = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if !lock(inner).access_tokens.contains(&bearer) {
        return refuse(
            inner,
            StatusCode::UNAUTHORIZED,
            format!("fcm: access token {bearer:?} not issued"),
        );
    }
    let body = req.json();
    let Some(token) = body["message"]["token"].as_str().map(str::to_string) else {
        return refuse(
            inner,
            StatusCode::BAD_REQUEST,
            "fcm: no message.token".into(),
        );
    };
    if lock(inner).dead.contains(&token) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}})),
        )
            .into_response();
    }
    if let Some(status) = scripted(inner, &token) {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            "scripted",
        )
            .into_response();
    }
    lock(inner).accepted.push(Accepted {
        service: "fcm".into(),
        token,
        request: req,
    });
    Json(json!({"name": format!("projects/{FCM_PROJECT}/messages/0:1")})).into_response()
}

async fn handle_apns(State(inner): State<Shared>, Extension(req): Extension<Recorded>) -> Response {
    let Some(token) = req.route().strip_prefix("/3/device/").map(str::to_string) else {
        return refuse(
            &inner,
            StatusCode::NOT_FOUND,
            format!("apns: no route {}", req.route()),
        );
    };
    let jwt = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("bearer "))
        .unwrap_or_default()
        .to_string();
    let public = lock(&inner).apns_public.clone();
    let checked = verify_jwt(&jwt, &signature::ECDSA_P256_SHA256_FIXED, &public).and_then(
        |(header, claims)| {
            if header["alg"] != "ES256"
                || header["kid"] != APNS_KEY_ID
                || claims["iss"] != APNS_TEAM_ID
            {
                return Err(format!("apns: JWT {header} {claims}"));
            }
            Ok(())
        },
    );
    if let Err(why) = checked {
        lock(&inner).refusals.push(why);
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"reason": "InvalidProviderToken"})),
        )
            .into_response();
    }
    if req.header("apns-topic").is_none_or(str::is_empty) {
        return refuse(
            &inner,
            StatusCode::BAD_REQUEST,
            "apns: no apns-topic".into(),
        );
    }
    if req.header("apns-push-type") != Some("alert") {
        return refuse(
            &inner,
            StatusCode::BAD_REQUEST,
            "apns: apns-push-type".into(),
        );
    }
    if lock(&inner).dead.contains(&token) {
        return (
            StatusCode::GONE,
            Json(json!({"reason": "Unregistered", "timestamp": 1_700_000_000_000u64})),
        )
            .into_response();
    }
    if let Some(status) = scripted(&inner, &token) {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            Json(json!({"reason": "InternalServerError"})),
        )
            .into_response();
    }
    lock(&inner).accepted.push(Accepted {
        service: "apns".into(),
        token,
        request: req,
    });
    (
        [("apns-id", "EC1BF194-B3B2-424A-89A9-5A918A6E9D4D")],
        StatusCode::OK,
    )
        .into_response()
}

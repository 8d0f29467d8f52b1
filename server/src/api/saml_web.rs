//! The browser side of SAML sign-in, on Rocket.Chat's paths:
//! `GET /_saml/metadata/<provider>` (this service provider's metadata),
//! `GET /_saml/authorize/<provider>[/<token>]` (off to the identity provider with an
//! AuthnRequest), `POST /_saml/validate/<provider>` (the assertion consumer; on
//! success the browser goes to `/saml/<credentialToken>?saml_idp_credentialToken=…`
//! as Rocket.Chat sends it, which the mobile apps watch for and the web client
//! redeems with `login {saml: true, credentialToken}`), and
//! `GET /_saml/logout/<provider>` (single logout, HTTP-Redirect binding).
//! Failures go back to `/?saml_error=<code>`, which the login page explains.

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::AppState;
use crate::identity::saml::{self, LogoutDone, SamlError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_saml/metadata/{provider}", get(metadata))
        .route("/_saml/authorize/{provider}", get(authorize))
        .route(
            "/_saml/authorize/{provider}/{token}",
            get(authorize_with_token),
        )
        .route("/_saml/validate/{provider}", post(validate))
        .route("/_saml/logout/{provider}", get(logout))
        .route("/saml/{token}", get(credential_landing))
}

fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn failed(e: &SamlError) -> Response {
    let code = e.error_type().trim_start_matches("error-saml-");
    redirect(&format!("/?saml_error={code}"))
}

async fn metadata(State(state): State<AppState>, Path(provider): Path<String>) -> Response {
    match saml::metadata(&state.chat, &provider) {
        Ok(xml) => (
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            )],
            xml,
        )
            .into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

async fn authorize(State(state): State<AppState>, Path(provider): Path<String>) -> Response {
    start(&state, &provider).await
}

async fn authorize_with_token(
    State(state): State<AppState>,
    Path((provider, _token)): Path<(String, String)>,
) -> Response {
    // The client's token (Rocket.Chat's mobile app sends one) is not needed: the
    // credential token is made fresh after validation.
    start(&state, &provider).await
}

async fn start(state: &AppState, provider: &str) -> Response {
    match saml::authorize_url(&state.chat, provider, None).await {
        Ok(url) => redirect(&url),
        Err(e) => {
            tracing::warn!(provider, error = %e, "cannot start a SAML sign-in");
            failed(&e)
        }
    }
}

#[derive(Deserialize)]
struct PostBinding {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
}

async fn validate(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Form(form): Form<PostBinding>,
) -> Response {
    match saml::validate(&state.chat, &provider, &form.saml_response).await {
        Ok(token) => redirect(&format!("/saml/{token}?saml_idp_credentialToken={token}")),
        Err(e) => failed(&e),
    }
}

async fn credential_landing(Path(token): Path<String>) -> Response {
    let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    redirect(&format!("/?saml_idp_credentialToken={token}"))
}

async fn logout(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match saml::handle_logout(&state.chat, &provider, query.as_deref().unwrap_or("")).await {
        Ok(LogoutDone::Respond(url)) => redirect(&url),
        Ok(LogoutDone::Finished) => redirect("/"),
        Err(e) => {
            tracing::info!(provider, error = %e, "SAML logout message refused");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

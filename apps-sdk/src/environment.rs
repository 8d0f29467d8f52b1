//! Facts about the server and the app itself. No permission needed.

use crate::bindings::palaver::apps::environment as wit;

/// The server's public base URL, e.g. `https://chat.example.com`.
pub fn site_url() -> String {
    wit::site_url()
}

/// This app's id (from its manifest).
pub fn app_id() -> String {
    wit::app_id()
}

/// This app's installed version.
pub fn app_version() -> String {
    wit::app_version()
}

/// The user id of the app's bot user.
pub fn bot_user_id() -> String {
    wit::bot_user_id()
}

/// The public URL of one of the app's endpoints:
/// `<site-url>/api/apps/public/<app-id>/<path>`.
pub fn public_endpoint_url(path: &str) -> String {
    endpoint_url(&site_url(), "public", &app_id(), path)
}

/// The URL of one of the app's authenticated endpoints:
/// `<site-url>/api/apps/private/<app-id>/<path>`.
pub fn private_endpoint_url(path: &str) -> String {
    endpoint_url(&site_url(), "private", &app_id(), path)
}

fn endpoint_url(site: &str, kind: &str, app_id: &str, path: &str) -> String {
    format!(
        "{}/api/apps/{kind}/{app_id}/{}",
        site.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoint_urls() {
        assert_eq!(
            super::endpoint_url("https://chat.example.com/", "public", "hello", "/hook"),
            "https://chat.example.com/api/apps/public/hello/hook"
        );
    }
}

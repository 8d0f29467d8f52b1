//! The small HTML pages the browser sees at the end of a login.

use palaver_apps_sdk::EndpointResponse;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: u16, title: &str, message: &str) -> EndpointResponse {
    let (title, message) = (escape(title), escape(message));
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:34rem;\
         margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}}</style></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>\n"
    );
    EndpointResponse::new(status)
        .header("content-type", "text/html; charset=utf-8")
        // The URL carried a one-time code: keep it out of caches and referrers.
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        )
        .body(body.into_bytes())
}

/// A success page.
pub fn success(title: &str, message: &str) -> EndpointResponse {
    html(200, title, message)
}

/// An error page with `status`.
pub fn error(status: u16, message: &str) -> EndpointResponse {
    html(status, "Google Calendar was not connected", message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}

//! `send` against real loopback servers speaking hand-written HTTP/1.1.
//! No external network: everything is on 127.0.0.1, or refused before connecting.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::test_server::{ok, redirect, serve, Reply};
use super::*;

fn policy(hosts: Vec<HostPattern>, allow: Vec<OperatorAllow>) -> HttpPolicy {
    HttpPolicy {
        hosts,
        operator_allow: allow,
        timeout: Duration::from_secs(5),
        ..HttpPolicy::default()
    }
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[test]
fn handle_and_future_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let http = OutboundHttp::new();
    send_sync(&http);
    let p = HttpPolicy::default();
    send(http.send(&p, OutboundRequest::get("http://example.com/")));
}

#[tokio::test]
async fn allowed_server_receives_the_exact_request() {
    let mut server = serve(|_| ok("hello")).await;
    let p = policy(vec![server.grant()], vec![server.allow()]);
    let http = OutboundHttp::new();
    let resp = http
        .send(
            &p,
            OutboundRequest {
                method: "put".into(),
                url: server.url("/things/1?x=y%20z"),
                headers: vec![
                    h("Content-Type", "application/json"),
                    h("Authorization", "Bearer secret"),
                    h("X-Multi", "a"),
                    h("X-Multi", "b"),
                ],
                body: Some(br#"{"a":1}"#.to_vec()),
                timeout: None,
            },
        )
        .await
        .expect("allowed request succeeds");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
    assert!(resp.headers.contains(&h("x-reply", "yes")));

    let seen = server.next().await;
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.target, "/things/1?x=y%20z");
    assert_eq!(seen.body, br#"{"a":1}"#);
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("authorization"), Some("Bearer secret"));
    assert_eq!(seen.header("content-length"), Some("7"));
    assert_eq!(seen.header("host"), Some(server.addr.to_string().as_str()));
    let multi: Vec<&str> = seen
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-multi"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(multi, ["a", "b"]);
}

#[tokio::test]
async fn spoofing_headers_are_stripped() {
    let mut server = serve(|_| ok("")).await;
    let p = policy(vec![server.grant()], vec![server.allow()]);
    let http = OutboundHttp::new();
    http.send(
        &p,
        OutboundRequest {
            method: "POST".into(),
            url: server.url("/"),
            headers: vec![
                h("Host", "internal.admin"),
                h("Content-Length", "999"),
                h("Transfer-Encoding", "chunked"),
                h("Connection", "Upgrade"),
                h("Upgrade", "websocket"),
                h("Proxy-Authorization", "Basic x"),
                h("Proxy-Foo", "x"),
                h("Forwarded", "for=10.0.0.1"),
                h("X-Forwarded-For", "10.0.0.1"),
                h("X-Forwarded-Host", "internal.admin"),
                h("X-Forwarded-Proto", "https"),
                h("X-Real-IP", "10.0.0.1"),
                h("TE", "trailers"),
                h("Trailer", "X-Evil"),
                h("Keep-Alive", "timeout=999"),
                h("X-Kept", "1"),
            ],
            body: Some(b"abc".to_vec()),
            timeout: None,
        },
    )
    .await
    .expect("request succeeds");
    let seen = server.next().await;
    assert_eq!(seen.header("host"), Some(server.addr.to_string().as_str()));
    assert_eq!(seen.header("content-length"), Some("3"));
    assert_eq!(seen.body, b"abc");
    assert_eq!(seen.header("x-kept"), Some("1"));
    for gone in [
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-foo",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "te",
        "trailer",
        "keep-alive",
    ] {
        assert!(!seen.has(gone), "{gone} reached the server: {seen:?}");
    }
    assert_ne!(seen.header("connection"), Some("Upgrade"));
    let hosts = seen
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    assert_eq!(hosts.count(), 1);
}

#[tokio::test]
async fn operator_allow_opens_exactly_one_address_and_port() {
    let mut a = serve(|_| ok("A")).await;
    let mut b = serve(|_| ok("B")).await;
    // Both granted, only A allow-listed.
    let p = policy(vec![a.grant(), b.grant()], vec![a.allow()]);
    let http = OutboundHttp::new();
    let resp = http
        .send(&p, OutboundRequest::get(a.url("/")))
        .await
        .expect("A is allowed");
    assert_eq!(resp.body, b"A");
    a.next().await;

    let err = http
        .send(&p, OutboundRequest::get(b.url("/")))
        .await
        .expect_err("B is not allowed");
    assert!(
        matches!(&err, HttpError::AddressRefused { addr, reason, .. }
            if *addr == b.addr && reason == "loopback"),
        "{err:?}"
    );
    assert!(b.nothing_seen(), "B must not even be connected to");
}

#[tokio::test]
async fn allow_listed_but_not_granted_is_refused() {
    let mut server = serve(|_| ok("")).await;
    let p = policy(vec![], vec![server.allow()]);
    let err = OutboundHttp::new()
        .send(&p, OutboundRequest::get(server.url("/")))
        .await
        .expect_err("not granted");
    assert_eq!(
        err,
        HttpError::HostNotGranted {
            host: server.addr.to_string()
        }
    );
    // Scheme restriction: only https granted.
    let p = policy(
        vec![HostPattern::parse(&format!("https://{}", server.addr)).expect("pattern")],
        vec![server.allow()],
    );
    let err = OutboundHttp::new()
        .send(&p, OutboundRequest::get(server.url("/")))
        .await
        .expect_err("http not granted");
    assert!(matches!(err, HttpError::HostNotGranted { .. }));
    assert!(server.nothing_seen());
}

#[tokio::test]
async fn redirect_to_a_refused_loopback_port_is_refused() {
    let mut b = serve(|_| ok("secret")).await;
    let b_url = b.url("/internal");
    let mut a = serve(move |_| redirect(302, &b_url)).await;
    // B is even granted; it is its address that is refused.
    let p = policy(vec![a.grant(), b.grant()], vec![a.allow()]);
    let err = OutboundHttp::new()
        .send(&p, OutboundRequest::get(a.url("/")))
        .await
        .expect_err("redirect target refused");
    assert!(
        matches!(&err, HttpError::AddressRefused { addr, .. } if *addr == b.addr),
        "{err:?}"
    );
    a.next().await;
    assert!(b.nothing_seen());
}

#[tokio::test]
async fn redirect_to_an_ungranted_host_is_refused() {
    for location in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://localhost/".to_owned(),
        "http://127.0.0.1:1/".to_owned(),
        "ftp://example.com/".to_owned(),
    ] {
        let target = location.clone();
        let a = serve(move |_| redirect(301, &target)).await;
        let p = policy(vec![a.grant()], vec![a.allow()]);
        let err = OutboundHttp::new()
            .send(&p, OutboundRequest::get(a.url("/")))
            .await
            .expect_err("redirect refused");
        assert!(
            matches!(
                err,
                HttpError::HostNotGranted { .. } | HttpError::InvalidRequest(_)
            ),
            "{location}: {err:?}"
        );
    }
}

#[tokio::test]
async fn redirect_chain_over_the_limit() {
    let mut server = serve(|seen| {
        let n: u32 = seen.target.trim_start_matches('/').parse().unwrap_or(0);
        redirect(302, &format!("/{}", n + 1))
    })
    .await;
    let mut p = policy(vec![server.grant()], vec![server.allow()]);
    p.max_redirects = 2;
    let http = OutboundHttp::new();
    let err = http
        .send(&p, OutboundRequest::get(server.url("/0")))
        .await
        .expect_err("too many redirects");
    assert_eq!(err, HttpError::TooManyRedirects(2));
    for expected in ["/0", "/1", "/2"] {
        assert_eq!(server.next().await.target, expected);
    }
    assert!(server.seen.try_recv().is_err());

    // Policies asking for more are held to MAX_REDIRECTS.
    p.max_redirects = 200;
    let err = http
        .send(&p, OutboundRequest::get(server.url("/0")))
        .await
        .expect_err("too many redirects");
    assert_eq!(err, HttpError::TooManyRedirects(MAX_REDIRECTS));
}

#[tokio::test]
async fn redirects_within_the_limit_and_method_rewriting() {
    let mut server = serve(|seen| match seen.target.as_str() {
        "/see-other" => redirect(303, "/landing"),
        "/temporary" => redirect(307, "/landing"),
        "/found" => redirect(302, "/landing"),
        _ => ok("landed"),
    })
    .await;
    let p = policy(vec![server.grant()], vec![server.allow()]);
    let http = OutboundHttp::new();
    let base = server.url("");
    let post = |path: &str| OutboundRequest {
        method: "POST".into(),
        url: format!("{base}{path}"),
        headers: vec![h("Content-Type", "text/plain"), h("Authorization", "t")],
        body: Some(b"payload".to_vec()),
        timeout: None,
    };

    for (path, method, body) in [
        ("/see-other", "GET", &b""[..]),
        ("/found", "GET", &b""[..]),
        ("/temporary", "POST", &b"payload"[..]),
    ] {
        let resp = http.send(&p, post(path)).await.expect("followed");
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"landed"[..]));
        assert_eq!(server.next().await.target, path);
        let landed = server.next().await;
        assert_eq!(landed.target, "/landing");
        assert_eq!(landed.method, method, "{path}");
        assert_eq!(landed.body, body, "{path}");
        assert_eq!(landed.has("content-type"), !body.is_empty(), "{path}");
        // Same origin: credentials kept.
        assert_eq!(landed.header("authorization"), Some("t"), "{path}");
    }

    // HEAD stays HEAD on 303.
    let mut head = OutboundRequest::get(server.url("/see-other"));
    head.method = "HEAD".into();
    http.send(&p, head).await.expect("followed");
    server.next().await;
    assert_eq!(server.next().await.method, "HEAD");
}

#[tokio::test]
async fn redirects_off_returns_the_redirect() {
    let mut server = serve(|_| redirect(302, "/elsewhere")).await;
    let mut p = policy(vec![server.grant()], vec![server.allow()]);
    p.max_redirects = 0;
    let resp = OutboundHttp::new()
        .send(&p, OutboundRequest::get(server.url("/")))
        .await
        .expect("3xx returned as is");
    assert_eq!(resp.status, 302);
    assert!(resp.headers.contains(&h("location", "/elsewhere")));
    server.next().await;
    assert!(server.seen.try_recv().is_err());
}

#[tokio::test]
async fn cross_origin_redirect_drops_credentials() {
    let mut b = serve(|_| ok("B")).await;
    let b_url = b.url("/b");
    let a = serve(move |_| redirect(307, &b_url)).await;
    let p = policy(vec![a.grant(), b.grant()], vec![a.allow(), b.allow()]);
    let mut req = OutboundRequest::get(a.url("/a"));
    req.headers = vec![
        h("Authorization", "Bearer secret"),
        h("Cookie", "session=1"),
        h("X-Api", "kept"),
    ];
    let resp = OutboundHttp::new().send(&p, req).await.expect("followed");
    assert_eq!(resp.body, b"B");
    let seen = b.next().await;
    assert!(!seen.has("authorization"), "{seen:?}");
    assert!(!seen.has("cookie"), "{seen:?}");
    assert_eq!(seen.header("x-api"), Some("kept"));
}

#[tokio::test]
async fn body_over_the_cap_fails_mid_stream() {
    let server = serve(|_| Reply::Endless).await;
    let mut p = policy(vec![server.grant()], vec![server.allow()]);
    p.max_response_bytes = 64 * 1024;
    let err = OutboundHttp::new()
        .send(&p, OutboundRequest::get(server.url("/")))
        .await
        .expect_err("endless body");
    assert_eq!(err, HttpError::ResponseTooLarge(64 * 1024));
}

#[tokio::test]
async fn announced_body_over_the_cap_fails_early_and_the_cap_itself_passes() {
    let server = serve(|seen| {
        if seen.target == "/big" {
            Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 1000001\r\n\r\nabc".to_vec())
        } else {
            ok(&"y".repeat(1000))
        }
    })
    .await;
    let mut p = policy(vec![server.grant()], vec![server.allow()]);
    p.max_response_bytes = 1000;
    let http = OutboundHttp::new();
    let err = http
        .send(&p, OutboundRequest::get(server.url("/big")))
        .await
        .expect_err("announced too large");
    assert_eq!(err, HttpError::ResponseTooLarge(1000));
    let resp = http
        .send(&p, OutboundRequest::get(server.url("/exact")))
        .await
        .expect("exactly the cap passes");
    assert_eq!(resp.body.len(), 1000);
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = serve(|_| Reply::Hang).await;
    let mut p = policy(vec![server.grant()], vec![server.allow()]);
    p.timeout = Duration::from_millis(300);
    let http = OutboundHttp::new();
    let started = Instant::now();
    // The app asks for longer; the policy caps it.
    let mut req = OutboundRequest::get(server.url("/"));
    req.timeout = Some(Duration::from_secs(60));
    let err = http.send(&p, req).await.expect_err("times out");
    assert_eq!(err, HttpError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));

    // And a shorter app timeout wins over the policy.
    p.timeout = Duration::from_secs(60);
    let started = Instant::now();
    let mut req = OutboundRequest::get(server.url("/"));
    req.timeout = Some(Duration::from_millis(200));
    assert_eq!(http.send(&p, req).await, Err(HttpError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn localhost_is_refused() {
    let mut server = serve(|_| ok("")).await;
    let port = server.port();
    let p = policy(
        ["localhost", "app.localhost"]
            .iter()
            .map(|h| HostPattern::parse(&format!("{h}:{port}")).expect("pattern"))
            .collect(),
        // Even with 127.0.0.1:port open, `localhost` also means [::1]:port.
        vec![server.allow()],
    );
    let http = OutboundHttp::new();
    for host in ["localhost", "LOCALHOST", "localhost.", "app.localhost"] {
        let err = http
            .send(
                &p,
                OutboundRequest::get(format!("http://{host}:{}/", server.port())),
            )
            .await
            .expect_err("localhost refused");
        assert!(
            matches!(&err, HttpError::AddressRefused { reason, .. } if reason == "loopback"),
            "{host}: {err:?}"
        );
    }
    assert!(server.nothing_seen());
}

#[tokio::test]
async fn ip_literals_in_every_spelling_are_refused() {
    let http = OutboundHttp::new();
    for url in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[2002:7f00:1::]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://192.0.2.1/",
        "https://198.18.0.1/",
    ] {
        let parsed = Url::parse(url).expect("url");
        let pattern =
            HostPattern::parse(parsed.host_str().expect("host")).expect("literal pattern");
        let p = policy(vec![pattern], vec![]);
        let err = http
            .send(&p, OutboundRequest::get(url))
            .await
            .expect_err("literal refused");
        assert!(
            matches!(err, HttpError::AddressRefused { .. }),
            "{url}: {err:?}"
        );
    }
}

fn fake_dns(table: HashMap<&'static str, Vec<&'static str>>) -> OutboundHttp {
    let table: HashMap<String, Vec<std::net::IpAddr>> = table
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.into_iter().map(|a| a.parse().expect("ip")).collect(),
            )
        })
        .collect();
    OutboundHttp::with_lookup(move |host, port| {
        let found = table
            .get(host.trim_end_matches('.'))
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"));
        Box::pin(std::future::ready(found))
    })
}

#[tokio::test]
async fn names_resolving_to_refused_addresses_are_refused() {
    let mut server = serve(|_| ok("")).await;
    let http = fake_dns(HashMap::from([
        ("evil.test", vec!["127.0.0.1"]),
        ("rebind.test", vec!["93.184.215.14", "127.0.0.1"]),
        ("meta.test", vec!["169.254.169.254"]),
        ("v6.test", vec!["::ffff:127.0.0.1"]),
    ]));
    let port = server.port();
    let p = HttpPolicy {
        hosts: [
            "evil.test",
            "rebind.test",
            "meta.test",
            "v6.test",
            "missing.test",
        ]
        .iter()
        .map(|h| HostPattern::parse(&format!("{h}:{port}")).expect("pattern"))
        .collect(),
        ..policy(vec![], vec![])
    };
    for host in ["evil.test", "rebind.test", "meta.test", "v6.test"] {
        let err = http
            .send(&p, OutboundRequest::get(format!("http://{host}:{port}/")))
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, HttpError::AddressRefused { host: h, .. } if h == host),
            "{host}: {err:?}"
        );
    }
    let err = http
        .send(
            &p,
            OutboundRequest::get(format!("http://missing.test:{port}/")),
        )
        .await
        .expect_err("unresolvable");
    assert!(matches!(err, HttpError::Network(_)), "{err:?}");
    assert!(server.nothing_seen());
}

#[tokio::test]
async fn the_connection_goes_to_the_vetted_address_and_is_reused() {
    // `svc.test` exists only in the injected resolver: reaching the server proves the
    // client connects to the vetted set and never asks system DNS.
    let mut server = serve(|_| ok("svc")).await;
    let http = fake_dns(HashMap::from([("svc.test", vec!["127.0.0.1"])]));
    let port = server.port();
    let p = policy(
        vec![HostPattern::parse(&format!("svc.test:{port}")).expect("pattern")],
        vec![server.allow()],
    );
    for _ in 0..3 {
        let resp = http
            .send(
                &p,
                OutboundRequest::get(format!("http://svc.test:{port}/x")),
            )
            .await
            .expect("pinned request succeeds");
        assert_eq!(resp.body, b"svc");
    }
    let mut connections = Vec::new();
    for _ in 0..3 {
        let seen = server.next().await;
        assert_eq!(
            seen.header("host"),
            Some(format!("svc.test:{port}").as_str())
        );
        connections.push(seen.connection);
    }
    assert_eq!(connections, [0, 0, 0], "one kept-alive connection");
    assert_eq!(http.inner.clients.len(), 1);
}

#[tokio::test]
async fn invalid_requests() {
    let server = serve(|_| ok("")).await;
    let p = policy(vec![server.grant()], vec![server.allow()]);
    let http = OutboundHttp::new();
    let base = OutboundRequest::get(server.url("/"));
    let cases = [
        OutboundRequest {
            method: "TRACE".into(),
            ..base.clone()
        },
        OutboundRequest {
            method: "CONNECT".into(),
            ..base.clone()
        },
        OutboundRequest {
            headers: vec![h("bad name", "v")],
            ..base.clone()
        },
        OutboundRequest {
            headers: vec![h("X-Ok", "a\r\nHost: evil")],
            ..base.clone()
        },
        OutboundRequest::get(format!("http://user:pw@{}/", server.addr)),
        OutboundRequest::get(format!("ftp://{}/", server.addr)),
        OutboundRequest::get("not a url"),
    ];
    for req in cases {
        let shown = format!("{req:?}");
        let err = http.send(&p, req).await.expect_err("invalid");
        assert!(
            matches!(err, HttpError::InvalidRequest(_)),
            "{shown}: {err:?}"
        );
    }
}

#[test]
fn request_debug_hides_secrets() {
    let mut req = OutboundRequest::get("https://api.example.com/");
    req.headers = vec![h("Authorization", "Bearer hunter2")];
    req.body = Some(b"password=hunter2".to_vec());
    let shown = format!("{req:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("Authorization"));
}

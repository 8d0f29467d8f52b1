//! The HTTP listener against clients that hold connections: raw TCP clients on
//! loopback whose request heads never end, whose bodies stall, that open too many
//! connections from one address, or that sit idle on a kept-alive connection; and
//! websockets, which must outlive all those timeouts.
//!
//! The clients connect from 127.0.0.2 and up (the whole of 127/8 is loopback), so
//! the harness's own connections from 127.0.0.1 never count against the caps tested.

use std::net::SocketAddr;
use std::time::Duration;

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

/// Far above every timeout the tests configure (1 s): only a server that never
/// closes fails it.
const BOUND: Duration = Duration::from_secs(20);

async fn connect_from(srv: &Palaver, source: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("create a socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .unwrap_or_else(|e| panic!("bind the client socket to {source:?}: {e}"));
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], srv.port())))
        .await
        .unwrap_or_else(|e| panic!("connect to the server from {source:?}: {e}"))
}

/// One response: status, head, body (by `Content-Length`).
#[derive(Debug)]
struct RawResponse {
    status: u16,
    head: String,
    body: String,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response; `None` when the connection ends (EOF or reset) before a
/// whole one arrives. Panics after [`BOUND`].
async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> Option<RawResponse> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        Some(RawResponse { status, head, body })
    };
    tokio::time::timeout(BOUND, read)
        .await
        .unwrap_or_else(|_| panic!("no response and no close within {BOUND:?}"))
}

/// `GET /api/info` on a kept-alive connection; its response.
async fn get_info(stream: &mut TcpStream) -> Option<RawResponse> {
    stream
        .write_all(b"GET /api/info HTTP/1.1\r\nHost: palaver.test\r\n\r\n")
        .await
        .ok()?;
    read_response(stream).await
}

/// Whether the server closes the connection (EOF or reset) within [`BOUND`],
/// discarding anything it sends first.
async fn closed_within_bound(stream: &mut (impl AsyncRead + Unpin)) -> bool {
    let closed = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(BOUND, closed).await.is_ok()
}

#[tokio::test]
async fn request_heads_that_never_end_are_closed() {
    let srv = Palaver::builder()
        .env("PALAVER_HTTP__HEADER_TIMEOUT_SECS", "1")
        .start()
        .await;
    // A client that connects and sends nothing.
    let mut silent = connect_from(&srv, [127, 0, 0, 2]).await;
    // Half a head, then nothing.
    let mut half = connect_from(&srv, [127, 0, 0, 2]).await;
    half.write_all(b"GET /api/info HTTP/1.1\r\nHost: palaver.test\r\nX-Slow: ")
        .await
        .expect("write half a head");
    // A head that trickles in a byte at a time and never ends: the deadline runs
    // from its first byte, so trickling does not stretch it.
    let trickle = connect_from(&srv, [127, 0, 0, 2]).await;
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    let writer = tokio::spawn(async move {
        let _ = trickle_write
            .write_all(b"GET /api/info HTTP/1.1\r\nX-Slow: ")
            .await;
        for _ in 0..200 {
            if trickle_write.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert!(
        closed_within_bound(&mut silent).await,
        "a silent connection stays open"
    );
    assert!(
        closed_within_bound(&mut half).await,
        "half a head holds the connection"
    );
    assert!(
        closed_within_bound(&mut trickle_read).await,
        "a trickling head holds the connection"
    );
    writer.abort();

    // A client that sends its head in time is served, also on a later request of a
    // kept-alive connection.
    let mut ok = connect_from(&srv, [127, 0, 0, 2]).await;
    assert_eq!(get_info(&mut ok).await.expect("answered").status, 200);
    ok.write_all(b"GET /api/info HTTP/1.1\r\nHost: palaver.test\r\nX-Slow: ")
        .await
        .expect("write half of a second head");
    assert!(
        closed_within_bound(&mut ok).await,
        "half of a second head holds the connection"
    );
}

#[tokio::test]
async fn a_stalled_request_body_gets_408_and_the_connection_closes() {
    let srv = Palaver::builder()
        .env("PALAVER_HTTP__BODY_IDLE_TIMEOUT_SECS", "1")
        .start()
        .await;
    let admin = srv.admin().await;
    // Two ways a handler reads a body: a JSON body (login) and a multipart upload
    // (an app package); both promise 100 bytes and send 10.
    let requests = [
        "POST /api/v1/login HTTP/1.1\r\nHost: palaver.test\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\": "
            .to_string(),
        format!(
            "POST /api/apps HTTP/1.1\r\nHost: palaver.test\r\nX-User-Id: {}\r\n\
             X-Auth-Token: {}\r\nContent-Type: multipart/form-data; boundary=xyz\r\n\
             Content-Length: 100\r\n\r\n--xyz\r\nCon",
            admin.user_id, admin.token
        ),
    ];
    for request in requests {
        let mut stream = connect_from(&srv, [127, 0, 0, 2]).await;
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write the request");
        let response = read_response(&mut stream)
            .await
            .unwrap_or_else(|| panic!("no response to a stalled body: {request}"));
        assert_eq!(response.status, 408, "{response:?}");
        assert_eq!(
            response.json(),
            json!({
                "success": false,
                "error": "The request body did not arrive in time",
                "errorType": "error-request-timeout",
            }),
            "{response:?}"
        );
        assert!(
            response
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "{response:?}"
        );
        assert!(
            closed_within_bound(&mut stream).await,
            "the connection stays open after the 408"
        );
    }
    // A body sent whole is read as ever.
    let r = srv
        .try_login(json!({"user": "nobody", "password": "x"}))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let srv = Palaver::builder()
        .env("PALAVER_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "3")
        .start()
        .await;
    let capped = [127, 0, 0, 3];
    let mut held = Vec::new();
    for i in 0..3 {
        let mut stream = connect_from(&srv, capped).await;
        let response = get_info(&mut stream).await;
        assert_eq!(response.map(|r| r.status), Some(200), "connection {i}");
        held.push(stream);
    }
    // The fourth from that address is closed unanswered...
    let mut fourth = connect_from(&srv, capped).await;
    assert!(
        get_info(&mut fourth).await.is_none(),
        "a connection over the per-address cap was served"
    );
    // ...while other addresses get through.
    let mut other = connect_from(&srv, [127, 0, 0, 4]).await;
    assert_eq!(get_info(&mut other).await.map(|r| r.status), Some(200));
    assert_eq!(srv.get_anon("/api/info").await.0, 200);

    // A closed connection gives its place back.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let mut again = connect_from(&srv, capped).await;
        if get_info(&mut again).await.map(|r| r.status) == Some(200) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the address never got its place back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let srv = Palaver::builder()
        .env("PALAVER_HTTP__KEEP_ALIVE_IDLE_SECS", "1")
        .start()
        .await;
    let mut stream = connect_from(&srv, [127, 0, 0, 2]).await;
    assert_eq!(get_info(&mut stream).await.map(|r| r.status), Some(200));
    // Kept alive for a request that follows at once...
    assert_eq!(get_info(&mut stream).await.map(|r| r.status), Some(200));
    // ...and closed once idle.
    assert!(
        closed_within_bound(&mut stream).await,
        "an idle kept-alive connection stays open"
    );
}

#[tokio::test]
async fn websockets_outlive_the_http_timeouts() {
    let srv = Palaver::builder()
        .env("PALAVER_HTTP__HEADER_TIMEOUT_SECS", "1")
        .env("PALAVER_HTTP__KEEP_ALIVE_IDLE_SECS", "1")
        .env("PALAVER_HTTP__BODY_IDLE_TIMEOUT_SECS", "1")
        .start()
        .await;
    let mut ddp = Ddp::open(&srv).await;
    ddp.handshake("1").await;
    // Quiet for longer than every HTTP timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ddp.send(json!({"msg": "ping", "id": "still-here"})).await;
    assert_eq!(ddp.recv().await, json!({"msg": "pong", "id": "still-here"}));
}

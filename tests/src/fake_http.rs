//! A tiny HTTP/1.1 server on 127.0.0.1 that stands in for the outside services apps
//! call, and records every request it gets so a test can check what an app sent (or
//! that nothing reached it).
//!
//! Routes (the query is part of the path):
//!
//! | path | answer |
//! |---|---|
//! | `/redirect?to=<url>` | `302 Found` with `Location: <url>` (the rest of the query, verbatim) |
//! | `/big?bytes=<n>` | `200` with `Content-Length: n` and `n` bytes of `x` |
//! | `/stream?bytes=<n>` | `200` without a length (close-delimited), `n` bytes of `x` in 16 KiB chunks |
//! | anything else | `200 text/plain` `fake ok: <METHOD> <path>` and a newline |
//!
//! Every response carries `Connection: close`; the server stops when dropped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request the fake received; `host` is the `Host` header without the port.
pub use crate::fake_tls::Recorded;
use crate::lock;

/// The running fake; see the module documentation.
pub struct FakeHttp {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl FakeHttp {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> FakeHttp {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the fake HTTP server on 127.0.0.1");
        let addr = listener.local_addr().expect("the fake's address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, recorded).await;
                });
            }
        });
        FakeHttp {
            addr,
            requests,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_value<'a>(path: &'a str, key: &str) -> Option<&'a str> {
    let query = path.split_once('?')?.1;
    let prefix = format!("{key}=");
    // `to=` takes the rest of the query verbatim (it is itself a URL).
    if key == "to" {
        return query.find(&prefix).map(|i| &query[i + prefix.len()..]);
    }
    query.split('&').find_map(|kv| kv.strip_prefix(&prefix))
}

async fn serve(mut stream: TcpStream, recorded: Arc<Mutex<Vec<Recorded>>>) -> std::io::Result<()> {
    // The head, up to the blank line.
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let route = path.split('?').next().unwrap_or_default();
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.split(':').next().unwrap_or(v).to_string())
        .unwrap_or_default();
    lock(&recorded).push(Recorded {
        host,
        method: method.clone(),
        path: path.clone(),
        headers,
        body,
        status: if route == "/redirect" { 302 } else { 200 },
    });

    match route {
        "/redirect" => {
            let to = query_value(&path, "to").unwrap_or("/");
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
        }
        "/big" => {
            let n: usize = query_value(&path, "bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1 << 20);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            write_x(&mut stream, n).await?;
        }
        "/stream" => {
            let n: usize = query_value(&path, "bytes")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1 << 20);
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            write_x(&mut stream, n).await?;
        }
        _ => {
            let text = format!("fake ok: {method} {path}\n");
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                text.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(text.as_bytes()).await?;
        }
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

async fn write_x(stream: &mut TcpStream, mut n: usize) -> std::io::Result<()> {
    let chunk = vec![b'x'; 16 * 1024];
    while n > 0 {
        let k = n.min(chunk.len());
        // The client may hang up once it has seen enough: not an error here.
        if stream.write_all(&chunk[..k]).await.is_err() {
            return Ok(());
        }
        n -= k;
    }
    Ok(())
}

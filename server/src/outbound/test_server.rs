//! A loopback HTTP/1.1 server for the `send` tests: records every request it gets
//! and answers with hand-written responses (keep-alive, endless bodies, silence).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{HostPattern, OperatorAllow};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) connection: usize,
}

impl Seen {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

pub(super) enum Reply {
    /// Raw response bytes; the connection stays open for more requests.
    Raw(Vec<u8>),
    /// A chunked response whose body never ends.
    Endless,
    /// Never answer.
    Hang,
}

pub(super) fn ok(body: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Reply: yes\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

pub(super) fn redirect(status: u16, location: &str) -> Reply {
    Reply::Raw(
        format!("HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
            .into_bytes(),
    )
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

pub(super) struct Server {
    pub(super) addr: SocketAddr,
    pub(super) seen: mpsc::UnboundedReceiver<Seen>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    pub(super) fn port(&self) -> u16 {
        self.addr.port()
    }
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub(super) fn grant(&self) -> HostPattern {
        HostPattern::parse(&self.addr.to_string()).expect("pattern")
    }
    pub(super) fn allow(&self) -> OperatorAllow {
        OperatorAllow::Address(self.addr)
    }
    pub(super) async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("server saw a request in time")
            .expect("server running")
    }
    pub(super) fn nothing_seen(&mut self) -> bool {
        self.seen.try_recv().is_err() && self.connections.load(Ordering::SeqCst) == 0
    }
}

pub(super) async fn serve(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let handler: Handler = Arc::new(handler);
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let id = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(connection(stream, id, handler.clone(), tx.clone()));
        }
    });
    Server {
        addr,
        seen: rx,
        connections,
    }
}

async fn connection(
    mut stream: TcpStream,
    id: usize,
    handler: Handler,
    tx: mpsc::UnboundedSender<Seen>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_owned();
        let target = request_line.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        let body = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        let seen = Seen {
            method,
            target,
            headers,
            body,
            connection: id,
        };
        let reply = handler(&seen);
        let _ = tx.send(seen);
        match reply {
            Reply::Raw(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Endless => {
                let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
                chunk.extend(std::iter::repeat_n(b'x', 16 * 1024));
                chunk.extend_from_slice(b"\r\n");
                while stream.write_all(&chunk).await.is_ok() {}
                return;
            }
            Reply::Hang => {
                std::future::pending::<()>().await;
            }
        }
    }
}

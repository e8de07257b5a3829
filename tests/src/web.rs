//! Web clients for end-to-end tests: a WebSocket client as the test client's byte stream, and
//! raw HTTP requests.
//!
//! [`WsBridge`] listens on a loopback port; each TCP connection made to it opens a WebSocket to
//! the server's `/ws` (tokio-tungstenite, as a browser would) and carries frames across: every
//! frame read from the TCP side goes out as one binary message, and every message from the
//! server must be exactly one frame (the spec's rule; a breach is counted in
//! [`WsBridge::violations`] and ends that connection). So [`crate::TestClient`] plays over
//! WebSocket unchanged. The bridge reads the server only as fast as its TCP client reads it, so a
//! test client that stops reading is a WebSocket client that stops reading.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tilegame_protocol::frame::{decode_frame, FrameDecoder};
use tilegame_protocol::v1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::WAIT;

/// A loopback port whose connections are carried to a server's WebSocket.
pub struct WsBridge {
    addr: SocketAddr,
    violations: Arc<AtomicUsize>,
}

impl WsBridge {
    /// Bridges to the WebSocket at `ws://{web}/ws`.
    pub fn start(web: SocketAddr) -> WsBridge {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the bridge");
        let addr = listener.local_addr().expect("bridge address");
        listener.set_nonblocking(true).expect("nonblocking");
        let violations = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&violations);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("bridge runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((tcp, _)) = listener.accept().await {
                    let counted = Arc::clone(&counted);
                    tokio::spawn(async move {
                        if let Err(e) = carry(tcp, web).await {
                            if e.contains("one frame") {
                                counted.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    });
                }
            });
        });
        WsBridge { addr, violations }
    }

    /// Where test clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Messages from the server that were not exactly one frame.
    pub fn violations(&self) -> usize {
        self.violations.load(Ordering::SeqCst)
    }
}

/// Opens a WebSocket to the server's `/ws` over a fresh TCP connection.
pub async fn ws_connect(
    web: SocketAddr,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    let tcp = tokio::net::TcpStream::connect(web).await?;
    tcp.set_nodelay(true)?;
    let (ws, response) = tokio_tungstenite::client_async(format!("ws://{web}/ws"), tcp).await?;
    assert_eq!(response.status(), 101);
    Ok(ws)
}

async fn carry(mut tcp: tokio::net::TcpStream, web: SocketAddr) -> Result<(), String> {
    let mut ws = ws_connect(web).await.map_err(|e| e.to_string())?;
    let mut frames = FrameDecoder::new(v1::MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            read = tcp.read(&mut buf) => {
                let n = read.map_err(|e| e.to_string())?;
                if n == 0 {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
                frames.extend(&buf[..n]);
                loop {
                    let frame = match frames.next_frame() {
                        Ok(Some(f)) => f.wire().to_vec(),
                        Ok(None) => break,
                        // Hostile bytes from a test: sent as they are, one message.
                        Err(_) => {
                            let rest = buf[..n].to_vec();
                            frames = FrameDecoder::new(v1::MAX_FRAME);
                            rest
                        }
                    };
                    ws.send(Message::Binary(frame.into())).await.map_err(|e| e.to_string())?;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    match decode_frame(&bytes, v1::MAX_FRAME) {
                        Ok(Some(f)) if f.wire_len() == bytes.len() => {}
                        _ => return Err(format!("a message of {} bytes is not one frame", bytes.len())),
                    }
                    tcp.write_all(&bytes).await.map_err(|e| e.to_string())?;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Ok(()),
            },
        }
    }
}

/// An HTTP response as a test reads it.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code (0 when the server closed without answering).
    pub status: u16,
    /// The head, lower-cased header names and all.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` as raw bytes (nothing normalised) and reads the answer to the close.
pub fn http_raw(web: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut s = TcpStream::connect_timeout(&web, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let _ = s.write_all(request);
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let split = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&data[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    HttpResponse {
        status,
        head,
        body: data[split..].to_vec(),
    }
}

/// `GET path` (or another method) with `Connection: close`.
pub fn http(web: SocketAddr, method: &str, path: &str) -> HttpResponse {
    http_raw(
        web,
        format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Whether the server closes `s` within `wait` (reading and dropping whatever it sends).
pub fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let _ = s.set_read_timeout(Some(wait));
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

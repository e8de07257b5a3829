//! The web listener (`--web ADDR`): the browser client's files over HTTP, and the game over a
//! WebSocket at [`WS_PATH`] carrying the same frames as TCP.
//!
//! hyper parses HTTP/1.1 with bounds: a request head of at most [`MAX_REQUEST_HEAD`] bytes
//! (larger is 431) and [`MAX_HEADERS`] headers, read within [`HEADER_READ_TIMEOUT`] (also while
//! a kept-alive connection waits for its next request); every write must make progress within
//! the server's write timeout. Connections are limited per address and in all like pending TCP
//! connections (their own count: a page's file downloads do not take a player's place).
//!
//! `GET /ws` upgrades to a WebSocket; the connection then takes a place in the *same*
//! [`Admission`] as TCP connections (refused: a binary message holding Kick(Busy), then a close)
//! and is served by the TCP session ([`crate::session::serve_split`]) through the adapter in
//! [`ws`]: the same handshake, login, map transfer, play, limits, write deadlines, kicks and
//! recordings, and TCP and web players meet in the same simulation. Any other path is a file of
//! the bundle folder ([`files`], [`path`]): GET and HEAD only (else 405), no escape from the
//! folder (400 for `..` and its encodings, 404 for what is not there or links out of it).
//! With `--replays DIR`, paths under [`REPLAYS_PATH`] are the `.tgr` files of that folder, by
//! the same rules (anything but a `.tgr` file there is 404).

pub mod files;
pub mod path;
pub mod ws;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tilegame_protocol::codec::encode_any_state;
use tilegame_protocol::v1::{DisconnectReason, Kick};
use tilegame_sim::Command;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, warn};

use crate::admission::{Admission, Refusal};
use crate::session::{self, SessionConfig};

/// The web listener's port unless told otherwise (`--web` alone listens on 0.0.0.0 there).
pub const DEFAULT_PORT: u16 = 35080;
/// The path that upgrades to the game's WebSocket.
pub const WS_PATH: &str = "/ws";
/// The prefix under which `--replays DIR` serves its recordings.
pub const REPLAYS_PATH: &str = "/replays/";
/// The bundle folder served unless told otherwise (`--web-root`), relative to the working
/// directory.
pub const DEFAULT_ROOT: &str = "web/dist";
/// Longest request head (request line and headers), in bytes; hyper answers 431 beyond it.
pub const MAX_REQUEST_HEAD: usize = 8192;
/// Most headers in a request; hyper answers 431 beyond it.
pub const MAX_HEADERS: usize = 64;
/// Time a client has to send a whole request head, from the connection or the end of the last
/// answer; past it the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Refused upgrades told why at once (each for at most [`REFUSAL_LINGER`]); past that, refused
/// upgrades get a plain 503.
const REFUSALS_AT_ONCE: usize = 64;
/// How long a refused WebSocket is kept to deliver its Kick(Busy).
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// A response body: a file, or a short text.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// What the web listener shares with the TCP one.
pub struct WebContext {
    /// The bundle folder.
    pub root: PathBuf,
    /// The recordings folder served under [`REPLAYS_PATH`] (`None`: not served).
    pub replays: Option<PathBuf>,
    /// The sessions' settings.
    pub session: Arc<SessionConfig>,
    /// The simulation's command channel.
    pub commands: mpsc::Sender<Command>,
    /// Pending connections, counted with the TCP ones.
    pub admission: Admission,
    /// Kernel send buffer per connection (0: the system's).
    pub socket_send_buffer: u32,
    /// HTTP connections at most per address.
    pub connections_per_address: usize,
    /// HTTP connections at most in all.
    pub connections: usize,
    /// The server's open game connections, which a stop waits for (a WebSocket counts once
    /// upgraded).
    pub open: crate::drain::Connections,
}

struct Shared {
    ctx: WebContext,
    refusals: Arc<Semaphore>,
}

/// Accepts web connections on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: WebContext) {
    let http = Admission::new(ctx.connections_per_address, ctx.connections);
    let shared = Arc::new(Shared {
        ctx,
        refusals: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
    });
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Over the limits the socket is closed at once: HTTP has no frame for a reason,
                // and writing anything would cost more than the flood.
                let Ok(place) = http.admit(peer.ip()) else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                if shared.ctx.socket_send_buffer > 0 {
                    let _ = socket2::SockRef::from(&stream)
                        .set_send_buffer_size(shared.ctx.socket_send_buffer as usize);
                }
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    connection(stream, peer, shared).await;
                    drop(place);
                });
            }
            Err(e) => {
                warn!("web accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves one HTTP connection until it closes or upgrades.
async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
    timed.set_write_timeout(Some(shared.ctx.session.write_timeout));
    let io = TokioIo::new(Box::pin(timed));
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(req, peer, &shared).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .max_headers(MAX_HEADERS)
        .serve_connection(io, service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        debug!(%peer, error = %e, "web connection ended");
    }
}

async fn handle(req: Request<Incoming>, peer: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    if req.uri().path() == WS_PATH {
        return upgrade(req, peer, shared);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if let Some(dir) = &shared.ctx.replays {
        if let Some(rest) = req.uri().path().strip_prefix(REPLAYS_PATH) {
            let rest = format!("/{rest}");
            return files::serve_recording(req, &rest, dir).await;
        }
    }
    files::serve(req, &shared.ctx.root).await
}

/// A plain-text response.
pub fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(boxed(Full::new(Bytes::from(format!("{message}\n")))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Any body of bytes as a [`Body`].
pub fn boxed<B>(body: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    body.map_err(io::Error::other).boxed_unsync()
}

/// Why a request to [`WS_PATH`] cannot be upgraded, as the status it gets.
fn check_upgrade(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, Response<Body>> {
    if method != Method::GET {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "WebSocket upgrades are GETs",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return Err(response);
    }
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        let mut response = text(
            StatusCode::UPGRADE_REQUIRED,
            "this path is the game's WebSocket",
        );
        response
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(response);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        let mut response = text(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only");
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(response);
    }
    match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if key.len() == 24 => HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .map_err(|_| text(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key")),
        _ => Err(text(
            StatusCode::BAD_REQUEST,
            "missing or bad Sec-WebSocket-Key",
        )),
    }
}

/// Answers an upgrade to [`WS_PATH`]: 101 and a session (or a Kick(Busy)) once upgraded.
fn upgrade(mut req: Request<Incoming>, peer: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    let accept = match check_upgrade(req.method(), req.headers()) {
        Ok(accept) => accept,
        Err(response) => return response,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    match shared.ctx.admission.admit(peer.ip()) {
        Ok(pending) => {
            let shared = Arc::clone(shared);
            let open = shared.ctx.open.open();
            tokio::spawn(async move {
                let Ok(upgraded) = on_upgrade.await else {
                    return;
                };
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws::config()),
                )
                .await;
                let (sink, stream) = socket.split();
                session::serve_split(
                    ws::WsReader::new(stream),
                    ws::WsWriter::new(sink),
                    None,
                    peer,
                    Arc::clone(&shared.ctx.session),
                    shared.ctx.commands.clone(),
                    pending,
                    open,
                )
                .await;
            });
        }
        Err(refusal) => {
            let Ok(permit) = Arc::clone(&shared.refusals).try_acquire_owned() else {
                return text(StatusCode::SERVICE_UNAVAILABLE, &refusal.to_string());
            };
            tokio::spawn(async move {
                let _permit = permit;
                let _ = tokio::time::timeout(REFUSAL_LINGER, refuse(on_upgrade, refusal)).await;
            });
        }
    }
    let mut response = Response::new(boxed(http_body_util::Empty::<Bytes>::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Tells an upgraded WebSocket it cannot be taken yet (Kick(Busy), as on TCP), and closes it.
async fn refuse(on_upgrade: hyper::upgrade::OnUpgrade, refusal: Refusal) {
    let Ok(upgraded) = on_upgrade.await else {
        return;
    };
    let mut socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws::config()))
            .await;
    let mut frame = Vec::with_capacity(96);
    let kick = Kick {
        reason: DisconnectReason::Busy,
        message: refusal.to_string(),
    };
    if encode_any_state(&kick, &mut frame).is_err() {
        return;
    }
    if socket.send(Message::Binary(frame.into())).await.is_ok() {
        let _ = socket.close(None).await;
        // Read until the client's close (or the linger) so the kick is not lost to a reset.
        while let Some(Ok(_)) = socket.next().await {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        h
    }

    #[test]
    fn upgrades_are_checked_like_rfc_6455_says() {
        // The RFC's own example key and answer.
        let accept = check_upgrade(&Method::GET, &upgrade_headers()).unwrap();
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let status = |m: &Method, h: &HeaderMap| check_upgrade(m, h).unwrap_err().status();
        assert_eq!(
            status(&Method::POST, &upgrade_headers()),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let mut h = upgrade_headers();
        h.remove(header::UPGRADE);
        assert_eq!(status(&Method::GET, &h), StatusCode::UPGRADE_REQUIRED);
        let mut h = upgrade_headers();
        h.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
        assert_eq!(status(&Method::GET, &h), StatusCode::UPGRADE_REQUIRED);
        let mut h = upgrade_headers();
        h.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static("short"));
        assert_eq!(status(&Method::GET, &h), StatusCode::BAD_REQUEST);
    }
}

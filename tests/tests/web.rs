//! The web listener (`--web`) end to end over loopback: a WebSocket player and a TCP player in
//! one game, the bundle's files over HTTP, and hostile web input — text, oversized, fragmented
//! and garbage messages, clients that never read, slow and huge headers, floods of upgrades,
//! path traversal — each refused with a reason (a Kick where a frame can carry one, an HTTP
//! status otherwise) while an honest TCP player keeps receiving snapshots without a gap.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tilegame_game::Action;
use tilegame_protocol::codec::{ClientCodec, Decoder};
use tilegame_protocol::frame::encode_frame;
use tilegame_protocol::replay_format::Record;
use tilegame_protocol::v1::{self, handshake, login, marker, DisconnectReason};
use tilegame_protocol::{AnyPacket, Direction, State};
use tilegame_server::{ServerConfig, ServerHandle};
use tilegame_tests::web::{closed_within, http, http_raw, ws_connect, WsBridge};
use tilegame_tests::{start_server, test_config, TestClient, WAIT};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A bundle folder with an index, a wasm file, a file outside it and links out of it.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(tag: &str) -> Bundle {
        let dir = std::env::temp_dir().join(format!("tilegame-web-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("dist");
        std::fs::create_dir_all(root.join("assets")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><title>tilegame</title>",
        )
        .unwrap();
        std::fs::write(root.join("tilegame_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::fs::write(root.join("assets/app.js"), "export {}").unwrap();
        std::fs::write(dir.join("secret.txt"), "SECRET-OUTSIDE").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&dir, root.join("up")).unwrap();
        Bundle { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("dist")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn web_config(bundle: &Bundle) -> ServerConfig {
    ServerConfig {
        web: Some("127.0.0.1:0".parse().unwrap()),
        web_root: bundle.root(),
        ..test_config()
    }
}

fn web_addr(server: &ServerHandle) -> SocketAddr {
    server.web_addr().expect("the web listener is on")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What an honest TCP player saw while the test went on.
#[derive(Debug, Default)]
struct Seen {
    names: std::collections::BTreeMap<u32, String>,
    left: Vec<(u32, DisconnectReason)>,
    snapshots: u64,
    max_gap: u32,
    error: Option<String>,
}

/// An honest TCP player sending an Input every tick and reading every snapshot on its thread.
struct Honest {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Honest {
    fn join(addr: SocketAddr, name: &str) -> Honest {
        let mut c = TestClient::join(addr, name).expect("the honest player joins");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut last = None;
            while !st.load(Ordering::SeqCst) {
                let result = c.input(0, 0, Action::None).and_then(|_| c.snapshot());
                let mut seen = s.lock().unwrap();
                match result {
                    Ok(snap) => {
                        if let Some(last) = last {
                            seen.max_gap = seen.max_gap.max(snap.tick.saturating_sub(last));
                        }
                        last = Some(snap.tick);
                        seen.snapshots += 1;
                        for (id, p) in &c.players {
                            seen.names.insert(*id, p.name.clone());
                        }
                        seen.left.clone_from(&c.left);
                    }
                    Err(e) => {
                        seen.error = Some(format!("{e} (kick {:?})", c.kicked));
                        return;
                    }
                }
            }
        });
        Honest {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn wait(&self, what: &str, mut done: impl FnMut(&Seen) -> bool) {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                assert!(seen.error.is_none(), "the honest player failed: {seen:?}");
                if done(&seen) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "gave up waiting: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn id_of(&self, name: &str) -> u32 {
        let mut id = 0;
        self.wait(&format!("{name} is seen"), |s| {
            s.names
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(i, _)| id = *i)
                .is_some()
        });
        id
    }

    /// Stops and checks: no error, snapshots kept coming with no gap over the heartbeat.
    fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        assert!(seen.error.is_none(), "the honest player failed: {seen:?}");
        assert!(seen.snapshots > 0);
        assert!(
            seen.max_gap <= v1::HEARTBEAT_TICKS,
            "a gap of {} ticks between snapshots",
            seen.max_gap
        );
        seen
    }
}

/// The first server packet in a WebSocket's next binary message, decoded in `state`, and
/// whether that message was exactly one frame.
async fn next_packet(
    ws: &mut WebSocketStream<tokio::net::TcpStream>,
    state: State,
) -> Option<AnyPacket> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match message {
            Ok(Message::Binary(bytes)) => {
                let mut d = Decoder::new(state, Direction::ToClient);
                d.feed(&bytes);
                let packet = d.next_packet().ok()??.packet;
                assert_eq!(d.buffered(), 0, "one frame per message");
                return Some(packet);
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn kick_of(packet: Option<AnyPacket>) -> v1::Kick {
    match packet {
        Some(AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k)))
        | Some(AnyPacket::LoginToClient(login::ToClient::Kick(k))) => k,
        other => panic!("expected a Kick, got {other:?}"),
    }
}

/// Whether the server ends the WebSocket (close, EOF or reset) within the wait.
async fn ends(ws: &mut WebSocketStream<tokio::net::TcpStream>) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

fn frame(id: u8, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    encode_frame(id, body, &mut f);
    f
}

fn hello() -> Vec<u8> {
    let mut out = Vec::new();
    ClientCodec::<marker::Handshake>::new()
        .encode(
            &handshake::ClientHello {
                protocol_version: v1::PROTOCOL_VERSION,
                spec_hash: v1::SPEC_HASH,
            },
            &mut out,
        )
        .unwrap();
    out
}

#[test]
fn a_web_player_and_a_tcp_player_play_together_and_are_recorded() {
    let bundle = Bundle::new("play");
    let records = bundle.dir.join("records");
    std::fs::create_dir_all(&records).unwrap();
    let server = start_server(ServerConfig {
        record_dir: Some(records.clone()),
        ..web_config(&bundle)
    });
    let honest = Honest::join(server.addr(), "tcpalice");
    let bridge = WsBridge::start(web_addr(&server));
    let mut web = TestClient::join(bridge.addr(), "webbob").expect("a web player joins");
    let web_id = web.id;
    assert_eq!(
        honest.id_of("webbob"),
        web_id,
        "the TCP player sees the web one"
    );
    web.until("the web player sees the TCP player", |c| {
        c.players.values().any(|p| p.name == "tcpalice")
    })
    .unwrap();
    // The web player walks right; its own snapshots follow it.
    let start = web.own_pos().unwrap_or_default();
    for _ in 0..30 {
        web.input(1, 0, Action::None).unwrap();
        web.snapshot().unwrap();
    }
    web.until("the web player moved", |c| {
        c.own_pos().is_some_and(|p| p.0 > start.0 + 32)
    })
    .unwrap();
    web.send::<marker::Play, _>(&v1::Disconnect {}).unwrap();
    honest.wait("the web player's leave", |s| {
        s.left.contains(&(web_id, DisconnectReason::Quit))
    });
    assert_eq!(bridge.violations(), 0, "every server message was one frame");
    honest.finish();

    // Its connection was recorded like a TCP one: every frame decodes, handshake to play.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut played = 0;
        for entry in std::fs::read_dir(&records).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let Ok(mut reader) = tilegame_protocol::replay_file::ReplayReader::new(data.as_slice())
            else {
                continue;
            };
            let mut names = Vec::new();
            for record in reader.records() {
                if let Record::Frame(f) = record {
                    names.push(f.decode().expect("a recorded frame decodes").name());
                }
            }
            if reader.ended() && names.first() == Some(&"ClientHello") && names.contains(&"Input") {
                played += 1;
            }
        }
        if played == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both connections are recorded to their end"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
}

#[test]
fn hostile_messages_get_a_kick_naming_what_was_wrong() {
    let bundle = Bundle::new("hostile");
    let server = start_server(web_config(&bundle));
    let web = web_addr(&server);
    let honest = Honest::join(server.addr(), "honest");
    let rt = runtime();
    let big = vec![0x41u8; tilegame_server::web::ws::MAX_MESSAGE + 1];
    let mut two = hello();
    two.extend(frame(0x7f, &[]));
    let cases: Vec<(&str, Vec<Message>, &str)> = vec![
        (
            "text",
            vec![Message::text("hello")],
            "text message: the protocol is binary",
        ),
        ("two frames", vec![Message::binary(two)], "and more"),
        (
            "half a frame",
            vec![Message::binary(hello()[..5].to_vec())],
            "holds part of",
        ),
        ("empty", vec![Message::binary(Vec::new())], "empty message"),
        (
            "oversized",
            vec![Message::binary(big.clone())],
            "message over",
        ),
        (
            "fragmented oversize",
            vec![
                Message::Frame(Frame::message(
                    big[..200_000].to_vec(),
                    OpCode::Data(Data::Binary),
                    false,
                )),
                Message::Frame(Frame::message(
                    big[..100_000].to_vec(),
                    OpCode::Data(Data::Continue),
                    true,
                )),
            ],
            "message over",
        ),
        (
            "a frame of no packet",
            vec![Message::binary(frame(0x42, &[1, 2, 3]))],
            "",
        ),
        (
            "a length over max_frame",
            vec![Message::binary(vec![0xff, 0xff, 0xff, 0x7f, 0])],
            "exceeds the maximum",
        ),
    ];
    for (what, messages, says) in cases {
        rt.block_on(async {
            let mut ws = ws_connect(web).await.expect("upgrade");
            for m in messages {
                // The server may close before a big message is all written.
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            let kick = kick_of(next_packet(&mut ws, State::Handshake).await);
            assert_eq!(
                kick.reason,
                DisconnectReason::ProtocolError,
                "{what}: {kick:?}"
            );
            assert!(kick.message.contains(says), "{what}: {:?}", kick.message);
            assert!(ends(&mut ws).await, "{what}: the connection is closed");
        });
    }

    // Garbage WebSocket framing: a reserved opcode, then an unmasked frame (clients must mask).
    for garbage in [&[0x83u8, 0x80, 1, 2, 3, 4][..], &[0x82, 0x01, 0x00][..]] {
        rt.block_on(async {
            let ws = ws_connect(web).await.expect("upgrade");
            let mut tcp = ws.into_inner();
            tokio::io::AsyncWriteExt::write_all(&mut tcp, garbage)
                .await
                .unwrap();
            let mut ws = WebSocketStream::from_raw_socket(tcp, Role::Client, None).await;
            let kick = kick_of(next_packet(&mut ws, State::Handshake).await);
            assert_eq!(kick.reason, DisconnectReason::ProtocolError, "{kick:?}");
            assert!(
                kick.message.contains("WebSocket protocol error"),
                "{:?}",
                kick.message
            );
            assert!(ends(&mut ws).await);
        });
    }

    // A kick in play too, after a real join over WebSocket.
    let bridge = WsBridge::start(web);
    let mut web_player = TestClient::join(bridge.addr(), "webbad").expect("join");
    let id = web_player.id;
    web_player.send_raw(&frame(0x42, &[9, 9])).unwrap();
    assert!(web_player.closed_within(WAIT));
    assert_eq!(
        web_player.kicked.map(|k| k.reason),
        Some(DisconnectReason::ProtocolError)
    );
    honest.wait("the offender's leave", |s| {
        s.left.contains(&(id, DisconnectReason::ProtocolError))
    });
    honest.finish();
}

#[test]
fn a_web_client_that_never_reads_is_dropped_as_too_slow() {
    let bundle = Bundle::new("slow");
    let server = start_server(ServerConfig {
        // A big map in a small window: the transfer cannot fit in the socket buffers.
        size: "1024x1024".into(),
        outbox_bytes: 4096,
        socket_send_buffer: 4096,
        write_timeout_secs: 1,
        ..web_config(&bundle)
    });
    let honest = Honest::join(server.addr(), "honest");
    let web = web_addr(&server);
    let rt = runtime();
    let _stuck = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        let tcp = socket.connect(web).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{web}/ws"), tcp)
            .await
            .unwrap();
        ws.send(Message::binary(hello())).await.unwrap();
        let mut join = Vec::new();
        ClientCodec::<marker::Login>::new()
            .encode(
                &login::JoinRequest {
                    name: "stuck".into(),
                    profile: v1::Profile {
                        color: 0,
                        locale: "en".into(),
                    },
                },
                &mut join,
            )
            .unwrap();
        ws.send(Message::binary(join)).await.unwrap();
        ws // kept, never read
    });
    let id = honest.id_of("stuck");
    honest.wait("the never-reader is dropped as too slow", |s| {
        s.left.contains(&(id, DisconnectReason::TooSlow))
    });
    honest.finish();
}

#[test]
fn upgrades_share_the_pending_limits_with_tcp_and_floods_are_told_busy() {
    let bundle = Bundle::new("flood");
    let server = start_server(ServerConfig {
        max_pending_per_address: 4,
        max_pending: 8,
        ..web_config(&bundle)
    });
    let honest = Honest::join(server.addr(), "honest");
    let web = web_addr(&server);
    let rt = runtime();
    rt.block_on(async {
        // Four silent WebSockets take this address's pending places...
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(ws_connect(web).await.expect("upgrade"));
        }
        // ... so a TCP connection is told Busy, like any upgrade after them.
        let mut tcp = TestClient::connect(server.addr()).unwrap();
        let busy = tcp.recv("busy").expect("a kick");
        assert!(
            matches!(&busy, AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k)) if k.reason == DisconnectReason::Busy),
            "{busy:?}"
        );
        let mut refused = 0;
        for _ in 0..300 {
            match ws_connect(web).await {
                Ok(mut ws) => {
                    let kick = kick_of(next_packet(&mut ws, State::Handshake).await);
                    assert_eq!(kick.reason, DisconnectReason::Busy, "{kick:?}");
                    assert!(kick.message.contains("this address"), "{kick:?}");
                    refused += 1;
                }
                // Past the refusals told at once: an HTTP 503 instead.
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                    assert_eq!(r.status(), 503);
                    refused += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(refused, 300);
        drop(held);
    });
    // The places come back: a web player joins.
    let bridge = WsBridge::start(web);
    let deadline = Instant::now() + WAIT;
    let joined = loop {
        match TestClient::join(bridge.addr(), "late") {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "never joined: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(honest.id_of("late"), joined.id);
    honest.finish();
}

#[test]
fn the_bundle_is_served_and_nothing_outside_it() {
    let bundle = Bundle::new("files");
    let server = start_server(web_config(&bundle));
    let web = web_addr(&server);
    let honest = Honest::join(server.addr(), "honest");

    let index = http(web, "GET", "/");
    assert_eq!(index.status, 200, "{index:?}");
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&index.body).contains("<title>tilegame"));
    let wasm = http(web, "GET", "/tilegame_bg.wasm");
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    let head = http(web, "HEAD", "/assets/app.js");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("9"));
    assert!(head.body.is_empty());
    assert_eq!(http(web, "GET", "/missing.js").status, 404);
    let post = http(web, "POST", "/index.html");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    assert_eq!(http(web, "DELETE", "/ws").status, 405);
    assert_eq!(http(web, "GET", "/ws").status, 426, "a GET without upgrade");

    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/./index.html",
        "/%00",
        "/%zz",
        "http://test/../secret.txt",
    ] {
        let r = http(web, "GET", path);
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    for path in [
        "/link.txt",
        "/up/secret.txt",
        "//secret.txt",
        "/.hidden",
        "/%252e%252e/secret.txt",
    ] {
        let r = http(web, "GET", path);
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(!String::from_utf8_lossy(&r.body).contains("SECRET"));
    }
    // hyper refuses a request line that is not one: the connection ends with 400.
    assert_eq!(
        http_raw(web, b"GET /../../ HTTP/1.1 extra\r\n\r\n").status,
        400
    );

    // Huge headers: 431.
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    assert_eq!(http_raw(web, huge.as_bytes()).status, 431);
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: test\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(http_raw(web, many.as_bytes()).status, 431);

    // Slow headers: a request head dribbled a byte at a time is cut off.
    let mut slow = TcpStream::connect(web).unwrap();
    let dribbler = {
        let mut s = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for b in b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: "
                .iter()
                .chain([b'a'; 200].iter())
            {
                if s.write_all(&[*b]).is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        })
    };
    let bound = tilegame_server::web::HEADER_READ_TIMEOUT + WAIT;
    assert!(
        closed_within(&mut slow, bound),
        "the slow client is cut off"
    );
    assert!(dribbler.join().unwrap(), "before it finished its headers");
    honest.finish();
}

//! Clients that never read, against the real server over loopback: each is disconnected within
//! the write deadline in every state, and hundreds of them leave the server's descriptors and
//! memory where they were.
//!
//! One test in its own binary: it counts this process's descriptors (the server runs in it), so
//! no other test may open sockets meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tilegame_protocol::codec::ClientCodec;
use tilegame_protocol::v1::marker;
use tilegame_protocol::v1::{self, handshake, login, play, DisconnectReason};
use tilegame_server::ServerConfig;
use tilegame_tests::{start_server, test_config, TestClient};

/// Generous upper bound for anything awaited here (the write deadline is 1 s).
const BOUND: Duration = Duration::from_secs(30);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Waits (polling a condition, bounded by [`BOUND`]) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting: {what} (fds {})",
            open_fds()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A socket with a tiny receive window (set before connecting, so the window stays tiny).
fn small_window_socket(addr: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(1024).expect("rcvbuf");
        let stream = socket.connect(addr).await.expect("connect");
        let std = stream.into_std().expect("std socket");
        std.set_nonblocking(false).expect("blocking");
        std
    })
}

/// Joins as `name` and then never reads: the map transfer cannot complete.
fn never_reader(addr: SocketAddr, name: &str) -> TcpStream {
    let mut s = small_window_socket(addr);
    let mut out = Vec::new();
    ClientCodec::<marker::Handshake>::new()
        .encode(
            &handshake::ClientHello {
                protocol_version: v1::PROTOCOL_VERSION,
                spec_hash: v1::SPEC_HASH,
            },
            &mut out,
        )
        .expect("encode");
    ClientCodec::<marker::Login>::new()
        .encode(
            &login::JoinRequest {
                name: name.into(),
                profile: v1::Profile {
                    color: 0,
                    locale: "en".into(),
                },
            },
            &mut out,
        )
        .expect("encode");
    s.write_all(&out).expect("send");
    s
}

/// Whether the peer has closed `s` (reads what is buffered, then expects EOF or a reset).
fn peer_closed(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(BOUND));
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        // A big map in a small window: the transfer cannot fit in the socket buffers.
        size: "1024x1024".into(),
        max_players: 200,
        outbox_bytes: 4096,
        socket_send_buffer: 4096,
        write_timeout_secs: 1,
        idle_timeout_secs: 60,
        max_pending_per_address: 200,
        ..test_config()
    }
}

#[test]
fn clients_that_never_read_are_dropped_within_the_deadline_and_leave_no_trace() {
    let server = start_server(config());
    let addr = server.addr();

    // In map transfer: the server holds a descriptor (and a player) only until the deadline.
    let fds = open_fds();
    let mut stuck = never_reader(addr, "stuck");
    wait_until("the stuck client's server socket is closed", || {
        open_fds() == fds + 1 && server.stats().players == 0
    });
    assert!(peer_closed(&mut stuck), "the server closed the connection");
    drop(stuck);

    // In play, flooding Pings and never reading, beside an honest player.
    let mut honest = TestClient::join(addr, "honest").expect("join");
    let mut flooder = TestClient::join(addr, "flooder").expect("join");
    let flooder_id = flooder.id;
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Blocks once the server stops reading; fails once it has closed the connection.
        let mut pings = Vec::new();
        let mut enc = ClientCodec::<marker::Play>::new();
        for nonce in 0..1000 {
            enc.encode(&play::Ping { nonce }, &mut pings)
                .expect("encode");
        }
        let result = (0..100_000).try_for_each(|_| flooder.send_raw(&pings));
        let _ = done_tx.send(result.is_err());
    });
    honest
        .until("the flooder is announced as too slow", |c| {
            c.left.contains(&(flooder_id, DisconnectReason::TooSlow))
        })
        .expect("honest keeps playing");
    assert_eq!(
        done_rx.recv_timeout(BOUND),
        Ok(true),
        "the flooder's connection was closed by the server"
    );
    drop(honest);
    wait_until("everyone gone", || server.stats().players == 0);

    // 500 never-readers, 100 at a time: descriptors and memory return to where they were.
    let fds = open_fds();
    let rss = rss_kib();
    for round in 0..5 {
        let mut batch: Vec<TcpStream> = (0..100)
            .map(|i| never_reader(addr, &format!("r{round}x{i}")))
            .collect();
        // The server's ends close while ours are still open: only ours remain.
        wait_until("the server closed its side of the batch", || {
            open_fds() == fds + batch.len()
        });
        for s in &mut batch {
            assert!(peer_closed(s));
        }
    }
    wait_until("descriptors back at the baseline", || open_fds() == fds);
    wait_until("no players left", || server.stats().players == 0);
    let grown = rss_kib().saturating_sub(rss);
    assert!(
        grown < 16 * 1024,
        "memory grew by {grown} KiB after 500 never-readers"
    );
    // And the server still serves.
    let mut late = TestClient::join(addr, "late").expect("join after the attack");
    late.snapshot().expect("snapshots");
}

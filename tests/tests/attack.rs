//! Hostile clients against the real server over loopback, an honest player watching:
//! - clients that never read are disconnected within the write deadline in every state, and
//!   hundreds of them leave the server's descriptors and memory where they were;
//! - 256 silent sockets spread over 16 loopback addresses, reopened as fast as the server closes
//!   them, do not lock new players out: each honest client joins at its first try;
//! - a client that keeps sending Inputs in a quiet world but never reads is dropped (TooSlow,
//!   "not reading") while the honest player's snapshots keep coming, no gap over 3 ticks.
//!
//! The tests run one at a time (a lock): the first counts this process's descriptors (the server
//! runs in it), so no other test may open sockets meanwhile.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tilegame_game::Action;
use tilegame_protocol::codec::ClientCodec;
use tilegame_protocol::v1::marker;
use tilegame_protocol::v1::{self, handshake, login, play, DisconnectReason};
use tilegame_server::ServerConfig;
use tilegame_tests::{start_server, test_config, TestClient};

/// Generous upper bound for anything awaited here (the write deadline is 1 s).
const BOUND: Duration = Duration::from_secs(30);

/// One test at a time (see the module doc).
fn serial() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

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
    let _serial = serial();
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

/// GETs `/metrics` and reads the open connections in `state` (e.g. "handshake").
fn connections_in(metrics: SocketAddr, state: &str) -> u64 {
    let mut s = TcpStream::connect_timeout(&metrics, BOUND).expect("metrics listener");
    let _ = s.set_read_timeout(Some(BOUND));
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let key = format!("tilegame_connections{{state=\"{state}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /metrics"))
}

/// Silent sockets from `addresses` loopback addresses, `per_address` each, kept open: whenever the
/// server closes one (evicted with Kick(Busy), or past the handshake deadline) it is opened
/// again from the same address, until stopped.
struct SilentFlood {
    stop: Arc<AtomicBool>,
    /// Sockets the server ended with bytes (a Kick) before closing.
    kicked: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentFlood {
    fn start(server: SocketAddr, addresses: u8, per_address: usize) -> SilentFlood {
        let stop = Arc::new(AtomicBool::new(false));
        let kicked = Arc::new(AtomicU64::new(0));
        let (st, k) = (Arc::clone(&stop), Arc::clone(&kicked));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let from: Vec<IpAddr> = (0..addresses).map(|i| [127, 0, 0, 2 + i].into()).collect();
                let mut sockets: Vec<Option<tokio::net::TcpStream>> =
                    (0..from.len() * per_address).map(|_| None).collect();
                let mut buf = [0u8; 256];
                while !st.load(Ordering::SeqCst) {
                    for (i, slot) in sockets.iter_mut().enumerate() {
                        if let Some(s) = slot {
                            match s.try_read(&mut buf) {
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                                Ok(n) if n > 0 => {
                                    k.fetch_add(1, Ordering::SeqCst);
                                }
                                _ => {}
                            }
                        }
                        *slot = None;
                        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                        if socket
                            .bind(SocketAddr::new(from[i / per_address], 0))
                            .is_err()
                        {
                            continue;
                        }
                        let connect = tokio::time::timeout(BOUND, socket.connect(server));
                        if let Ok(Ok(s)) = connect.await {
                            *slot = Some(s);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
        });
        SilentFlood {
            stop,
            kicked,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentFlood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn silent_sockets_from_many_addresses_do_not_lock_honest_players_out() {
    let _serial = serial();
    // The defaults: 16 pending places per address, 256 in all, a 10 s handshake deadline.
    let server = start_server(ServerConfig {
        metrics: Some("127.0.0.1:0".parse().expect("address")),
        ..test_config()
    });
    let (addr, metrics) = (server.addr(), server.metrics_addr().expect("metrics"));
    let flood = SilentFlood::start(addr, 16, 16);
    wait_until("the silent sockets hold every pending place", || {
        connections_in(metrics, "handshake") >= 256
    });
    // While the flood goes on, honest players join at their first try (before eviction each
    // got Kick(Busy) and needed seconds of retries).
    let mut players = Vec::new();
    for i in 0..5 {
        let mut c = TestClient::join(addr, &format!("honest{i}"))
            .unwrap_or_else(|e| panic!("honest{i} could not join during the flood: {e}"));
        c.snapshot().expect("snapshots");
        players.push(c);
    }
    assert!(
        flood.kicked.load(Ordering::SeqCst) >= 5,
        "each join evicted a silent socket with a Kick"
    );
    assert!(
        connections_in(metrics, "handshake") >= 200,
        "the flood still holds the table"
    );
    drop(flood);
    for c in &mut players {
        c.snapshot().expect("still playing");
    }
}

#[test]
fn a_client_that_sends_inputs_but_never_reads_is_dropped_in_a_quiet_world() {
    let _serial = serial();
    // A quiet world: two players, a small map, the default budgets and kernel buffers.
    let server = start_server(test_config());
    let addr = server.addr();
    let mut deaf = TestClient::join(addr, "deaf").expect("join");
    deaf.snapshot().expect("a first snapshot");
    let deaf_id = deaf.id;

    let done = Arc::new(AtomicBool::new(false));
    let inputs = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            // An Input every tick, never reading: ack_tick stays at the last snapshot read.
            let deadline = Instant::now() + BOUND;
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                if deaf.input(1, 0, Action::None).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            deaf
        })
    };

    let mut honest = TestClient::join(addr, "honest").expect("join");
    let (mut last, mut max_gap) = (None, 0);
    let deadline = Instant::now() + BOUND;
    while !honest.left.contains(&(deaf_id, DisconnectReason::TooSlow)) {
        assert!(
            Instant::now() < deadline,
            "the deaf client was not dropped (left: {:?})",
            honest.left
        );
        honest.input(0, 0, Action::None).expect("input");
        let snap = honest.snapshot().expect("the honest player keeps playing");
        if let Some(last) = last {
            max_gap = max_gap.max(snap.tick.saturating_sub(last));
        }
        last = Some(snap.tick);
    }
    assert!(max_gap <= 3, "a gap of {max_gap} ticks between snapshots");
    done.store(true, Ordering::SeqCst);
    let mut deaf = inputs.join().expect("the input thread");
    // What the deaf client never read ends with the Kick that says why.
    let (_, kick) = deaf.recv_kick("the kick").expect("a kick");
    assert_eq!(kick.reason, DisconnectReason::TooSlow);
    assert!(kick.message.contains("not reading"), "{}", kick.message);
    wait_until("only the honest player is left", || {
        server.stats().players == 1
    });
}

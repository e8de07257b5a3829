//! The dedicated server over real TCP on loopback: joining, refusals, replication, the rules,
//! timeouts, and hostile clients that are dropped while everyone else keeps playing.

use std::io::Write;
use std::time::Duration;

use tilegame_game::{self as game, Action, Tile};
use tilegame_protocol::v1::{
    self, handshake, login, marker, play, DisconnectReason, JoinError, RejectReason,
};
use tilegame_tests::{start_server, test_config, ClientError, TestClient};

fn join_rejection(result: Result<TestClient, ClientError>) -> JoinError {
    match result {
        Err(ClientError::JoinRejected(r)) => r.reason,
        Err(e) => panic!("expected a join rejection, got error {e}"),
        Ok(_) => panic!("expected a join rejection, got a join"),
    }
}

/// Sends `frame` raw as the connection's first bytes: the server must answer Reject(BadMagic)
/// in Handshake and close.
fn sent_raw_is_rejected_as_bad_magic(c: &mut TestClient, frame: &[u8]) {
    c.send_raw(frame).unwrap();
    match c.recv_handshake("reject").unwrap() {
        handshake::ToClient::Reject(r) => assert_eq!(r.reason, RejectReason::BadMagic),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn a_player_joins_gets_the_map_and_sees_itself() {
    let server = start_server(test_config());
    let mut a = TestClient::join(server.addr(), "alice").expect("join");
    let map = a.map.as_ref().expect("map received");
    assert_eq!((map.width(), map.height()), (64, 64));
    let expected = game::generate("testseed", game::Theme::Default, game::MapSize::Small).unwrap();
    assert_eq!(
        map.hash(),
        expected.hash(),
        "the transferred map is the generated one"
    );
    let id = a.id;
    a.until("own player in a snapshot", |c| {
        c.players.get(&id).is_some_and(|p| p.name == "alice")
    })
    .unwrap();
    assert_eq!(a.players[&id].health, 100);
}

#[test]
fn duplicate_name_server_full_and_invalid_name_are_refused() {
    let server = start_server(tilegame_server::ServerConfig {
        max_players: 2,
        ..test_config()
    });
    let _a = TestClient::join(server.addr(), "alice").expect("join");
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "alice")),
        JoinError::NameTaken
    );
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "bad name!")),
        JoinError::InvalidName
    );
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "")),
        JoinError::InvalidName
    );
    let _b = TestClient::join(server.addr(), "bob").expect("second join");
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "carol")),
        JoinError::ServerFull
    );
}

#[test]
fn version_spec_and_magic_mismatches_are_rejected_with_a_reason() {
    let server = start_server(test_config());
    let mut c = TestClient::connect(server.addr()).unwrap();
    match c.hello_with(v1::PROTOCOL_VERSION + 1, v1::SPEC_HASH) {
        Err(ClientError::Rejected(r)) => {
            assert_eq!(r.reason, RejectReason::VersionMismatch);
            assert_eq!(r.server_version, v1::PROTOCOL_VERSION);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let mut c = TestClient::connect(server.addr()).unwrap();
    match c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH ^ 1) {
        Err(ClientError::Rejected(r)) => assert_eq!(r.reason, RejectReason::SpecMismatch),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let mut c = TestClient::connect(server.addr()).unwrap();
    // A ClientHello frame whose magic is wrong: [len][id 0]["XXXX"][version][hash].
    let mut body = b"XXXX".to_vec();
    body.extend_from_slice(&v1::PROTOCOL_VERSION.to_be_bytes());
    body.extend_from_slice(&v1::SPEC_HASH.to_be_bytes());
    let mut frame = Vec::new();
    tilegame_protocol::frame::encode_frame(0, &body, &mut frame);
    sent_raw_is_rejected_as_bad_magic(&mut c, &frame);
}

#[test]
fn two_players_see_each_other_move() {
    let server = start_server(test_config());
    let mut a = TestClient::join(server.addr(), "alice").unwrap();
    let mut b = TestClient::join(server.addr(), "bob").unwrap();
    let a_id = a.id;
    b.until("alice appears", |c| c.players.contains_key(&a_id))
        .unwrap();
    let start = b.players[&a_id].pos;
    for _ in 0..10 {
        a.input(1, 0, Action::None).unwrap();
        a.snapshot().unwrap();
    }
    b.until("alice moved right", |c| {
        c.players[&a_id].pos.0 >= start.0 + 100
    })
    .unwrap();
    assert_eq!(b.players[&a_id].pos.1, start.1, "moved along x only");
    // The server is authoritative: what bob sees is what alice's own snapshots say.
    a.until("alice settles", |c| {
        c.own_pos().is_some_and(|p| p.0 >= start.0 + 100)
    })
    .unwrap();
}

/// Walks `c` to the centre of tile (`tx`, `ty`), nudging near the end; bounded.
fn walk_to_tile(c: &mut TestClient, tx: u16, ty: u16) {
    let map = c.map.as_ref().unwrap();
    let (cx, cy) = game::tile_center_px(map.width(), map.height(), tx, ty);
    for step in 0..2000 {
        let (x, y) = c.own_pos().expect("own position known");
        let (dx, dy) = (cx - x, cy - y);
        if dx.abs() <= 8 && dy.abs() <= 8 {
            return;
        }
        let far = dx.abs().max(dy.abs()) > 64;
        let (mx, my) = (
            dx.signum() as i8 * i8::from(dx.abs() > 8),
            dy.signum() as i8 * i8::from(dy.abs() > 8),
        );
        if far || step % 6 == 0 {
            c.input(mx, my, Action::None).unwrap();
        } else {
            c.input(0, 0, Action::None).unwrap();
        }
        c.snapshot().unwrap();
    }
    panic!("could not reach tile {tx},{ty}");
}

fn nearest(map: &game::Map, want: impl Fn(Tile) -> bool, max_dist: i32) -> Option<(u16, u16)> {
    let (w, h) = (i32::from(map.width()), i32::from(map.height()));
    let (cx, cy) = (w / 2, h / 2);
    let mut best: Option<((u16, u16), i32)> = None;
    for y in 0..h {
        for x in 0..w {
            let d = (x - cx).abs().max((y - cy).abs());
            if d <= max_dist
                && map.get(x as u16, y as u16).is_some_and(&want)
                && best.is_none_or(|(_, bd)| d < bd)
            {
                best = Some(((x as u16, y as u16), d));
            }
        }
    }
    best.map(|(t, _)| t)
}

#[test]
fn a_tile_break_is_seen_by_the_other_player() {
    let config = tilegame_server::ServerConfig {
        theme: tilegame_server::config::ThemeName::Hell,
        tps: 60,
        ..test_config()
    };
    let server = start_server(config);
    let mut a = TestClient::join(server.addr(), "digger").unwrap();
    let mut b = TestClient::join(server.addr(), "watcher").unwrap();
    let a_id = a.id;
    a.until("own position", move |c| c.players.contains_key(&a_id))
        .unwrap();
    let target = nearest(a.map.as_ref().unwrap(), |t| t.attrs().breakable, 20)
        .expect("a breakable tile near spawn");
    // Walk next to it, then hold the break action until it breaks.
    let map = a.map.as_ref().unwrap();
    let stand = (
        target.0,
        if target.1 > map.height() / 2 {
            target.1 - 1
        } else {
            target.1 + 1
        },
    );
    walk_to_tile(&mut a, stand.0, stand.1);
    for _ in 0..200 {
        a.input(
            0,
            0,
            Action::Break {
                x: target.0,
                y: target.1,
            },
        )
        .unwrap();
        a.snapshot().unwrap();
        if a.tile_changes.iter().any(|t| (t.pos.x, t.pos.y) == target) {
            break;
        }
    }
    assert!(
        a.tile_changes
            .iter()
            .any(|t| (t.pos.x, t.pos.y) == target && t.tile == v1::Tile::Dirt),
        "tile broke"
    );
    b.until("watcher sees the break", |c| {
        c.tile_changes.iter().any(|t| (t.pos.x, t.pos.y) == target)
    })
    .unwrap();
    // A newcomer gets the changed map in its transfer.
    let c = TestClient::join(server.addr(), "late").unwrap();
    assert_eq!(
        c.map.as_ref().unwrap().get(target.0, target.1),
        Some(Tile::Dirt)
    );
    assert_eq!(
        c.map.as_ref().unwrap().is_dynamic(target.0, target.1),
        Some(true)
    );
}

#[test]
fn lava_hurts_kills_and_respawn_restores() {
    let config = tilegame_server::ServerConfig {
        theme: tilegame_server::config::ThemeName::HellIslands,
        tps: 100,
        ..test_config()
    };
    let server = start_server(config);
    let mut a = TestClient::join(server.addr(), "brave").unwrap();
    let id = a.id;
    a.until("own position", move |c| c.players.contains_key(&id))
        .unwrap();
    let lava = {
        let map = a.map.as_ref().unwrap();
        // Prefer a lava tile whose neighbours are lava too, so the player stays on lava.
        nearest(map, |t| t == Tile::Lava, 30).expect("lava near spawn")
    };
    walk_to_tile(&mut a, lava.0, lava.1);
    a.until("damage", |c| c.players[&id].health < 100).unwrap();
    let mut died = false;
    for _ in 0..2000 {
        a.input(0, 0, Action::None).unwrap();
        a.snapshot().unwrap();
        if a.players[&id].health == 0 {
            died = true;
            break;
        }
    }
    assert!(
        died,
        "the player died on lava (health {})",
        a.players[&id].health
    );
    a.input(0, 0, Action::Respawn).unwrap();
    a.until("respawned", |c| c.players[&id].health == 100)
        .unwrap();
    let (x, y) = a.own_pos().unwrap();
    assert!(
        x.abs() <= 32 && y.abs() <= 32,
        "back at the spawn, at {x},{y}"
    );
}

#[test]
fn disconnect_is_announced_and_idle_clients_time_out() {
    let server = start_server(tilegame_server::ServerConfig {
        idle_timeout_secs: 1,
        ..test_config()
    });
    let mut a = TestClient::join(server.addr(), "stayer").unwrap();
    let mut b = TestClient::join(server.addr(), "leaver").unwrap();
    let b_id = b.id;
    b.send::<marker::Play, _>(&v1::Disconnect {}).unwrap();
    let mut ok = false;
    for _ in 0..200 {
        a.input(0, 0, Action::None).unwrap();
        a.snapshot().unwrap();
        if a.left.contains(&(b_id, DisconnectReason::Quit)) {
            ok = true;
            break;
        }
    }
    assert!(ok, "the leave was announced");
    // An idle client (no packets for 1 s) is dropped with a Timeout kick, while `a` keeps
    // sending an input per snapshot (each is acknowledged by the next tick's snapshot, so `a` is
    // never silent for long, however slowly this machine runs).
    let mut idle = TestClient::join(server.addr(), "sleeper").unwrap();
    let idle_id = idle.id;
    let mut seen = false;
    for _ in 0..400 {
        a.input(0, 0, Action::None).unwrap();
        a.snapshot().unwrap();
        if a.left.contains(&(idle_id, DisconnectReason::Timeout)) {
            seen = true;
            break;
        }
    }
    assert!(seen, "the timeout was announced");
    assert!(
        idle.closed_within(Duration::from_secs(5)),
        "idle client dropped"
    );
    assert_eq!(
        idle.kicked.as_ref().map(|k| k.reason),
        Some(DisconnectReason::Timeout)
    );
}

#[test]
fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let server = start_server(tilegame_server::ServerConfig {
        handshake_timeout_secs: 1,
        ..test_config()
    });
    let mut c = TestClient::connect(server.addr()).unwrap();
    assert!(c.closed_within(Duration::from_secs(5)));
}

/// Runs `attack` on a fresh connection while a well-behaved player keeps playing; the attacker
/// must be disconnected and the player must keep receiving snapshots.
fn offender_is_dropped_alone(
    name: &str,
    attack: impl FnOnce(&mut TestClient, std::net::SocketAddr),
) {
    let server = start_server(test_config());
    let mut good = TestClient::join(server.addr(), "good").unwrap();
    good.snapshot().unwrap();
    let mut bad = TestClient::connect(server.addr()).unwrap();
    attack(&mut bad, server.addr());
    assert!(
        bad.closed_within(Duration::from_secs(5)),
        "{name}: the offender was dropped"
    );
    let before = good.tick;
    for _ in 0..10 {
        good.input(1, 0, Action::None).unwrap();
        good.snapshot()
            .unwrap_or_else(|e| panic!("{name}: the good client lost its connection: {e}"));
    }
    assert!(good.tick > before, "{name}: snapshots keep coming");
}

#[test]
fn garbage_bytes_drop_only_the_offender() {
    offender_is_dropped_alone("garbage", |bad, _| {
        bad.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
        bad.login("garbage", 0).unwrap();
        bad.send_raw(&[0x05, 0x07, 0xde, 0xad, 0xbe, 0xef]).unwrap();
    });
}

#[test]
fn an_oversized_length_drops_only_the_offender() {
    offender_is_dropped_alone("oversized", |bad, _| {
        // A length prefix of 100 MB: refused before anything is buffered.
        bad.send_raw(&[0x80, 0xc2, 0xd7, 0x2f]).unwrap();
    });
}

#[test]
fn an_inflate_bomb_drops_only_the_offender() {
    offender_is_dropped_alone("bomb", |bad, _| {
        bad.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 50_000]).unwrap();
        let bomb = enc.finish().unwrap();
        let mut body = vec![
            4,
            b'b',
            b'o',
            b'm',
            b'b',
            bomb.len() as u8 | 0x80,
            (bomb.len() >> 7) as u8,
        ];
        assert!(bomb.len() < 1 << 14);
        body.extend_from_slice(&bomb);
        let mut frame = Vec::new();
        tilegame_protocol::frame::encode_frame(0, &body, &mut frame);
        bad.send_raw(&frame).unwrap();
    });
}

#[test]
fn a_packet_aimed_at_another_player_drops_only_the_offender() {
    let server = start_server(test_config());
    let mut victim = TestClient::join(server.addr(), "victim").unwrap();
    let victim_id = victim.id;
    victim
        .until("own position", move |c| c.players.contains_key(&victim_id))
        .unwrap();
    let start = victim.own_pos().unwrap();
    let mut bad = TestClient::join(server.addr(), "mallory").unwrap();
    // The protocol has no way to name another player in a client packet, so the attacker tries
    // the server's own snapshot format, moving the victim, on the client-to-server channel.
    let forged = play::Snapshot {
        tick: 1,
        ack_seq: 1,
        players: vec![v1::PlayerDelta {
            id: victim_id,
            name: None,
            position: Some(v1::Position { x: 500, y: 500 }),
            dx: None,
            dy: None,
            velocity: None,
            health: Some(0),
            color: None,
        }],
        tiles: vec![],
        gone: vec![],
    };
    let mut body = Vec::new();
    tilegame_protocol::wire::encode_body(&forged, "Snapshot", &mut body).unwrap();
    let mut frame = Vec::new();
    tilegame_protocol::frame::encode_frame(0x00, &body, &mut frame);
    bad.send_raw(&frame).unwrap();
    assert!(
        bad.closed_within(Duration::from_secs(5)),
        "the forger was dropped"
    );
    assert_eq!(
        bad.kicked.as_ref().map(|k| k.reason),
        Some(DisconnectReason::ProtocolError)
    );
    for _ in 0..20 {
        victim.input(0, 0, Action::None).unwrap();
        victim.snapshot().unwrap();
    }
    let now = victim.own_pos().unwrap();
    assert_eq!(now, start, "the victim did not move");
    assert_eq!(
        victim.players[&victim_id].health, 100,
        "the victim was not hurt"
    );
}

#[test]
fn shutdown_tells_clients_why() {
    let server = start_server(test_config());
    let mut a = TestClient::join(server.addr(), "alice").unwrap();
    a.snapshot().unwrap();
    server.shutdown();
    let mut kicked = None;
    for _ in 0..100 {
        match a.snapshot() {
            Ok(_) => continue,
            Err(_) => {
                kicked = a.kicked.clone();
                break;
            }
        }
    }
    assert_eq!(
        kicked.map(|k| k.reason),
        Some(DisconnectReason::ServerShutdown)
    );
}

#[test]
fn join_request_is_answered_in_login_state_only() {
    // A JoinRequest before the handshake: the test client's typed API refuses to send it...
    let server = start_server(test_config());
    let mut c = TestClient::connect(server.addr()).unwrap();
    let request = login::JoinRequest {
        name: "early".into(),
        profile: v1::Profile {
            color: 0,
            locale: "en".into(),
        },
    };
    assert!(c.send(&request).is_err());
    // ...and sent raw, its id (0x00) means ClientHello in Handshake, whose magic it lacks: the
    // server answers in Handshake with a Reject and closes.
    let mut body = Vec::new();
    tilegame_protocol::wire::encode_body(&request, "JoinRequest", &mut body).unwrap();
    let mut frame = Vec::new();
    tilegame_protocol::frame::encode_frame(0x00, &body, &mut frame);
    sent_raw_is_rejected_as_bad_magic(&mut c, &frame);
}

#[test]
fn a_burst_of_joins_and_leaves_kicks_nobody_and_every_list_converges() {
    let server = start_server(tilegame_server::ServerConfig {
        max_players: 600,
        // Two ticks a second: the burst lands in one or two ticks, as on a fast server.
        tps: 2,
        // The crowd shares the test's cores: deadlines are not what this test is about.
        handshake_timeout_secs: 120,
        write_timeout_secs: 120,
        read_timeout_secs: 120,
        idle_timeout_secs: 120,
        max_pending_per_address: 600,
        ..test_config()
    });
    let addr = server.addr();
    // 500 join from 10 threads at once; none of them reads until everyone is in.
    let joiners: Vec<_> = (0..10)
        .map(|t| {
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| TestClient::join(addr, &format!("crowd{t}x{i}")).expect("join"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut crowd: Vec<TestClient> = joiners
        .into_iter()
        .flat_map(|j| j.join().expect("joiner"))
        .collect();
    assert_eq!(crowd.len(), 500);
    // 400 leave at once.
    for mut c in crowd.drain(100..) {
        c.send::<marker::Play, _>(&v1::Disconnect {}).unwrap();
    }
    let stayers: std::collections::BTreeSet<u32> = crowd.iter().map(|c| c.id).collect();
    for c in &mut crowd {
        c.until("the player list converges to the server's", |c| {
            c.players.keys().copied().eq(stayers.iter().copied())
        })
        .unwrap_or_else(|e| panic!("client {} did not converge: {e} ({:?})", c.id, c.kicked));
        assert!(c.kicked.is_none());
    }
    assert_eq!(
        server.stats().dropped_slow,
        0,
        "nobody was kicked as too slow"
    );
}

/// Opens `n` connections from `source` (any 127.0.0.0/8 address is loopback) that never speak.
fn silent_sockets(
    server: std::net::SocketAddr,
    source: &str,
    n: usize,
) -> Vec<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..n {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(format!("{source}:0").parse().expect("address"))
                .expect("bind");
            let stream = socket.connect(server).await.expect("connect");
            out.push(stream.into_std().expect("std socket"));
        }
        out
    })
}

#[test]
fn silent_sockets_from_one_address_do_not_lock_out_an_honest_player() {
    let server = start_server(tilegame_server::ServerConfig {
        // Each silent socket would hold its place for a minute: longer than any wait here.
        handshake_timeout_secs: 60,
        ..test_config()
    });
    let _silent = silent_sockets(server.addr(), "127.0.0.2", 300);
    let mut honest = TestClient::join(server.addr(), "honest").expect("an honest join succeeds");
    honest.snapshot().expect("and plays");
    // The same holds for a second address.
    let _more = silent_sockets(server.addr(), "127.0.0.3", 300);
    let mut other = TestClient::join(server.addr(), "other").expect("another honest join");
    other.snapshot().expect("and plays");
}

#[test]
fn the_server_decides_leave_reasons_and_names_are_unique_ignoring_case() {
    let server = start_server(test_config());
    let mut honest = TestClient::join(server.addr(), "honest").unwrap();
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "HONEST")),
        JoinError::NameTaken
    );
    assert_eq!(
        join_rejection(TestClient::join(server.addr(), "Honest")),
        JoinError::NameTaken
    );
    // The spec gives a client no way to choose a reason (Disconnect has no fields): one that
    // leaves is announced as Quit, and one that tries to append a reason byte of the server's
    // (the old layout) sends a malformed Disconnect and is dropped as a protocol error.
    let mut quitter = TestClient::join(server.addr(), "quitter").unwrap();
    quitter.send::<marker::Play, _>(&v1::Disconnect {}).unwrap();
    let mut liars = Vec::new();
    for (name, claim) in [
        ("liar1", DisconnectReason::TooSlow),
        ("liar3", DisconnectReason::ServerShutdown),
    ] {
        let mut c = TestClient::join(server.addr(), name).unwrap();
        let mut frame = Vec::new();
        tilegame_protocol::frame::encode_frame(0x7f, &[claim.tag()], &mut frame);
        c.send_raw(&frame).unwrap();
        liars.push(c.id);
    }
    let quitter_id = quitter.id;
    honest
        .until("all three leaves are announced", |c| {
            liars
                .iter()
                .chain([&quitter_id])
                .all(|id| c.left.iter().any(|(l, _)| l == id))
        })
        .unwrap();
    for (id, reason) in &honest.left {
        let expected = if *id == quitter_id {
            DisconnectReason::Quit
        } else {
            DisconnectReason::ProtocolError
        };
        assert_eq!(*reason, expected, "player {id}");
    }
}

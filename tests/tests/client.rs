//! The client library against the real server over loopback: connection states, managers,
//! prediction under latency, and byte counters checked against the bytes on the wire.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilegame_client::bots::{run_bot, BotOptions, BotStatus};
use tilegame_client::net::{
    ByteCounters, ConnectOptions, Connection, ConnectionHandler, ConnectionState, NetEvent,
};
use tilegame_client::play::PlayState;
use tilegame_game::{Action, Tile};
use tilegame_protocol::convert::input_to_wire;
use tilegame_protocol::v1::play;
use tilegame_server::config::ThemeName;
use tilegame_server::ServerConfig;
use tilegame_tests::proxy::Proxy;
use tilegame_tests::{start_server, test_config};
use tokio::sync::watch;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A connected client with its managers.
struct Player {
    conn: Connection,
    play: PlayState,
}

impl Player {
    async fn join(addr: &str, name: &str) -> Player {
        let mut conn_state = |_s: ConnectionState| {};
        let (conn, joined) = Connection::connect(
            &ConnectOptions::new(addr, name),
            ByteCounters::new(),
            None,
            &mut conn_state,
        )
        .await
        .expect("join");
        let mut play = PlayState::new();
        play.join(&joined, name);
        Player { conn, play }
    }

    /// Sends one input and applies packets until the next snapshot.
    async fn step(&mut self, mx: i8, my: i8) {
        let input = self.play.next_input(mx, my);
        self.conn
            .send(&input_to_wire(&input, self.play.players.tick()))
            .await
            .expect("send");
        self.pump_snapshot().await;
    }

    async fn pump_snapshot(&mut self) {
        loop {
            let p = tokio::time::timeout(Duration::from_secs(10), self.conn.recv())
                .await
                .expect("in time")
                .expect("packet");
            self.play.apply(&p);
            if matches!(p, play::ToClient::Snapshot(_)) {
                return;
            }
        }
    }
}

#[test]
fn two_clients_see_each_others_moves_and_tile_breaks() {
    let server = start_server(ServerConfig {
        theme: ThemeName::Hell,
        tps: 40,
        ..test_config()
    });
    let addr = server.addr().to_string();
    runtime().block_on(async {
        let mut a = Player::join(&addr, "anna").await;
        let mut b = Player::join(&addr, "ben").await;
        let a_id = a.play.players.local_id().unwrap();
        for _ in 0..50 {
            b.step(0, 0).await;
            if b.play.players.get(a_id).is_some_and(|p| p.placed) {
                break;
            }
        }
        let start = b.play.players.get(a_id).expect("ben sees anna").pos;
        for _ in 0..10 {
            a.step(0, 1).await;
        }
        for _ in 0..40 {
            b.step(0, 0).await;
            if b.play.players.get(a_id).unwrap().pos.1 >= start.1 + 100 {
                break;
            }
        }
        assert!(
            b.play.players.get(a_id).unwrap().pos.1 >= start.1 + 100,
            "ben saw anna walk down"
        );

        // Anna stops, then breaks a tile within reach; Ben's world shows it.
        for _ in 0..10 {
            a.step(0, 0).await;
        }
        let target = {
            let map = a.play.world.map().unwrap();
            let s = a.play.players.prediction().state();
            let (cx, cy) =
                tilegame_game::subpx_to_tile(map.width(), map.height(), s.x, s.y).unwrap();
            let mut found = None;
            'outer: for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let (x, y) = ((i32::from(cx) + dx) as u16, (i32::from(cy) + dy) as u16);
                    if map.get(x, y).is_some_and(|t| t.attrs().breakable)
                        && tilegame_game::in_reach(map, &s, x, y)
                    {
                        found = Some((x, y));
                        break 'outer;
                    }
                }
            }
            found
        };
        let Some((x, y)) = target else {
            panic!("no breakable tile within reach on this seed; pick another seed for the test");
        };
        a.play.actions.push(Action::Break { x, y });
        for _ in 0..200 {
            a.step(0, 0).await;
            if a.play.actions.is_empty() {
                break;
            }
        }
        assert_eq!(
            a.play.actions.acknowledged(),
            1,
            "the break was acknowledged (abandoned {}, tile now {:?})",
            a.play.actions.abandoned(),
            a.play.world.map().unwrap().get(x, y)
        );
        for _ in 0..100 {
            if b.play.world.map().unwrap().get(x, y) == Some(Tile::Dirt) {
                break;
            }
            b.step(0, 0).await;
        }
        assert_eq!(
            b.play.world.map().unwrap().get(x, y),
            Some(Tile::Dirt),
            "ben saw the break"
        );
        assert_eq!(
            a.play.world.map_digest(),
            b.play.world.map_digest(),
            "both worlds agree"
        );
    });
}

#[test]
fn prediction_stays_within_a_tile_under_100ms_latency() {
    let server = start_server(test_config());
    let proxy = Proxy::start(server.addr(), Duration::from_millis(50)); // 50 ms each way = 100 ms RTT
    let status = Arc::new(Mutex::new(BotStatus::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    runtime().block_on(async {
        let mut options =
            BotOptions::new(ConnectOptions::new(proxy.addr().to_string(), "laggy"), 7);
        options.break_tiles = false;
        let bot = tokio::spawn(run_bot(options, Arc::clone(&status), stop_rx, None));
        tokio::time::sleep(Duration::from_secs(6)).await;
        let _ = stop_tx.send(true);
        let _ = bot.await;
    });
    let s = status.lock().unwrap().clone();
    assert!(s.snapshots > 40, "received snapshots ({})", s.snapshots);
    assert!(
        s.ping.is_some_and(|p| p >= Duration::from_millis(90)),
        "ping reflects the latency: {:?}",
        s.ping
    );
    assert!(
        s.max_prediction_error_px <= 32,
        "prediction error {} px exceeds one tile",
        s.max_prediction_error_px
    );
}

#[test]
fn the_client_reports_disconnected_when_the_server_stops() {
    let server = start_server(test_config());
    let handler = ConnectionHandler::spawn(
        ConnectOptions::new(server.addr().to_string(), "leftover"),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut joined = false;
    while !joined && Instant::now() < deadline {
        if let Some(NetEvent::Joined(_)) = handler.wait(Duration::from_millis(100)) {
            joined = true;
        }
    }
    assert!(joined, "joined");
    server.shutdown();
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(NetEvent::State(state, detail)) = handler.wait(Duration::from_millis(100)) {
            last = Some((state, detail));
            break;
        }
    }
    let (state, detail) = last.expect("a final state");
    assert_eq!(state, ConnectionState::Disconnected);
    assert!(
        detail.contains("ServerShutdown") && detail.contains("shutting down"),
        "{detail}"
    );
    assert_eq!(state.message(), "Disconnected from the server.");
}

fn connect_error(address: &str) -> ConnectionState {
    runtime().block_on(async {
        let mut options = ConnectOptions::new(address, "nobody");
        options.connect_timeout = Duration::from_secs(5);
        match Connection::connect(&options, ByteCounters::new(), None, &mut |_| {}).await {
            Ok(_) => panic!("connected to {address}"),
            Err(e) => {
                assert!(!e.state.message().is_empty());
                e.state
            }
        }
    })
}

#[test]
fn bad_addresses_give_the_matching_state() {
    assert_eq!(
        connect_error("localhost:99999"),
        ConnectionState::InvalidHost
    );
    assert_eq!(connect_error("no port here"), ConnectionState::InvalidHost);
    // A port nobody listens on (bound then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(connect_error(&free.to_string()), ConnectionState::Refused);
}

#[test]
fn name_taken_and_server_full_reach_the_player() {
    let server = start_server(ServerConfig {
        max_players: 1,
        ..test_config()
    });
    let addr = server.addr().to_string();
    runtime().block_on(async {
        let _first = Player::join(&addr, "only").await;
        let taken = Connection::connect(
            &ConnectOptions::new(addr.clone(), "only"),
            ByteCounters::new(),
            None,
            &mut |_| {},
        )
        .await;
        assert_eq!(
            taken.err().map(|e| e.state),
            Some(ConnectionState::NameTaken)
        );
        let full = Connection::connect(
            &ConnectOptions::new(addr.clone(), "second"),
            ByteCounters::new(),
            None,
            &mut |_| {},
        )
        .await;
        assert_eq!(
            full.err().map(|e| e.state),
            Some(ConnectionState::ServerFull)
        );
    });
}

#[test]
fn byte_counters_equal_the_bytes_on_the_wire() {
    let server = start_server(test_config());
    let proxy = Proxy::start(server.addr(), Duration::ZERO);
    let status = Arc::new(Mutex::new(BotStatus::default()));
    let counters = status.lock().unwrap().counters.clone();
    let (stop_tx, stop_rx) = watch::channel(false);
    runtime().block_on(async {
        let bot = tokio::spawn(run_bot(
            BotOptions::new(ConnectOptions::new(proxy.addr().to_string(), "counter"), 3),
            Arc::clone(&status),
            stop_rx,
            None,
        ));
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = stop_tx.send(true);
        let _ = bot.await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let (up, down) = proxy.counts();
    assert!(counters.sent() > 0 && counters.received() > 0);
    assert_eq!(counters.sent(), up, "bytes sent");
    assert_eq!(counters.received(), down, "bytes received");
}

/// Polls `done` every 50 ms until it holds; fails after a generous bound.
fn wait_for(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_burst_of_500_bots_evicts_nobody_and_lists_converge_after_400_leave() {
    let server = start_server(ServerConfig {
        max_players: 600,
        // Two ticks a second: the burst lands in one or two ticks, as on a fast server.
        tps: 2,
        // The crowd shares the test's cores: deadlines are not what this test is about.
        handshake_timeout_secs: 120,
        write_timeout_secs: 120,
        read_timeout_secs: 120,
        max_pending_per_address: 600,
        max_pending: 600,
        idle_timeout_secs: 120,
        ..test_config()
    });
    let rt = runtime();
    let (stop_stayers, stayers_rx) = watch::channel(false);
    let (stop_leavers, leavers_rx) = watch::channel(false);
    let mut statuses = Vec::new();
    let mut leavers = Vec::new();
    // All 500 at once: no pacing between joins.
    for i in 0..500 {
        let mut connect = ConnectOptions::new(server.addr().to_string(), format!("bot{i}"));
        connect.play_timeout = Duration::from_secs(60);
        let status = Arc::new(Mutex::new(BotStatus::default()));
        let stop = if i < 100 {
            stayers_rx.clone()
        } else {
            leavers_rx.clone()
        };
        let task = rt.spawn(run_bot(
            BotOptions::new(connect, i as u64),
            Arc::clone(&status),
            stop,
            None,
        ));
        statuses.push(status);
        if i >= 100 {
            leavers.push(task);
        }
    }
    let state = |s: &Arc<Mutex<BotStatus>>| s.lock().expect("status").state.clone();
    let players = |s: &Arc<Mutex<BotStatus>>| s.lock().expect("status").players;
    let connected = || {
        statuses
            .iter()
            .filter(|s| state(s) == ConnectionState::Success)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while connected() < 500 {
        if Instant::now() > deadline {
            let failed: Vec<String> = statuses
                .iter()
                .filter(|s| state(s) != ConnectionState::Success)
                .take(3)
                .map(|s| format!("{:?}", *s.lock().expect("status")))
                .collect();
            panic!(
                "{} of 500 connected ({} kicked as too slow); e.g. {failed:?}",
                connected(),
                server.stats().dropped_slow
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for("every list holds all 500", Duration::from_secs(60), || {
        statuses.iter().all(|s| players(s) == 500)
    });
    let _ = stop_leavers.send(true);
    for t in leavers {
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), t).await });
    }
    wait_for("the server counts 100", Duration::from_secs(60), || {
        server.stats().players == 100
    });
    wait_for(
        "every stayer's list converges to 100",
        Duration::from_secs(60),
        || statuses[..100].iter().all(|s| players(s) == 100),
    );
    assert!(statuses[..100]
        .iter()
        .all(|s| state(s) == ConnectionState::Success));
    assert_eq!(
        server.stats().dropped_slow,
        0,
        "nobody was kicked as too slow"
    );
    let _ = stop_stayers.send(true);
}

#[test]
fn a_crowd_from_one_address_past_its_pending_limit_backs_off_and_every_bot_joins() {
    // Four pending connections per address: the other 36 of a simultaneous crowd are closed
    // unanswered at first and must come back until they are let in.
    let server = start_server(ServerConfig {
        max_players: 64,
        max_pending_per_address: 4,
        handshake_timeout_secs: 60,
        idle_timeout_secs: 60,
        ..test_config()
    });
    let rt = runtime();
    let (stop_tx, stop_rx) = watch::channel(false);
    let statuses: Vec<_> = (0..40)
        .map(|i| {
            let status = Arc::new(Mutex::new(BotStatus::default()));
            rt.spawn(run_bot(
                BotOptions::new(
                    ConnectOptions::new(server.addr().to_string(), format!("crowd{i}")),
                    i,
                ),
                Arc::clone(&status),
                stop_rx.clone(),
                None,
            ));
            status
        })
        .collect();
    wait_for("all 40 joined", Duration::from_secs(120), || {
        statuses
            .iter()
            .all(|s| s.lock().expect("status").state == ConnectionState::Success)
    });
    assert_eq!(server.stats().players, 40);
    let _ = stop_tx.send(true);
}

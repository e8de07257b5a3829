//! The admin API end to end: a real server on loopback, real HTTP requests (ureq, and raw
//! sockets for the hostile ones), real players over TCP.
//!
//! Token required (401 without or with a wrong one; no `/admin` at all without a configured
//! token), the player list, a kick the client decodes, bans by name and by address refused at
//! login with their reason (`Kick(Kicked)`, `Kick(Banned)`, `JoinRejected(Banned)`, each shown by
//! the client's own mapping and translations in every language), bans that survive a restart,
//! a broadcast every player receives as a Chat from the server, and hostile requests (a huge
//! body, slow headers, a flood of wrong tokens) refused while a player keeps receiving snapshots.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tilegame_client::net::state::{ConnectError, ConnectionState};
use tilegame_client::ui::i18n::{codes, Localizer};
use tilegame_client::ui::messages::{failure_key, failure_text};
use tilegame_client::ui::screens::{Attempt, Failure};
use tilegame_game::Action;
use tilegame_protocol::v1::{DisconnectReason, JoinError, CHAT_FROM_SERVER};
use tilegame_server::{ServerConfig, ServerHandle};
use tilegame_tests::{start_server, test_config, ClientError, TestClient};

const TOKEN: &str = "s3cret-admin-token-for-tests";
/// Bound on every wait in these tests.
const BOUND: Duration = Duration::from_secs(10);

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tilegame-admin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A config with the HTTP listener, the token in a file in `dir`, and bans kept in `dir`.
fn admin_config(dir: &std::path::Path) -> ServerConfig {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    ServerConfig {
        metrics: Some("127.0.0.1:0".parse().expect("address")),
        admin_token_file: Some(token_file),
        bans: Some(dir.join("bans.json")),
        ..test_config()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(BOUND))
        .build()
        .new_agent()
}

/// A request with `token` (none: no Authorization header); status and JSON body.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("http://{addr}{path}");
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let result = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.call()
        }
        (_, body) => {
            let mut r = agent.post(&url);
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            r.header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string())
        }
    };
    let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("{method} {url}: body: {e}"));
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn admin(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(addr, method, path, Some(TOKEN), body)
}

/// The names in `GET /admin/players`.
fn player_names(addr: SocketAddr) -> Vec<String> {
    let (status, list) = admin(addr, "GET", "/admin/players", None);
    assert_eq!(status, 200, "{list}");
    let mut names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// Waits (bounded) until the roster lists exactly `want`.
fn wait_for_players(addr: SocketAddr, want: &[&str]) {
    let deadline = Instant::now() + BOUND;
    loop {
        let names = player_names(addr);
        if names == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "players {names:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Joins "alice" and "bob", waits until both play and the roster lists them; returns the admin
/// listener's address and the two clients.
fn alice_and_bob(server: &ServerHandle) -> (SocketAddr, TestClient, TestClient) {
    let http = server.metrics_addr().expect("listener");
    let mut alice = TestClient::join(server.addr(), "alice").expect("alice joins");
    let mut bob = TestClient::join(server.addr(), "bob").expect("bob joins");
    alice.snapshot().expect("alice plays");
    bob.snapshot().expect("bob plays");
    wait_for_players(http, &["alice", "bob"]);
    (http, alice, bob)
}

/// Receives snapshots until the server kicks `client`; returns the Kick.
fn kicked(client: &mut TestClient) -> tilegame_protocol::v1::Kick {
    let deadline = Instant::now() + BOUND;
    loop {
        assert!(Instant::now() < deadline, "no Kick arrived");
        match client.snapshot() {
            Ok(_) => {}
            Err(ClientError::Closed) => return client.kicked.clone().expect("a Kick"),
            Err(e) => panic!("waiting for the Kick: {e}"),
        }
    }
}

/// What the client shows for `state` with the server's words `detail`: a translated sentence
/// of its own (not the English fallback, nor the key) naming the address, in every language,
/// and the server's words on the second line.
fn shown_in_every_language(state: ConnectionState, detail: &str) {
    let attempt = Attempt {
        address: "192.0.2.7:35000".into(),
        name: "alice".into(),
        host: None,
    };
    let failure = Failure {
        state: state.clone(),
        detail: detail.into(),
    };
    let english = failure_text(
        &Localizer::new("en").expect("English"),
        &attempt.address,
        &attempt,
        &failure,
    )
    .0;
    for code in codes() {
        let i18n = Localizer::new(code).expect("a language");
        let (main, second) = failure_text(&i18n, &attempt.address, &attempt, &failure);
        assert!(main.contains("192.0.2.7:35000"), "{code} {state:?}: {main}");
        assert!(!main.contains(failure_key(&state)), "{code}: {main}");
        assert!(
            code == "en" || main != english,
            "{code} is not translated: {main}"
        );
        assert!(second.expect("the server's words").contains(detail));
    }
}

/// Joins `name` and expects the join to be refused as banned; returns the message.
fn refused_as_banned(addr: SocketAddr, name: &str) -> String {
    match TestClient::join(addr, name) {
        Err(ClientError::JoinRejected(r)) => {
            assert_eq!(r.reason, JoinError::Banned, "{r:?}");
            let state = ConnectionState::from_join_error(r.reason);
            assert_eq!(state, ConnectionState::Banned);
            shown_in_every_language(state, &r.message);
            assert!(r.message.starts_with("banned"), "{r:?}");
            r.message
        }
        Err(e) => panic!("{name}: expected a refusal, got {e}"),
        Ok(_) => panic!("{name}: joined although banned"),
    }
}

#[test]
fn the_token_is_required_and_the_api_is_off_without_one() {
    let dir = scratch("token");
    let server = start_server(admin_config(&dir));
    let http = server.metrics_addr().expect("listener");
    let (status, body) = call(http, "GET", "/admin/players", None, None);
    assert_eq!(status, 401, "{body}");
    let (status, _) = call(
        http,
        "GET",
        "/admin/players",
        Some("wrong-token-of-some-length"),
        None,
    );
    assert_eq!(status, 401);
    let (status, _) = call(
        http,
        "GET",
        "/admin/players",
        Some(&TOKEN[..TOKEN.len() - 1]),
        None,
    );
    assert_eq!(status, 401);
    let (status, _) = call(
        http,
        "POST",
        "/admin/ban",
        Some("wrong"),
        Some(json!({"name": "x", "reason": "r"})),
    );
    assert_eq!(status, 401);
    assert!(
        !dir.join("bans.json").exists()
            || !std::fs::read_to_string(dir.join("bans.json"))
                .expect("bans")
                .contains("\"x\""),
        "an unauthorised ban was written"
    );
    let (status, body) = admin(http, "GET", "/admin/players", None);
    assert_eq!((status, body), (200, json!([])));
    // Metrics stay open to scrapers.
    assert_eq!(call(http, "GET", "/metrics", None, None).0, 200);
    server.shutdown();

    // No token configured: no admin API at all.
    let server = start_server(ServerConfig {
        metrics: Some("127.0.0.1:0".parse().expect("address")),
        ..test_config()
    });
    let http = server.metrics_addr().expect("listener");
    assert_eq!(admin(http, "GET", "/admin/players", None).0, 404);
    assert_eq!(call(http, "GET", "/healthz", None, None).0, 200);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn players_are_listed_and_a_kick_reaches_the_client() {
    let dir = scratch("kick");
    let server = start_server(admin_config(&dir));
    let (http, mut alice, mut bob) = alice_and_bob(&server);
    let (_, list) = admin(http, "GET", "/admin/players", None);
    let alice_row = list
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["name"] == "alice")
        .expect("alice listed")
        .clone();
    assert_eq!(alice_row["id"], alice.id);
    let address: SocketAddr = alice_row["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("an address");
    assert_eq!(address.ip().to_string(), "127.0.0.1");
    assert!(alice_row["joined_unix_ms"].as_u64().expect("joined") > 0);
    assert!(alice_row["joined_at"]
        .as_str()
        .expect("joined_at")
        .ends_with("UTC"));
    assert!(alice_row["ping_ms"].is_f64(), "measured: {alice_row}");

    let (status, body) = admin(
        http,
        "POST",
        "/admin/kick",
        Some(json!({"id": alice.id, "reason": "spamming the spawn"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kicked"][0]["name"], "alice");
    let kick = kicked(&mut alice);
    assert_eq!(kick.reason, DisconnectReason::Kicked);
    assert_eq!(kick.message, "kicked by the operator: spamming the spawn");
    let shown = ConnectError::kicked(&kick);
    assert_eq!(shown.state, ConnectionState::Kicked);
    shown_in_every_language(shown.state, "spamming the spawn");
    wait_for_players(http, &["bob"]);
    bob.snapshot().expect("bob still plays");

    let (status, body) = admin(http, "POST", "/admin/kick", Some(json!({"name": "nobody"})));
    assert_eq!(status, 404, "{body}");
    let (status, body) = admin(http, "POST", "/admin/kick", Some(json!({"reason": "who?"})));
    assert_eq!(status, 422, "{body}");
    let (status, _) = admin(
        http,
        "POST",
        "/admin/kick",
        Some(json!({"id": "x", "zzz": 1})),
    );
    assert_eq!(status, 422);
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bans_by_name_and_address_refuse_logins_and_survive_a_restart() {
    let dir = scratch("ban");
    let server = start_server(admin_config(&dir));
    let http = server.metrics_addr().expect("listener");
    let mut mallory = TestClient::join(server.addr(), "mallory").expect("mallory joins");
    mallory.snapshot().expect("mallory plays");
    wait_for_players(http, &["mallory"]);

    // A name ban kicks the player now and refuses the name (any case) at login.
    let (status, body) = admin(
        http,
        "POST",
        "/admin/ban",
        Some(json!({"name": "Mallory", "reason": "griefing", "duration_secs": 3600})),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kicked"][0]["name"], "mallory");
    let kick = kicked(&mut mallory);
    assert_eq!(kick.reason, DisconnectReason::Banned);
    assert!(kick.message.contains("griefing"), "{kick:?}");
    assert_eq!(ConnectError::kicked(&kick).state, ConnectionState::Banned);
    let message = refused_as_banned(server.addr(), "MALLORY");
    assert!(
        message.contains("until") && message.ends_with("griefing"),
        "{message}"
    );
    let mut carol = TestClient::join(server.addr(), "carol").expect("others still join");
    carol.snapshot().expect("carol plays");
    drop(carol);
    server.shutdown();

    // Restart with the same file: the ban holds.
    let server = start_server(admin_config(&dir));
    let http = server.metrics_addr().expect("listener");
    refused_as_banned(server.addr(), "mallory");
    let (status, bans) = admin(http, "GET", "/admin/bans", None);
    assert_eq!(status, 200);
    assert_eq!(bans.as_array().expect("list").len(), 1, "{bans}");
    assert_eq!(bans[0]["name"], "Mallory");

    // An address ban refuses everyone from it (every test client is on 127.0.0.1).
    let (status, body) = admin(
        http,
        "POST",
        "/admin/ban",
        Some(json!({"address": "127.0.0.1", "reason": "abuse from this host"})),
    );
    assert_eq!(status, 201, "{body}");
    let message = refused_as_banned(server.addr(), "dave");
    assert_eq!(message, "banned: abuse from this host");
    let (status, _) = admin(
        http,
        "POST",
        "/admin/unban",
        Some(json!({"address": "127.0.0.1"})),
    );
    assert_eq!(status, 200);
    let (status, _) = admin(
        http,
        "POST",
        "/admin/unban",
        Some(json!({"address": "127.0.0.1"})),
    );
    assert_eq!(status, 404);
    TestClient::join(server.addr(), "dave").expect("unbanned address joins");
    refused_as_banned(server.addr(), "mallory");
    let (status, _) = admin(
        http,
        "POST",
        "/admin/unban",
        Some(json!({"name": "mallory"})),
    );
    assert_eq!(status, 200);
    server.shutdown();

    // The file says what is left: nothing.
    let server = start_server(admin_config(&dir));
    TestClient::join(server.addr(), "mallory").expect("unbanned name joins");
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `head` (and `body`, ignoring a connection the server closes early), then reads the
/// answer's status line, bounded.
fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect_timeout(&addr, BOUND).expect("connect");
    s.set_read_timeout(Some(BOUND)).expect("timeout");
    s.set_write_timeout(Some(BOUND)).expect("timeout");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn hostile_requests_are_refused_and_the_game_keeps_ticking() {
    let dir = scratch("hostile");
    let server = start_server(admin_config(&dir));
    let http = server.metrics_addr().expect("listener");
    let mut player = TestClient::join(server.addr(), "watcher").expect("join");
    let first = player.snapshot().expect("plays").tick;
    // An input now and then keeps the player from the idle timeout.
    player.input(0, 0, Action::None).expect("input");

    // A huge body, with the right token: 413 before it is read.
    let body = vec![b' '; 1 << 20];
    let head = format!(
        "POST /admin/ban HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let status = raw(http, &head, &body);
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");

    // Slow headers: the connection is closed after the header timeout.
    let mut slow = TcpStream::connect_timeout(&http, BOUND).expect("connect");
    slow.write_all(b"GET /admin/players HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    let started = Instant::now();
    let n = slow.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        n == 0 || answer.starts_with("HTTP/1.1 408"),
        "slow headers answered {answer:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15), "never closed");
    player.input(0, 0, Action::None).expect("input");

    // A flood of wrong tokens from several threads, while the player keeps playing.
    let flood: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let agent = agent();
                let mut refused = 0;
                for i in 0..150 {
                    let r = agent
                        .get(&format!("http://{http}/admin/players"))
                        .header(
                            "Authorization",
                            &format!("Bearer guess-{t}-{i}-xxxxxxxxxxxx"),
                        )
                        .call()
                        .expect("answered");
                    if r.status().as_u16() == 401 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let mut snapshots = 0;
    while !flood.iter().all(|h| h.is_finished()) {
        player
            .snapshot()
            .expect("snapshots keep coming during the flood");
        snapshots += 1;
        if snapshots % 10 == 0 {
            player.input(0, 0, Action::None).expect("input");
        }
        assert!(snapshots < 100_000, "bounded");
    }
    let refused: usize = flood
        .into_iter()
        .map(|h| h.join().expect("flood thread"))
        .sum();
    assert_eq!(refused, 600);
    let last = player.snapshot().expect("still playing").tick;
    assert!(last > first, "the game ticks: {first} -> {last}");
    assert_eq!(admin(http, "GET", "/admin/players", None).0, 200);
    println!("{snapshots} snapshots during the flood of 600 wrong tokens, ticks {first} -> {last}");
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broadcast_reaches_every_player_as_a_chat_from_the_server() {
    let dir = scratch("broadcast");
    let server = start_server(admin_config(&dir));
    let (http, mut alice, mut bob) = alice_and_bob(&server);

    let line = "Neustart um 12:00 \u{2014} bitte speichern";
    let (status, body) = admin(
        http,
        "POST",
        "/admin/broadcast",
        Some(json!({"text": line})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["players"], 2);
    for c in [&mut alice, &mut bob] {
        c.until("the broadcast", |c| !c.chat.is_empty())
            .expect("still playing");
        assert_eq!(c.chat, [(CHAT_FROM_SERVER, line.to_owned())]);
    }

    // The chat's text rules hold; the token is required.
    for bad in ["", "   ", "bell\u{7}", &"x".repeat(201)] {
        let (status, body) = admin(http, "POST", "/admin/broadcast", Some(json!({"text": bad})));
        assert_eq!(status, 422, "{bad:?}: {body}");
    }
    let (status, _) = admin(http, "POST", "/admin/broadcast", Some(json!({"txt": "x"})));
    assert_eq!(status, 422);
    let (status, _) = call(
        http,
        "POST",
        "/admin/broadcast",
        None,
        Some(json!({"text": "no token"})),
    );
    assert_eq!(status, 401);
    // Nothing else was sent: the next line players see is the next broadcast.
    let (status, _) = admin(
        http,
        "POST",
        "/admin/broadcast",
        Some(json!({"text": "two"})),
    );
    assert_eq!(status, 200);
    alice
        .until("the second broadcast", |c| c.chat.len() == 2)
        .expect("still playing");
    assert_eq!(alice.chat[1], (CHAT_FROM_SERVER, "two".to_owned()));
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

//! Stopping the real server binary the way service managers do: SIGTERM (and SIGINT) kick every
//! connection, whatever its state, with `Kick(ServerShutdown)` and the operator's message, seal
//! the recordings (they verify afterwards) and exit 0; a second signal exits at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tilegame_protocol::v1::{self, login, map_transfer, DisconnectReason};
use tilegame_protocol::State;
use tilegame_tests::server_process::{replay, ServerProcess};
use tilegame_tests::TestClient;

/// The operator's message (`--shutdown-message`).
const MESSAGE: &str = "maintenance: back in five minutes";
/// Generous bound for the stop (the drain time given is 20 s).
const BOUND: Duration = Duration::from_secs(60);

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A config whose map does not fit the socket buffers, so a client that stops reading during
/// the map transfer holds the server in MapTransfer (the write deadline is far off); half the
/// queue stays free for the snapshots held until its map is sent.
fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("server.ron");
    std::fs::write(
        &path,
        r#"(
            seed: "shutdown",
            size: "1024x1024",
            outbox_bytes: 16384,
            socket_send_buffer: 4096,
            write_timeout_secs: 120,
            handshake_timeout_secs: 120,
            idle_timeout_secs: 120,
        )"#,
    )
    .expect("config written");
    path
}

/// A client that has joined and read the start of the map, then stops reading: the server is
/// in MapTransfer with it.
fn in_map_transfer(addr: std::net::SocketAddr, name: &str) -> TestClient {
    let mut c = TestClient::connect_small_window(addr).expect("connect");
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH)
        .expect("welcome");
    c.send(&login::JoinRequest {
        name: name.into(),
        profile: v1::Profile {
            color: 0x336699,
            locale: "en".into(),
        },
    })
    .expect("join request");
    assert!(matches!(
        c.recv_login("join accepted").expect("answer"),
        login::ToClient::JoinAccepted(_)
    ));
    assert!(matches!(
        c.recv_map("map begin").expect("map begin"),
        map_transfer::ToClient::MapBegin(_)
    ));
    c
}

fn recording_of(dir: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("recordings folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(&format!("-{name}.tgr")))
        })
        .unwrap_or_else(|| panic!("no recording of {name} in {}", dir.display()))
}

#[test]
fn sigterm_kicks_every_connection_in_every_state_and_seals_the_recordings() {
    let dir = scratch("shutdown-sigterm");
    let (sim, conns) = (dir.join("sim.tgr"), dir.join("connections"));
    std::fs::create_dir_all(&conns).expect("folder");
    let config = write_config(&dir);
    let mut server = ServerProcess::start(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--record".as_ref(),
        sim.as_os_str(),
        "--record-dir".as_ref(),
        conns.as_os_str(),
        "--shutdown-message".as_ref(),
        MESSAGE.as_ref(),
        "--drain-secs".as_ref(),
        "20".as_ref(),
    ]);
    let addr = server.addr();

    // Handshake: connected first, nothing sent (the connections below are accepted after it,
    // in order, so it has been accepted once they are answered).
    let mut in_handshake = TestClient::connect(addr).expect("connect");
    // Login: welcomed, no join request.
    let mut in_login = TestClient::connect(addr).expect("connect");
    in_login
        .hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH)
        .expect("welcome");
    assert_eq!(in_login.state(), State::Login);
    // MapTransfer: the transfer is stuck in its small window.
    let mut in_map = in_map_transfer(addr, "mapper");
    assert_eq!(in_map.state(), State::MapTransfer);
    // Play: joined and playing.
    let mut in_play = TestClient::join(addr, "player").expect("join");
    in_play.input(1, 0, tilegame_game::Action::None).unwrap();
    in_play.snapshot().expect("a snapshot");
    assert_eq!(in_play.state(), State::Play);

    server.signal("TERM");

    for (state, client) in [
        (State::Handshake, &mut in_handshake),
        (State::Login, &mut in_login),
        (State::MapTransfer, &mut in_map),
        (State::Play, &mut in_play),
    ] {
        let (decoded_in, kick) = client
            .recv_kick("the shutdown kick")
            .unwrap_or_else(|e| panic!("no kick in {state}: {e}"));
        assert_eq!(decoded_in, state, "the kick came in the client's state");
        assert_eq!(kick.reason, DisconnectReason::ServerShutdown, "in {state}");
        assert_eq!(kick.message, MESSAGE, "in {state}");
        assert!(
            client.closed_within(BOUND),
            "closed after the kick in {state}"
        );
    }
    let status = server.wait_exit(BOUND);
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0 ({status})");

    // The simulation recording is sealed and re-simulates tick for tick.
    let (code, text) = replay(&["verify".as_ref(), sim.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    // Each connection's recording is sealed and replays...
    for name in ["mapper", "player"] {
        let file = recording_of(&conns, name);
        let (code, text) = replay(&["verify".as_ref(), file.as_os_str()]);
        assert_eq!(code, Some(0), "{name}: {text}");
    }
    // ... and the player's holds exactly what the simulation pushed it, up to the kick.
    let player = recording_of(&conns, "player");
    let (code, text) = replay(&["diff".as_ref(), sim.as_os_str(), player.as_os_str()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("identical"), "{text}");
}

#[test]
fn a_second_signal_exits_at_once() {
    let dir = scratch("shutdown-twice");
    let config = write_config(&dir);
    let mut server = ServerProcess::start(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--drain-secs".as_ref(),
        "600".as_ref(),
    ]);
    // A client that never takes its map holds the drain (the write deadline is 120 s away).
    let _stuck = in_map_transfer(server.addr(), "stuck");
    server.signal("TERM");
    server.wait_for_log("stopping gracefully", BOUND);
    server.signal("INT");
    let status = server.wait_exit(BOUND);
    assert_eq!(status.code(), Some(128 + 2), "exits at once ({status})");
}

#[test]
fn sigint_stops_gracefully_too() {
    let dir = scratch("shutdown-sigint");
    let config = write_config(&dir);
    let mut server = ServerProcess::start(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--shutdown-message".as_ref(),
        MESSAGE.as_ref(),
    ]);
    let mut c = TestClient::connect(server.addr()).expect("connect");
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH)
        .expect("welcome");
    server.signal("INT");
    let (state, kick) = c.recv_kick("the shutdown kick").expect("kicked");
    assert_eq!(state, State::Login);
    assert_eq!(
        (kick.reason, kick.message.as_str()),
        (DisconnectReason::ServerShutdown, MESSAGE)
    );
    assert_eq!(server.wait_exit(BOUND).code(), Some(0));
}

//! Ending a connection with a reason in every state, end to end over loopback.
//!
//! A client that sends garbage in Handshake or Login must get a Kick that decodes *in that
//! state* (the test client decodes strictly by state), the Rust client must show the reason a
//! server gives in any state, and the server's own recording of such a connection must decode
//! frame by frame.

use std::net::TcpListener;
use std::time::Duration;

use tilegame_client::net::{ByteCounters, ConnectOptions, Connection, ConnectionState};
use tilegame_protocol::codec::{ClientCodec, ServerCodec};
use tilegame_protocol::replay_format::Record;
use tilegame_protocol::v1::{self, handshake, login, marker, DisconnectReason};
use tilegame_protocol::{AnyPacket, State};
use tilegame_server::{ServerConfig, ServerHandle};
use tilegame_tests::{start_server, test_config, ClientError, TestClient};

/// A frame that is not a packet of any state: id 0x42 with a few bytes of body.
fn garbage_frame() -> Vec<u8> {
    let mut frame = Vec::new();
    tilegame_protocol::frame::encode_frame(0x42, &[0xde, 0xad, 0xbe, 0xef], &mut frame);
    frame
}

fn expect_kick(result: Result<AnyPacket, ClientError>, state: State) -> v1::Kick {
    match result {
        Ok(packet) => {
            assert_eq!(packet.state(), state, "the Kick must come in {state}");
            match packet {
                AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k))
                | AnyPacket::LoginToClient(login::ToClient::Kick(k)) => k,
                other => panic!("expected a Kick in {state}, got {other:?}"),
            }
        }
        Err(e) => panic!("expected a Kick in {state}, got {e}"),
    }
}

/// A client past the handshake and the bytes of its JoinRequest as `name`, not yet sent: a
/// test appends what rides right behind it (before the client has read anything).
fn joining(server: &ServerHandle, name: &str) -> (TestClient, Vec<u8>) {
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
    let request = login::JoinRequest {
        name: name.into(),
        profile: v1::Profile {
            color: 0x3366cc,
            locale: "en".into(),
        },
    };
    let mut bytes = Vec::new();
    ClientCodec::<marker::Login>::new()
        .encode(&request, &mut bytes)
        .unwrap();
    (c, bytes)
}

#[test]
fn garbage_in_handshake_gets_a_kick_decoded_in_handshake() {
    let server = start_server(test_config());
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.send_raw(&garbage_frame()).unwrap();
    let kick = expect_kick(c.recv("kick"), State::Handshake);
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    assert!(
        kick.message.contains("0x42") && kick.message.contains("Handshake"),
        "{}",
        kick.message
    );
    assert!(!kick.message.contains('\n'));
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn garbage_in_login_gets_a_kick_decoded_in_login() {
    let server = start_server(test_config());
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
    assert_eq!(c.state(), State::Login);
    c.send_raw(&garbage_frame()).unwrap();
    let kick = expect_kick(c.recv("kick"), State::Login);
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    assert!(kick.message.contains("Login"), "{}", kick.message);
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn a_packet_of_another_state_is_a_protocol_error() {
    // A well-formed play Ping (0x01) sent during login: id 0x01 does not exist client → server
    // in Login, so the server must refuse it with a Kick in Login.
    let server = start_server(test_config());
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
    let mut body = Vec::new();
    tilegame_protocol::wire::encode_body(&v1::play::Ping { nonce: 7 }, "Ping", &mut body).unwrap();
    let mut frame = Vec::new();
    tilegame_protocol::frame::encode_frame(0x01, &body, &mut frame);
    c.send_raw(&frame).unwrap();
    let kick = expect_kick(c.recv("kick"), State::Login);
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    // Sending it through the typed API is refused before any byte is written.
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
    assert!(matches!(
        c.send::<marker::Play, _>(&v1::play::Ping { nonce: 1 }),
        Err(ClientError::Unexpected(_))
    ));
}

#[test]
fn an_input_sent_before_map_end_is_refused_with_a_kick_naming_map_transfer() {
    // The Input rides right behind the JoinRequest, before the client has read anything: the
    // server must judge it in MapTransfer (where a client may only leave), kick, and never
    // enter Play with it.
    let server = start_server(test_config());
    let (mut c, mut bytes) = joining(&server, "early");
    let input = tilegame_protocol::convert::input_to_wire(
        &tilegame_game::Input {
            seq: 1,
            move_x: 1,
            move_y: 0,
            item: tilegame_game::Item::Shovel,
            action: tilegame_game::Action::None,
        },
        0,
    );
    ClientCodec::<marker::Play>::new()
        .encode(&input, &mut bytes)
        .unwrap();
    c.send_raw(&bytes).unwrap();
    let (state, kick) = c.recv_kick("kick").unwrap();
    assert_eq!(state, State::MapTransfer, "kicked before MapEnd: {kick:?}");
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    assert!(
        kick.message.contains("Input received in state MapTransfer"),
        "{}",
        kick.message
    );
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn garbage_sent_before_map_end_is_reported_in_map_transfer() {
    let server = start_server(test_config());
    let (mut c, mut bytes) = joining(&server, "garbled");
    bytes.extend(garbage_frame());
    c.send_raw(&bytes).unwrap();
    let (state, kick) = c.recv_kick("kick").unwrap();
    assert_eq!(state, State::MapTransfer, "kicked before MapEnd: {kick:?}");
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    assert!(
        kick.message.contains("0x42") && kick.message.contains("MapTransfer"),
        "{}",
        kick.message
    );
    assert!(!kick.message.contains("Play"), "{}", kick.message);
}

#[test]
fn a_disconnect_sent_before_map_end_is_a_clean_leave() {
    // Disconnect is the one packet a client may send in MapTransfer: no Kick, and the player
    // leaves (its name is free again).
    let server = start_server(test_config());
    let (mut c, mut bytes) = joining(&server, "quitter");
    ClientCodec::<marker::MapTransfer>::new()
        .encode(&v1::Disconnect {}, &mut bytes)
        .unwrap();
    c.send_raw(&bytes).unwrap();
    // Reads to the end: map packets (at most a few thousand), never a Kick.
    for _ in 0..10_000 {
        match c.recv("until closed") {
            Ok(AnyPacket::LoginToClient(login::ToClient::Kick(k)))
            | Ok(AnyPacket::MapTransferToClient(v1::map_transfer::ToClient::Kick(k)))
            | Ok(AnyPacket::PlayToClient(v1::play::ToClient::Kick(k))) => {
                panic!("a Disconnect must not be kicked: {k:?}")
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let deadline = std::time::Instant::now() + tilegame_tests::WAIT;
    loop {
        match TestClient::join(server.addr(), "quitter") {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the name stays taken: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A server that answers the client's hello with a Kick in Handshake (or, with `in_login`,
/// welcomes it and kicks it after its JoinRequest, in Login).
fn kicking_server(in_login: bool) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut codec = ServerCodec::<marker::Handshake>::new();
        let mut out = Vec::new();
        let kick = v1::Kick {
            reason: DisconnectReason::ServerShutdown,
            message: "maintenance until noon".into(),
        };
        loop {
            let n = stream.read(&mut buf).unwrap();
            codec.feed(&buf[..n]);
            if let Some(got) = codec.next_packet().unwrap() {
                assert!(matches!(got.packet, handshake::ToServer::ClientHello(_)));
                break;
            }
        }
        if in_login {
            let welcome = handshake::ServerWelcome {
                server_name: "fake".into(),
                tick_rate: 20,
                players: 0,
                max_players: 1,
            };
            codec.encode(&welcome, &mut out).unwrap();
            let mut codec = codec.advance::<marker::Login>();
            stream.write_all(&out).unwrap();
            out.clear();
            loop {
                let n = stream.read(&mut buf).unwrap();
                codec.feed(&buf[..n]);
                if let Some(got) = codec.next_packet().unwrap() {
                    assert!(matches!(got.packet, login::ToServer::JoinRequest(_)));
                    break;
                }
            }
            codec.encode(&kick, &mut out).unwrap();
        } else {
            codec.encode(&kick, &mut out).unwrap();
        }
        stream.write_all(&out).unwrap();
    });
    (addr, handle)
}

fn rust_client_join(addr: std::net::SocketAddr) -> tilegame_client::net::ConnectError {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = ConnectOptions::new(addr.to_string(), "alice");
        match Connection::connect(&options, ByteCounters::default(), None, &mut |_| {}).await {
            Ok(_) => panic!("the join should have been refused"),
            Err(e) => e,
        }
    })
}

#[test]
fn the_rust_client_shows_the_reason_of_a_kick_in_handshake_and_login() {
    for in_login in [false, true] {
        let (addr, server) = kicking_server(in_login);
        let error = rust_client_join(addr);
        server.join().unwrap();
        assert_eq!(error.state, ConnectionState::Disconnected, "{error}");
        let shown = error.to_string();
        assert!(
            shown.contains("ServerShutdown") && shown.contains("maintenance until noon"),
            "in_login={in_login}: {shown}"
        );
        assert!(!shown.contains("bad data"), "{shown}");
    }
}

/// A server that holds at most two connections that have not joined yet from one address, and
/// two silent connections of this address holding both places.
fn server_with_both_pending_places_taken() -> (tilegame_server::ServerHandle, Vec<TestClient>) {
    let server = start_server(ServerConfig {
        max_pending_per_address: 2,
        // The two places stay taken for the whole test.
        handshake_timeout_secs: 60,
        ..test_config()
    });
    let holders = (0..2)
        .map(|_| TestClient::connect(server.addr()).unwrap())
        .collect();
    (server, holders)
}

#[test]
fn a_connection_past_the_pending_limit_is_told_busy_in_handshake() {
    let (server, _holders) = server_with_both_pending_places_taken();
    // The third sends its hello at once, as real clients do (the server may refuse a socket
    // that already holds it): the kick must still arrive whole, not be lost to a reset.
    let mut c = TestClient::connect(server.addr()).unwrap();
    // `hello_with` decodes the answer as a Handshake packet: the Kick must be one.
    let kick = match c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH) {
        Err(ClientError::Kicked(kick)) => kick,
        other => panic!("expected a Kick in Handshake, got {other:?}"),
    };
    assert_eq!(c.state(), State::Handshake);
    assert_eq!(kick.reason, DisconnectReason::Busy);
    assert!(kick.message.contains("this address"), "{}", kick.message);
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn the_rust_client_shows_busy_and_bots_get_in_once_a_place_frees() {
    let (server, holders) = server_with_both_pending_places_taken();
    let error = rust_client_join(server.addr());
    assert_eq!(error.state, ConnectionState::Busy, "{error}");
    let shown = error.to_string();
    assert!(shown.contains("Busy"), "{shown}");
    // The places free when their holders leave; a new attempt is then let in.
    drop(holders);
    let mut joined = None;
    for _ in 0..100 {
        match TestClient::join(server.addr(), "patient") {
            Ok(c) => {
                joined = Some(c);
                break;
            }
            Err(ClientError::Kicked(k)) if k.reason == DisconnectReason::Busy => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    joined
        .expect("joined once the holders left")
        .snapshot()
        .unwrap();
}

#[test]
fn the_servers_recording_of_a_kicked_connection_decodes_frame_by_frame() {
    let dir = std::env::temp_dir().join(format!("tilegame-kick-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = start_server(ServerConfig {
        record_dir: Some(dir.clone()),
        ..test_config()
    });
    let mut c = TestClient::connect(server.addr()).unwrap();
    c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH).unwrap();
    c.send(&login::JoinRequest {
        name: "rec".into(),
        profile: v1::Profile {
            color: 1,
            locale: "en".into(),
        },
    })
    .unwrap();
    // Wait for the join answer so the server has opened its recording, then misbehave in play.
    let mut c = c;
    match c.recv_login("join answer").unwrap() {
        login::ToClient::JoinAccepted(_) => {}
        other => panic!("unexpected {other:?}"),
    }
    while c.state() != State::Play {
        c.recv("map").unwrap();
    }
    c.send_raw(&garbage_frame()).unwrap();
    assert!(c.closed_within(Duration::from_secs(10)));
    assert_eq!(
        c.kicked.as_ref().map(|k| k.reason),
        Some(DisconnectReason::ProtocolError)
    );
    drop(server);

    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let data = std::fs::read(&files[0]).unwrap();
    let mut reader = tilegame_protocol::replay_file::ReplayReader::new(data.as_slice()).unwrap();
    let mut names = Vec::new();
    for record in reader.records() {
        let Record::Frame(f) = record else { continue };
        match f.decode() {
            Ok(packet) => names.push(packet.name()),
            Err(e) => panic!("frame {} does not decode: {e}", f.seq),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(names.first(), Some(&"ClientHello"));
    assert!(
        names.contains(&"JoinAccepted") && names.contains(&"MapEnd"),
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"Kick"), "{names:?}");
}

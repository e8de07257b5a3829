//! A minimal protocol-level test client and helpers for end-to-end tests.
//!
//! The client speaks the real protocol over a real blocking TCP socket on loopback, using only
//! the generated packet types and the protocol's codec — the same bytes a real client sends — plus
//! [`TestClient::send_raw`] for deliberately hostile input. It decodes strictly in the state the
//! connection is in (a packet of another state fails the test) and follows the state changes the
//! spec defines. Every read has a timeout, so a test that waits for something that never comes
//! fails instead of hanging.

pub mod proxy;
pub mod web;

/// The real `tilegame-server` and `tilegame-replay` binaries (shared with the replay crate's tests).
pub mod server_process {
    pub use tilegame_testkit::binaries::{replay, replay_binary, server_binary};
    pub use tilegame_testkit::ServerProcess;
}

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tilegame_game as game;
use tilegame_protocol::codec::{ClientCodec, Decoder};
use tilegame_protocol::convert::{input_to_wire, MapAssembler};
use tilegame_protocol::v1::{
    self, handshake, login, map_transfer, play, ClientPacket, StateMarker,
};
use tilegame_protocol::{AnyPacket, CodecError, Direction, State};
use tilegame_server::{ServerConfig, ServerHandle};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("connection closed")]
    Closed,
    /// Nothing arrived in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Bytes from the server that are not a packet of the connection's state.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// The server ended the connection with a reason.
    #[error("kicked: {0:?}")]
    Kicked(v1::Kick),
    /// The handshake was refused.
    #[error("rejected: {0:?}")]
    Rejected(handshake::Reject),
    /// The join was refused.
    #[error("join rejected: {0:?}")]
    JoinRejected(login::JoinRejected),
    /// Something unexpected.
    #[error("{0}")]
    Unexpected(String),
}

/// A server config for tests: loopback, ephemeral port, small seeded map.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        bind: "127.0.0.1:0".parse().expect("valid address"),
        seed: "testseed".into(),
        size: "small".into(),
        ..ServerConfig::default()
    }
}

/// Starts a server with `config` on its own thread.
pub fn start_server(config: ServerConfig) -> ServerHandle {
    ServerHandle::start(config).expect("server starts")
}

/// A player as this client has been told about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Name.
    pub name: String,
    /// Position in pixels.
    pub pos: (i32, i32),
    /// Health.
    pub health: u8,
}

/// A protocol-level client.
pub struct TestClient {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    /// Our player id after joining.
    pub id: u32,
    /// The map received at join.
    pub map: Option<game::Map>,
    /// Players seen in snapshots, by id.
    pub players: std::collections::BTreeMap<u32, Seen>,
    /// Tiles changed since join, as reported.
    pub tile_changes: Vec<v1::TileChange>,
    /// Last snapshot tick.
    pub tick: u32,
    /// Last acknowledged input.
    pub ack_seq: u32,
    /// Players reported as left.
    pub left: Vec<(u32, v1::DisconnectReason)>,
    /// Kick received, if any.
    pub kicked: Option<v1::Kick>,
    /// Chat lines received, in order: (sender id, text).
    pub chat: Vec<(u32, String)>,
    /// Chat refusals received, in order.
    pub chat_refused: Vec<v1::ChatRefusal>,
    seq: u32,
}

impl TestClient {
    /// Opens a TCP connection.
    pub fn connect(addr: SocketAddr) -> Result<TestClient, ClientError> {
        TestClient::connect_stream(TcpStream::connect_timeout(&addr, WAIT)?)
    }

    /// Opens a TCP connection with a tiny receive window (set before connecting, so that it
    /// stays tiny): a client that stops reading holds the server's writes at once.
    pub fn connect_small_window(addr: SocketAddr) -> Result<TestClient, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stream = rt.block_on(async {
            let socket = match addr {
                SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
                SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
            };
            socket.set_recv_buffer_size(1024)?;
            let stream = tokio::time::timeout(WAIT, socket.connect(addr))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
            stream.into_std()
        })?;
        stream.set_nonblocking(false)?;
        let mut c = TestClient::connect_stream(stream)?;
        c.buf.truncate(1024);
        Ok(c)
    }

    fn connect_stream(stream: TcpStream) -> Result<TestClient, ClientError> {
        stream.set_nodelay(true)?;
        Ok(TestClient {
            stream,
            decoder: Decoder::new(State::Handshake, Direction::ToClient),
            buf: vec![0; 64 * 1024],
            id: 0,
            map: None,
            players: Default::default(),
            tile_changes: Vec::new(),
            tick: 0,
            ack_seq: 0,
            left: Vec::new(),
            kicked: None,
            chat: Vec::new(),
            chat_refused: Vec::new(),
            seq: 0,
        })
    }

    /// Receives packets until a Kick arrives: the state it was decoded in, and the Kick.
    pub fn recv_kick(&mut self, what: &'static str) -> Result<(State, v1::Kick), ClientError> {
        self.kicked = None;
        loop {
            self.recv(what)?;
            if let Some(k) = self.kicked.take() {
                return Ok((self.state(), k));
            }
        }
    }

    /// The protocol state the connection is in (as this client has followed it).
    pub fn state(&self) -> State {
        self.decoder.state()
    }

    /// Sends one packet of state `S`; sending in another state than the connection's is an
    /// error (hostile tests send such bytes with [`TestClient::send_raw`]).
    pub fn send<S: StateMarker, P: ClientPacket<S>>(
        &mut self,
        packet: &P,
    ) -> Result<(), ClientError> {
        if S::STATE != self.state() {
            return Err(ClientError::Unexpected(format!(
                "sending {} in {} while the connection is in {}",
                P::NAME,
                S::STATE,
                self.state()
            )));
        }
        let mut out = Vec::new();
        ClientCodec::<S>::new()
            .encode(packet, &mut out)
            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Sends raw bytes (for hostile-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Receives the next packet, decoded strictly in the connection's state; follows the state
    /// changes the spec defines (ServerWelcome → Login, JoinAccepted → MapTransfer, MapEnd →
    /// Play) and records a Kick.
    pub fn recv(&mut self, what: &'static str) -> Result<AnyPacket, ClientError> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(got) = self.decoder.next_packet()? {
                let packet = got.packet;
                let next = match &packet {
                    AnyPacket::HandshakeToClient(handshake::ToClient::ServerWelcome(_)) => {
                        Some(State::Login)
                    }
                    AnyPacket::LoginToClient(login::ToClient::JoinAccepted(_)) => {
                        Some(State::MapTransfer)
                    }
                    AnyPacket::MapTransferToClient(map_transfer::ToClient::MapEnd(_)) => {
                        Some(State::Play)
                    }
                    AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k))
                    | AnyPacket::LoginToClient(login::ToClient::Kick(k))
                    | AnyPacket::MapTransferToClient(map_transfer::ToClient::Kick(k))
                    | AnyPacket::PlayToClient(play::ToClient::Kick(k)) => {
                        self.kicked = Some(k.clone());
                        None
                    }
                    _ => None,
                };
                if let Some(state) = next {
                    self.decoder.set_state(state);
                }
                return Ok(packet);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout(what));
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.decoder.feed(&self.buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ClientError::Timeout(what))
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Err(ClientError::Closed)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives the next packet, which must be a Handshake packet (a Kick is an error).
    pub fn recv_handshake(
        &mut self,
        what: &'static str,
    ) -> Result<handshake::ToClient, ClientError> {
        match self.recv(what)? {
            AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k)) => {
                Err(ClientError::Kicked(k))
            }
            AnyPacket::HandshakeToClient(p) => Ok(p),
            other => Err(ClientError::Unexpected(format!(
                "expected a Handshake packet, got {other:?}"
            ))),
        }
    }

    /// Receives the next packet, which must be a Login packet (a Kick is an error).
    pub fn recv_login(&mut self, what: &'static str) -> Result<login::ToClient, ClientError> {
        match self.recv(what)? {
            AnyPacket::LoginToClient(login::ToClient::Kick(k)) => Err(ClientError::Kicked(k)),
            AnyPacket::LoginToClient(p) => Ok(p),
            other => Err(ClientError::Unexpected(format!(
                "expected a Login packet, got {other:?}"
            ))),
        }
    }

    /// Receives the next packet, which must be a MapTransfer packet (a Kick is an error).
    pub fn recv_map(&mut self, what: &'static str) -> Result<map_transfer::ToClient, ClientError> {
        match self.recv(what)? {
            AnyPacket::MapTransferToClient(map_transfer::ToClient::Kick(k)) => {
                Err(ClientError::Kicked(k))
            }
            AnyPacket::MapTransferToClient(p) => Ok(p),
            other => Err(ClientError::Unexpected(format!(
                "expected a MapTransfer packet, got {other:?}"
            ))),
        }
    }

    /// Receives the next packet, which must be a Play packet.
    pub fn recv_play(&mut self, what: &'static str) -> Result<play::ToClient, ClientError> {
        match self.recv(what)? {
            AnyPacket::PlayToClient(p) => Ok(p),
            other => Err(ClientError::Unexpected(format!(
                "expected a Play packet, got {other:?}"
            ))),
        }
    }

    /// Sends a hello with the given version and hash; returns the welcome.
    pub fn hello_with(
        &mut self,
        version: u32,
        hash: u64,
    ) -> Result<handshake::ServerWelcome, ClientError> {
        self.send(&handshake::ClientHello {
            protocol_version: version,
            spec_hash: hash,
        })?;
        match self.recv_handshake("welcome")? {
            handshake::ToClient::ServerWelcome(w) => Ok(w),
            handshake::ToClient::Reject(r) => Err(ClientError::Rejected(r)),
            handshake::ToClient::Kick(k) => Err(ClientError::Kicked(k)),
        }
    }

    /// Handshake + login + map transfer with `name`.
    pub fn join(addr: SocketAddr, name: &str) -> Result<TestClient, ClientError> {
        let mut c = TestClient::connect(addr)?;
        c.hello_with(v1::PROTOCOL_VERSION, v1::SPEC_HASH)?;
        c.login(name, 0x3366cc)?;
        Ok(c)
    }

    /// Login and map transfer (after the handshake).
    pub fn login(&mut self, name: &str, color: u32) -> Result<(), ClientError> {
        self.send(&login::JoinRequest {
            name: name.into(),
            profile: v1::Profile {
                color,
                locale: "en".into(),
            },
        })?;
        match self.recv_login("join answer")? {
            login::ToClient::JoinAccepted(a) => self.id = a.player_id,
            login::ToClient::JoinRejected(r) => return Err(ClientError::JoinRejected(r)),
            login::ToClient::Kick(k) => return Err(ClientError::Kicked(k)),
        }
        let map_transfer::ToClient::MapBegin(begin) = self.recv_map("map begin")? else {
            return Err(ClientError::Unexpected("expected MapBegin".into()));
        };
        let mut assembler =
            MapAssembler::new(begin).map_err(|e| ClientError::Unexpected(e.to_string()))?;
        loop {
            match self.recv_map("map chunk")? {
                map_transfer::ToClient::MapChunk(c) => assembler
                    .push(c)
                    .map_err(|e| ClientError::Unexpected(e.to_string()))?,
                map_transfer::ToClient::MapEnd(end) => {
                    for p in end.players {
                        self.players.insert(
                            p.id,
                            Seen {
                                name: p.name,
                                ..Seen::default()
                            },
                        );
                    }
                    self.map = Some(
                        assembler
                            .finish(end.checksum)
                            .map_err(|e| ClientError::Unexpected(e.to_string()))?,
                    );
                    return Ok(());
                }
                other => return Err(ClientError::Unexpected(format!("unexpected {other:?}"))),
            }
        }
    }

    /// Sends an input with movement intent and an action; returns its sequence number.
    pub fn input(
        &mut self,
        move_x: i8,
        move_y: i8,
        action: game::Action,
    ) -> Result<u32, ClientError> {
        self.seq += 1;
        let input = game::Input {
            seq: self.seq,
            move_x,
            move_y,
            item: game::Item::Shovel,
            action,
        };
        let wire = input_to_wire(&input, self.tick);
        self.send(&wire)?;
        Ok(self.seq)
    }

    /// Receives play packets until a snapshot arrives; applies it and returns it.
    pub fn snapshot(&mut self) -> Result<play::Snapshot, ClientError> {
        loop {
            match self.recv_play("snapshot")? {
                play::ToClient::Snapshot(s) => {
                    self.apply(&s);
                    return Ok(s);
                }
                play::ToClient::PlayerJoined(j) => {
                    self.players.entry(j.player.id).or_default().name = j.player.name;
                }
                play::ToClient::PlayerLeft(l) => {
                    self.players.remove(&l.id);
                    self.left.push((l.id, l.reason));
                }
                play::ToClient::Pong(_) => {}
                play::ToClient::Chat(c) => self.chat.push((c.from, c.text)),
                play::ToClient::ChatRefused(r) => self.chat_refused.push(r.reason),
                play::ToClient::Kick(k) => {
                    self.kicked = Some(k);
                    return Err(ClientError::Closed);
                }
            }
        }
    }

    /// Sends a chat line.
    pub fn say(&mut self, text: &str) -> Result<(), ClientError> {
        self.send::<v1::marker::Play, _>(&play::Say { text: text.into() })
    }

    fn apply(&mut self, s: &play::Snapshot) {
        self.tick = s.tick;
        self.ack_seq = s.ack_seq;
        for d in &s.players {
            let p = self.players.entry(d.id).or_default();
            if let Some(n) = &d.name {
                p.name.clone_from(n);
            }
            if let Some(pos) = &d.position {
                p.pos = (pos.x, pos.y);
            }
            p.pos.0 += d.dx.unwrap_or(0);
            p.pos.1 += d.dy.unwrap_or(0);
            if let Some(h) = d.health {
                p.health = h;
            }
        }
        self.tile_changes.extend(s.tiles.iter().cloned());
    }

    /// Receives snapshots until `done` holds (or the wait runs out).
    pub fn until(
        &mut self,
        what: &'static str,
        mut done: impl FnMut(&TestClient) -> bool,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            if Instant::now() > deadline {
                return Err(ClientError::Timeout(what));
            }
            self.snapshot()?;
        }
        Ok(())
    }

    /// Whether the server has closed this connection (reads until EOF or the wait runs out).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut self.buf) {
                Ok(0) => return true,
                Ok(n) => {
                    self.decoder.feed(&self.buf[..n]);
                    while let Ok(Some(got)) = self.decoder.next_packet() {
                        if let AnyPacket::HandshakeToClient(handshake::ToClient::Kick(k))
                        | AnyPacket::LoginToClient(login::ToClient::Kick(k))
                        | AnyPacket::MapTransferToClient(map_transfer::ToClient::Kick(k))
                        | AnyPacket::PlayToClient(play::ToClient::Kick(k)) = got.packet
                        {
                            self.kicked = Some(k);
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    /// Our own position as reported by the server.
    pub fn own_pos(&self) -> Option<(i32, i32)> {
        self.players.get(&self.id).map(|p| p.pos)
    }
}

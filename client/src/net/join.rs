//! The join sequence as a pure state machine: server packets in, the joined world out.
//!
//! Live connections feed it the typed packets of each state as the codec decodes them; replay
//! feeds it recorded frames decoded by the same codec. Either way the same code decides what each
//! packet means in each state (handshake → login → map transfer
//! → play) and turns refusals into player-visible states.

use tilegame_game as game;
use tilegame_protocol::convert::{theme_from_wire, MapAssembler};
use tilegame_protocol::v1::{handshake, login, map_transfer, State};
use tilegame_protocol::AnyPacket;

use super::connection::Joined;
use super::state::{ConnectError, ConnectionState};

/// What a frame did to the join.
#[derive(Debug)]
pub enum JoinStep {
    /// The handshake succeeded: send the join request now.
    Welcomed,
    /// Accepted: the map follows.
    Accepted,
    /// Map download progress, 0..=1.
    Progress(f32),
    /// The join is complete.
    Done(Box<Joined>),
}

/// Consumes server frames until the client is in play.
#[derive(Debug)]
pub struct JoinAssembler {
    state: State,
    server_name: String,
    tick_rate: u8,
    max_players: u32,
    accepted: Option<login::JoinAccepted>,
    map: Option<(MapAssembler, String, game::Theme)>,
}

impl Default for JoinAssembler {
    fn default() -> Self {
        JoinAssembler {
            state: State::Handshake,
            server_name: String::new(),
            tick_rate: 0,
            max_players: 0,
            accepted: None,
            map: None,
        }
    }
}

fn failure(e: impl std::fmt::Display) -> ConnectError {
    ConnectError::new(
        ConnectionState::ServerFailure,
        format!("the server sent bad data: {e}"),
    )
}

impl JoinAssembler {
    /// A join that has not started.
    pub fn new() -> Self {
        Self::default()
    }

    /// The protocol state the next server frame belongs to.
    pub fn state(&self) -> State {
        self.state
    }

    /// Feeds one decoded server packet; a packet of another state than the join's is an error.
    pub fn feed(&mut self, packet: AnyPacket) -> Result<JoinStep, ConnectError> {
        match packet {
            AnyPacket::HandshakeToClient(p) if self.state == State::Handshake => {
                self.on_handshake(p)
            }
            AnyPacket::LoginToClient(p) if self.state == State::Login => self.on_login(p),
            AnyPacket::MapTransferToClient(p) if self.state == State::MapTransfer => self.on_map(p),
            other => Err(failure(format!(
                "{} ({}) arrived while joining in state {}",
                other.name(),
                other.state(),
                self.state
            ))),
        }
    }

    /// A Handshake packet from the server.
    pub fn on_handshake(&mut self, packet: handshake::ToClient) -> Result<JoinStep, ConnectError> {
        match packet {
            handshake::ToClient::ServerWelcome(w) => {
                self.server_name = w.server_name;
                self.tick_rate = w.tick_rate;
                self.max_players = w.max_players;
                self.state = State::Login;
                Ok(JoinStep::Welcomed)
            }
            handshake::ToClient::Reject(r) => Err(ConnectError::new(
                ConnectionState::from_reject(r.reason),
                format!(
                    "{}: server protocol v{} ({:#018x}), ours v{} ({:#018x})",
                    r.reason.name(),
                    r.server_version,
                    r.server_hash,
                    tilegame_protocol::PROTOCOL_VERSION,
                    tilegame_protocol::SPEC_HASH
                ),
            )),
            handshake::ToClient::Kick(k) => Err(ConnectError::kicked(&k)),
        }
    }

    /// A Login packet from the server.
    pub fn on_login(&mut self, packet: login::ToClient) -> Result<JoinStep, ConnectError> {
        match packet {
            login::ToClient::JoinAccepted(a) => {
                self.accepted = Some(a);
                self.state = State::MapTransfer;
                Ok(JoinStep::Accepted)
            }
            login::ToClient::JoinRejected(r) => Err(ConnectError::new(
                ConnectionState::from_join_error(r.reason),
                r.message,
            )),
            login::ToClient::Kick(k) => Err(ConnectError::kicked(&k)),
        }
    }

    /// A MapTransfer packet from the server.
    pub fn on_map(&mut self, packet: map_transfer::ToClient) -> Result<JoinStep, ConnectError> {
        match self.state {
            State::MapTransfer => match packet {
                map_transfer::ToClient::Kick(k) => Err(ConnectError::kicked(&k)),
                map_transfer::ToClient::MapBegin(begin) => {
                    if self.map.is_some() {
                        return Err(failure("the map began twice"));
                    }
                    let (seed, theme) = (begin.seed.clone(), theme_from_wire(begin.theme));
                    self.map = Some((MapAssembler::new(begin).map_err(failure)?, seed, theme));
                    Ok(JoinStep::Progress(0.0))
                }
                map_transfer::ToClient::MapChunk(chunk) => {
                    let (assembler, _, _) = self
                        .map
                        .as_mut()
                        .ok_or_else(|| failure("a map chunk before the map began"))?;
                    assembler.push(chunk).map_err(failure)?;
                    Ok(JoinStep::Progress(assembler.progress()))
                }
                map_transfer::ToClient::MapEnd(end) => {
                    let (assembler, seed, theme) = self
                        .map
                        .take()
                        .ok_or_else(|| failure("the map ended before it began"))?;
                    let map = assembler.finish(end.checksum).map_err(failure)?;
                    let accepted = self
                        .accepted
                        .take()
                        .ok_or_else(|| failure("a map before the join was accepted"))?;
                    self.state = State::Play;
                    Ok(JoinStep::Done(Box::new(Joined {
                        player_id: accepted.player_id,
                        spawn: (accepted.spawn.x, accepted.spawn.y),
                        tick: accepted.tick,
                        map,
                        seed,
                        theme,
                        players: end.players,
                        server_name: std::mem::take(&mut self.server_name),
                        tick_rate: self.tick_rate,
                        max_players: self.max_players,
                    })))
                }
            },
            other => Err(failure(format!(
                "a map packet arrived while joining in state {other}"
            ))),
        }
    }
}

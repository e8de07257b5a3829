//! Server simulation recordings (`tilegame-server --record FILE`): `verify` re-simulates them,
//! `derive` re-derives one player's play-state stream, `diff` compares that stream with the
//! player's own recording, and `info` says what they hold.
//!
//! The re-simulation is the server's own loop ([`tilegame_sim::resim`]) run again from the
//! recorded commands and I/O outcomes, so "does the server replay bit-exactly" and "did the
//! server send this player what it should have" are both answered by the code that ran live.
//!
//! `verify` re-simulates from the start and checks every recorded keyframe against the state it
//! reached; `play --until T` and `derive --from T` start from the nearest keyframe before T
//! instead (found in a first pass over the file that keeps only its position), so their cost is
//! the ticks after it, not the whole recording.

use std::collections::BTreeMap;
use std::io::Write;

use tilegame_game::{PlayerId, StableHasher};
use tilegame_protocol::replay_format::{FrameDirection, Record, Recorder, SimStart};
use tilegame_protocol::v1::{self, login, map_transfer, play, Packet};
use tilegame_protocol::{AnyPacket, State};
use tilegame_sim::resim::{Divergence, Resim, ResimCounts, Step, StreamFrame};

use super::{scan, Flow, Tail};
use crate::packets;
use crate::tool::{thousands, ReplayFile, ToolError, EXIT_DIVERGED};

/// Whether `file` is a server simulation recording.
pub fn is_simulation(file: &ReplayFile) -> Result<bool, ToolError> {
    Ok(file.reader(false)?.header().recorder == Recorder::Simulation)
}

/// Refuses a simulation recording for a command that reads frames.
pub fn refuse_simulation(file: &ReplayFile, command: &str) -> Result<(), ToolError> {
    if is_simulation(file)? {
        return Err(ToolError::Usage(format!(
            "{}: a server simulation recording holds no frames, so `{command}` has nothing to show; use info, dump, verify, play, derive or diff",
            file.path.display()
        )));
    }
    Ok(())
}

/// A simulation's settings, on one line.
pub fn describe_start(s: &SimStart) -> String {
    let theme = v1::Theme::from_tag(s.theme).map_or("unknown", |t| t.name());
    let radius = if s.view_radius_tiles == 0 {
        "everyone in view".to_owned()
    } else {
        format!("view radius {} tiles", s.view_radius_tiles)
    };
    format!(
        "seed {:?}, theme {theme}, {}x{} tiles, up to {} players, {} ticks/s, heartbeat every {} ticks, {radius}, outbox {} B",
        s.seed,
        s.width,
        s.height,
        s.max_players,
        s.tick_rate,
        s.heartbeat_ticks,
        thousands(u64::from(s.outbox_bytes))
    )
}

/// What re-simulating a recording gave.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// The recorded settings.
    pub start: SimStart,
    /// What was re-simulated.
    pub counts: ResimCounts,
    /// First and last tick run.
    pub ticks: Option<(u32, u32)>,
    /// A digest of every (tick, world hash): equal runs give equal digests.
    pub digest: u64,
    /// Every tick's world hash, in order.
    pub hashes: Vec<u64>,
    /// The first divergence (the run stops there).
    pub divergence: Option<Divergence>,
    /// The keyframe tick the run started from (`None`: from the start).
    pub from_keyframe: Option<u32>,
    /// The watched player's stream.
    pub stream: Vec<StreamFrame>,
    /// How the file ended.
    pub tail: Tail,
    /// The most players present after a tick.
    pub peak_players: usize,
}

impl SimRun {
    /// 0 when every tick matched, 1 on divergence.
    pub fn exit_code(&self) -> u8 {
        if self.divergence.is_some() {
            EXIT_DIVERGED
        } else {
            0
        }
    }

    /// The throughput line of a run over a file of `file_bytes` that took `elapsed`.
    pub fn throughput(&self, file_bytes: u64, elapsed: std::time::Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        format!(
            "throughput: {:.0} ticks/s with {} players at most, {:.1} MB/s of file ({} file bytes) in {:.1} ms",
            self.counts.ticks as f64 / secs,
            self.peak_players,
            file_bytes as f64 / secs / 1e6,
            thousands(file_bytes),
            secs * 1000.0
        )
    }

    /// The report `verify` prints.
    pub fn render(&self) -> String {
        let mut s = format!("server simulation: {}\n", describe_start(&self.start));
        let c = &self.counts;
        let ticks = self
            .ticks
            .map_or("none".to_owned(), |(a, b)| format!("{a}..{b}"));
        match &self.divergence {
            Some(d) => {
                // A keyframe is compared after its tick, which was equal.
                let equal = match d {
                    Divergence::Keyframe { .. } => c.ticks,
                    _ => c.ticks.saturating_sub(1),
                };
                s += &format!(
                    "DIVERGED {d}\n  ({} ticks re-simulated equal before it)\n",
                    thousands(equal)
                );
            }
            None => {
                s += &format!(
                    "OK: {} ticks re-simulated (ticks {ticks}), every world and player hash equal\n",
                    thousands(c.ticks)
                );
            }
        }
        s += &format!(
            "  {} joins, {} inputs, {} leaves, {} roster cuts, {} drops re-applied\n",
            thousands(c.joins),
            thousands(c.inputs),
            thousands(c.leaves),
            thousands(c.roster_cuts),
            thousands(c.drops)
        );
        s += &format!(
            "  {} keyframes equal to the state re-simulated at their tick\n",
            thousands(c.keyframes)
        );
        s += &format!("  ended: {}\n", self.tail.describe());
        s += &format!("  digest {:#018x}\n", self.digest);
        s
    }
}

/// Which player's stream to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// By id.
    Id(u32),
    /// By name (the first player who joined with it).
    Name(String),
}

impl Who {
    /// A number is an id, anything else a name.
    pub fn parse(text: &str) -> Who {
        text.parse()
            .map_or_else(|_| Who::Name(text.to_owned()), Who::Id)
    }
}

/// The id of the first player who joined as `name`.
fn find_player(file: &ReplayFile, name: &str) -> Result<Option<u32>, ToolError> {
    let mut found = None;
    scan(file, true, "search", |record, _| {
        if let Record::SimJoin(j) = record {
            if let tilegame_protocol::replay_format::SimJoinResult::JoinedAs(a) = &j.result {
                if j.name == name {
                    found = Some(a.player);
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    })?;
    Ok(found)
}

/// Whether a player was given id `id` (a join the recording holds was answered with it).
fn player_joined(file: &ReplayFile, id: u32) -> Result<bool, ToolError> {
    let mut found = false;
    scan(file, true, "search", |record, _| {
        if let Record::SimJoin(j) = record {
            if let tilegame_protocol::replay_format::SimJoinResult::JoinedAs(a) = &j.result {
                if a.player == id {
                    found = true;
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    })?;
    Ok(found)
}

/// Re-simulates `file` from the start, collecting `watch`'s stream; stops at the first
/// divergence.
pub fn resimulate(file: &ReplayFile, watch: Option<&Who>) -> Result<SimRun, ToolError> {
    run(file, watch, None).map(|(run, _)| run)
}

/// The index of the record of `file`'s latest keyframe for a tick at or before `at_most`
/// (SimStart is record 0), and that tick. Keeps no keyframe; stops reading at the first tick
/// past `at_most`.
pub fn find_keyframe(file: &ReplayFile, at_most: u32) -> Result<Option<(u64, u32)>, ToolError> {
    let mut best = None;
    let mut index = 0u64;
    scan(file, true, "finding a keyframe", |record, _| {
        match record {
            Record::SimKeyframe(k) if k.tick <= at_most => best = Some((index, k.tick)),
            Record::SimTick(t) if t.tick > at_most => return Ok(Flow::Stop),
            _ => {}
        }
        index += 1;
        Ok(Flow::Continue)
    })?;
    Ok(best)
}

/// Re-simulates `file` to its end (or its first divergence), starting from the latest
/// keyframe at or before tick `seek` (or from the start), returning the simulation.
/// What a re-simulation gathers tick by tick for its [`SimRun`].
#[derive(Default)]
struct Tally {
    hasher: StableHasher,
    hashes: Vec<u64>,
    ticks: Option<(u32, u32)>,
    divergence: Option<Divergence>,
    peak_players: usize,
}

impl Tally {
    /// Notes what applying one record did; a divergence stops the run.
    fn take(&mut self, step: Step, resim: &Resim) -> Flow {
        match step {
            Step::Applied => {}
            Step::Ticked { tick, world_hash } => {
                self.peak_players = self.peak_players.max(resim.world().players.len());
                self.hasher.write_u32(tick);
                self.hasher.write_u64(world_hash);
                self.hashes.push(world_hash);
                self.ticks = Some(self.ticks.map_or((tick, tick), |(a, _)| (a, tick)));
            }
            Step::Diverged(d) => {
                self.divergence = Some(d);
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// The run's summary, with the re-simulator it ended in.
    fn into_run(
        self,
        resim: &Resim,
        from_keyframe: Option<u32>,
        stream: Vec<StreamFrame>,
        tail: Tail,
    ) -> SimRun {
        SimRun {
            start: resim.start().clone(),
            counts: resim.counts(),
            ticks: self.ticks,
            digest: self.hasher.finish(),
            hashes: self.hashes,
            divergence: self.divergence,
            from_keyframe,
            stream,
            tail,
            peak_players: self.peak_players,
        }
    }
}

fn run(
    file: &ReplayFile,
    watch: Option<&Who>,
    seek: Option<u32>,
) -> Result<(SimRun, Resim), ToolError> {
    if !is_simulation(file)? {
        return Err(ToolError::Usage(format!(
            "{}: not a server simulation recording (made by `tilegame-server --record`)",
            file.path.display()
        )));
    }
    let watch = match watch {
        None => None,
        Some(Who::Id(id)) => {
            if !player_joined(file, *id)? {
                return Err(ToolError::Usage(format!(
                    "{}: no player joined with id {id}",
                    file.path.display()
                )));
            }
            Some(*id)
        }
        Some(Who::Name(name)) => Some(find_player(file, name)?.ok_or_else(|| {
            ToolError::Usage(format!(
                "{}: no player joined as {name:?}",
                file.path.display()
            ))
        })?),
    };
    let keyframe = match seek {
        Some(tick) => find_keyframe(file, tick)?,
        None => None,
    };
    let format = file.reader(false)?.header().format_version;
    let from_keyframe = keyframe.map(|(_, tick)| tick);
    let mut resim: Option<Resim> = None;
    let mut start: Option<SimStart> = None;
    let mut index = 0u64;
    let mut tally = Tally::default();
    let tail = scan(file, true, "re-simulating", |record, offset| {
        let error = |source| ToolError::Resim {
            path: file.path.clone(),
            offset,
            source,
        };
        let at = index;
        index += 1;
        let Some(r) = resim.as_mut() else {
            let Some(s) = &start else {
                let Record::SimStart(s) = record else {
                    return Err(error(tilegame_sim::resim::ResimError::NoStart(
                        tilegame_sim::resim::record_name(record),
                    )));
                };
                start = Some(s.clone());
                if keyframe.is_none() {
                    let mut r = Resim::new(s).map_err(error)?;
                    r.set_format(format);
                    match watch {
                        Some(id) => r.watch(PlayerId(id)),
                        // Hashes only: no snapshots to build.
                        None => r.set_replicate(false),
                    }
                    resim = Some(r);
                }
                return Ok(Flow::Continue);
            };
            // Seeking: the records before the keyframe are skipped, the loop restored from it.
            if let (Some((k_index, _)), Record::SimKeyframe(k)) = (keyframe, record) {
                if at == k_index {
                    let mut r = Resim::from_keyframe(s, k).map_err(error)?;
                    r.set_format(format);
                    match watch {
                        Some(id) => r.watch(PlayerId(id)),
                        None => r.set_replicate(false),
                    }
                    resim = Some(r);
                }
            }
            return Ok(Flow::Continue);
        };
        let step = r.apply(record).map_err(error)?;
        Ok(tally.take(step, r))
    })?;
    let Some(mut r) = resim else {
        return Err(ToolError::Usage(format!(
            "{}: the recording has no SimStart record",
            file.path.display()
        )));
    };
    let stream = r.take_stream();
    Ok((tally.into_run(&r, from_keyframe, stream, tail), r))
}

/// `play --until T` on a simulation recording: re-simulates from the nearest keyframe at or
/// before T (found by bisecting the file, [`crate::sim_seek`]; or from the start) to the end
/// of tick T and shows the authoritative world there.
pub fn play(
    file: &ReplayFile,
    until: u32,
    print_state: bool,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    if !is_simulation(file)? {
        return Err(ToolError::Usage(format!(
            "{}: not a server simulation recording (made by `tilegame-server --record`)",
            file.path.display()
        )));
    }
    let mut seeked = crate::sim_seek::seek(file, until)?;
    // The hash as the recording's SimTick records it (its format's definition).
    let world_hash = seeked.resim.world_hash();
    let from = seeked.keyframe.map_or("the start".to_owned(), |k| {
        format!("the keyframe of tick {k}")
    });
    let resim = &seeked.resim;
    if let Some(d) = &seeked.diverged {
        writeln!(
            out,
            "DIVERGED {d}
  (the state shown is the re-simulation's)"
        )?;
    }
    let world = resim.world();
    if print_state {
        let players: Vec<&tilegame_game::Player> = world.players.values().collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "tick": world.tick,
            "world_hash": format!("{world_hash:#018x}"),
            "players": players,
        }))
        .unwrap_or_default();
        writeln!(out, "{text}")?;
    } else {
        writeln!(
            out,
            "tick {} (asked {until}; re-simulated from {from}): world {:#018x}, {} players",
            world.tick,
            world_hash,
            world.players.len()
        )?;
        for p in world.players.values() {
            writeln!(
                out,
                "  player {} {:?}: at ({}, {}) px, health {}{}, last input {}",
                p.id.0,
                p.name,
                p.motion.x.div_euclid(tilegame_game::SUBPX),
                p.motion.y.div_euclid(tilegame_game::SUBPX),
                p.health,
                if p.alive { "" } else { " (dead)" },
                p.last_input_seq
            )?;
        }
    }
    Ok(if seeked.diverged.is_some() {
        EXIT_DIVERGED
    } else {
        0
    })
}

/// `verify` on a simulation recording; a throughput line follows the report unless
/// `no_timing` (it reads the wall clock, so it differs between runs).
pub fn verify(file: &ReplayFile, no_timing: bool, out: &mut dyn Write) -> Result<u8, ToolError> {
    let started = web_time::Instant::now();
    let run = resimulate(file, None)?;
    let elapsed = started.elapsed();
    write!(out, "{}", run.render())?;
    if !no_timing {
        writeln!(out, "{}", run.throughput(file.len(), elapsed))?;
    }
    Ok(run.exit_code())
}

/// A packet kind's name from its play-state frame bytes (id and body).
fn kind(bytes: &[u8]) -> String {
    match bytes.split_first() {
        Some((id, body)) => play::ToClient::decode(*id, body)
            .map_or_else(|_| format!("id {id:#04x}"), |p| p.name().to_owned()),
        None => "empty".to_owned(),
    }
}

/// `derive`: prints the play-state stream the simulation pushed for one player; with `from`,
/// only the frames pushed from tick `from` on, re-simulated from the nearest keyframe before it.
pub fn derive(
    file: &ReplayFile,
    who: &Who,
    from: Option<u32>,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let run = derive_run(file, who, from)?;
    if let Some(k) = run.from_keyframe {
        writeln!(out, "(re-simulated from the keyframe of tick {k})")?;
    }
    for f in &run.stream {
        writeln!(
            out,
            "tick {:>6}  {:<13} {:>6} B",
            f.tick,
            kind(&f.bytes),
            f.bytes.len().saturating_sub(1)
        )?;
    }
    writeln!(
        out,
        "{} frames pushed for player {}",
        thousands(run.stream.len() as u64),
        match who {
            Who::Id(id) => id.to_string(),
            Who::Name(n) => format!("{n:?}"),
        }
    )?;
    if let Some(d) = &run.divergence {
        writeln!(out, "DIVERGED {d}\n  (the stream stops there)")?;
    }
    Ok(run.exit_code())
}

/// Re-simulates for `derive`: the whole stream, or with `from` the frames pushed from tick
/// `from` on (the frames a keyframe of tick K is followed by were pushed at tick K or later, so
/// the keyframe before `from` is the one to start at).
///
/// With `from`, the keyframe is found by bisecting the file ([`crate::sim_seek::locate`]) and
/// nothing before it is read: a player named by id or name is the one in the keyframe's world
/// (else the next to join with it), and the run's ticks, hashes and digest cover the ticks
/// after the keyframe. Only a player found neither there nor later costs a search from the
/// start (to tell a player who had left from one who never joined).
pub fn derive_run(file: &ReplayFile, who: &Who, from: Option<u32>) -> Result<SimRun, ToolError> {
    let Some(seek) = from.and_then(|t| t.checked_sub(1)) else {
        return run(file, Some(who), None).map(|(run, _)| run);
    };
    if !is_simulation(file)? {
        return Err(ToolError::Usage(format!(
            "{}: not a server simulation recording (made by `tilegame-server --record`)",
            file.path.display()
        )));
    }
    let crate::sim_seek::Located {
        mut resim,
        mut reader,
        keyframe,
        ..
    } = crate::sim_seek::locate(file, seek, true)?;
    let matches = |id: u32, name: &str| match who {
        Who::Id(w) => *w == id,
        Who::Name(n) => n == name,
    };
    let mut watching = resim
        .world()
        .players
        .values()
        .find(|p| matches(p.id.0, &p.name))
        .map(|p| p.id.0);
    if let Some(id) = watching {
        resim.watch(PlayerId(id));
    }
    let mut tally = Tally::default();
    let tail = super::scan_from(
        file,
        &mut reader,
        Some(u64::from(resim.tick())),
        "re-simulating",
        |record, offset| {
            if watching.is_none() {
                if let Record::SimJoin(j) = record {
                    if let tilegame_protocol::replay_format::SimJoinResult::JoinedAs(a) = &j.result
                    {
                        if matches(a.player, &j.name) {
                            watching = Some(a.player);
                            resim.watch(PlayerId(a.player));
                        }
                    }
                }
            }
            let step = resim.apply(record).map_err(|source| ToolError::Resim {
                path: file.path.clone(),
                offset,
                source,
            })?;
            Ok(tally.take(step, &resim))
        },
    )?;
    if watching.is_none() {
        // Not there at the keyframe nor joining after it: one who left before, or no one.
        let known = match who {
            Who::Id(id) => player_joined(file, *id)?,
            Who::Name(name) => find_player(file, name)?.is_some(),
        };
        if !known {
            return Err(ToolError::Usage(match who {
                Who::Id(id) => format!("{}: no player joined with id {id}", file.path.display()),
                Who::Name(name) => {
                    format!("{}: no player joined as {name:?}", file.path.display())
                }
            }));
        }
    }
    let mut stream = resim.take_stream();
    if let Some(t) = from {
        stream.retain(|f| f.tick >= t);
    }
    Ok(tally.into_run(&resim, keyframe, stream, tail))
}

/// A client recording's frames that the simulation produces, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct ClientStream {
    /// The player's id (from its JoinAccepted).
    pub player: Option<u32>,
    /// Its name (from the file header).
    pub name: String,
    /// The name it asked to join with (from its JoinRequest).
    pub joined_as: Option<String>,
    /// The world's seed and size (from its MapBegin).
    pub world: Option<(String, u16, u16)>,
    /// Play-state frames to the client that the simulation pushes (id and body, and the tick
    /// the client recorded).
    pub frames: Vec<(u32, Vec<u8>)>,
    /// Frames to the client left out of the comparison, by packet kind (sent by the connection
    /// itself: handshake, login, map transfer, Pong, ChatRefused).
    pub excluded: BTreeMap<String, u64>,
    /// How the file ended.
    pub tail: Tail,
}

/// Packets the simulation pushes into a player's outbox (and the kicks it decides). A
/// ChatRefused, like a Pong, comes from the connection itself.
fn simulation_made(id: u8) -> bool {
    id == play::Snapshot::ID
        || id == play::PlayerJoined::ID
        || id == play::PlayerLeft::ID
        || id == play::Chat::ID
        || id == v1::Kick::ID
}

/// Reads a connection recording's stream from the server.
pub fn client_stream(file: &ReplayFile) -> Result<ClientStream, ToolError> {
    let mut s = ClientStream {
        name: file.reader(false)?.header().player_name.clone(),
        ..ClientStream::default()
    };
    s.tail = scan(file, true, "reading", |record, _| {
        let Record::Frame(f) = record else {
            return Ok(Flow::Continue);
        };
        if f.direction != FrameDirection::ToClient {
            if let Ok(AnyPacket::LoginToServer(login::ToServer::JoinRequest(r))) =
                packets::decode(f)
            {
                s.joined_as.get_or_insert(r.name);
            }
            return Ok(Flow::Continue);
        }
        if f.state == State::Play.tag() && simulation_made(f.packet_id) {
            s.frames.push((f.tick, f.bytes.clone()));
            return Ok(Flow::Continue);
        }
        let name = match packets::decode(f) {
            Ok(AnyPacket::LoginToClient(login::ToClient::JoinAccepted(a))) => {
                s.player.get_or_insert(a.player_id);
                "JoinAccepted".to_owned()
            }
            Ok(AnyPacket::MapTransferToClient(map_transfer::ToClient::MapBegin(b))) => {
                s.world.get_or_insert((b.seed, b.width, b.height));
                "MapBegin".to_owned()
            }
            Ok(p) => p.name().to_owned(),
            Err(_) => format!("undecodable id {:#04x}", f.packet_id),
        };
        *s.excluded.entry(name).or_default() += 1;
        Ok(Flow::Continue)
    })?;
    Ok(s)
}

/// How a player's recording compares with the stream re-derived for it.
#[derive(Debug, Clone)]
pub struct StreamDiff {
    /// The player.
    pub player: u32,
    /// Its name.
    pub name: String,
    /// Frames compared (equal up to the first difference).
    pub compared: u64,
    /// Frames the simulation pushed.
    pub derived: u64,
    /// Frames the client recorded (of the kinds the simulation makes).
    pub received: u64,
    /// The first difference: (frame index, line describing it).
    pub difference: Option<(u64, String)>,
    /// Derived frames beyond the end of the client's recording, with their first tick.
    pub unreceived: Option<(u64, u32)>,
    /// A last Kick the connection sent by itself (not decided by the simulation).
    pub session_kick: bool,
    /// Frames excluded from the comparison, by kind.
    pub excluded: BTreeMap<String, u64>,
    /// The re-simulation's own divergence, if any.
    pub divergence: Option<Divergence>,
    /// How the client's recording ended.
    pub client_tail: Tail,
}

impl StreamDiff {
    /// 0 when every compared frame is equal, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.difference.is_some() || self.divergence.is_some() {
            EXIT_DIVERGED
        } else {
            0
        }
    }

    /// The report `diff` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        match &self.difference {
            None => s += &format!(
                "identical: player {} ({:?}) received {} frames, each byte for byte the one the simulation pushed for it\n",
                self.player,
                self.name,
                thousands(self.compared)
            ),
            Some((index, line)) => s += &format!(
                "DIFFERENT at frame {index} of player {} ({:?}) ({} equal before it): {line}\n",
                self.player,
                self.name,
                thousands(self.compared)
            ),
        }
        s += &format!(
            "  compared: Snapshot, PlayerJoined, PlayerLeft and Kick frames in play ({} derived, {} received)\n",
            thousands(self.derived),
            thousands(self.received)
        );
        if let Some((n, tick)) = self.unreceived {
            s += &format!(
                "  {} frame(s) pushed from tick {tick} on are not in the player's recording (it ended {})\n",
                thousands(n),
                self.client_tail.describe()
            );
        }
        if self.session_kick {
            s += "  the last Kick was sent by the connection itself (not the simulation): not compared\n";
        }
        if !self.excluded.is_empty() {
            let kinds: Vec<String> = self
                .excluded
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            s += &format!(
                "  excluded (sent by the connection, not the simulation): {}\n",
                kinds.join(", ")
            );
        }
        if let Some(d) = &self.divergence {
            s += &format!("  the re-simulation DIVERGED {d}\n");
        }
        s
    }
}

/// Compares a connection recording with the stream re-derived for its player.
pub fn diff_stream(sim: &ReplayFile, client: &ReplayFile) -> Result<StreamDiff, ToolError> {
    let c = client_stream(client)?;
    let player = c.player.ok_or_else(|| {
        ToolError::Usage(format!(
            "{}: no JoinAccepted in the recording: its player never joined",
            client.path.display()
        ))
    })?;
    // The same session: the same world, and the simulation's player of that id joined with
    // the same name.
    if let Some((seed, width, height)) = &c.world {
        let start = match sim.reader(true)?.next() {
            Some(Record::SimStart(s)) => s,
            _ => {
                return Err(ToolError::Usage(format!(
                    "{}: the recording has no SimStart record",
                    sim.path.display()
                )))
            }
        };
        if (&start.seed, start.width, start.height) != (seed, *width, *height) {
            return Err(ToolError::Usage(format!(
                "{} played seed {seed:?} ({width}x{height}), {} simulated seed {:?} ({}x{}): not the same session",
                client.path.display(),
                sim.path.display(),
                start.seed,
                start.width,
                start.height
            )));
        }
    }
    if let Some(asked) = &c.joined_as {
        let mut recorded = None;
        scan(sim, true, "search", |record, _| {
            if let Record::SimJoin(j) = record {
                if let tilegame_protocol::replay_format::SimJoinResult::JoinedAs(a) = &j.result {
                    if a.player == player {
                        recorded = Some(j.name.clone());
                        return Ok(Flow::Stop);
                    }
                }
            }
            Ok(Flow::Continue)
        })?;
        if recorded.as_ref() != Some(asked) {
            return Err(ToolError::Usage(format!(
                "{} joined as {asked:?} and was given player id {player}, but in {} player {player} {}: not the same session",
                client.path.display(),
                sim.path.display(),
                recorded.map_or("never joined".to_owned(), |n| format!("joined as {n:?}"))
            )));
        }
    }
    let run = resimulate(sim, Some(&Who::Id(player)))?;
    let derived = &run.stream;
    let mut received = c.frames.as_slice();
    // A Kick the simulation did not decide (a timeout, a protocol error) is the connection's.
    let mut session_kick = false;
    let kicked_by_sim = derived
        .last()
        .is_some_and(|f| f.bytes.first() == Some(&v1::Kick::ID));
    if let Some(((_, last), rest)) = received.split_last() {
        if last.first() == Some(&v1::Kick::ID) && !kicked_by_sim && rest.len() <= derived.len() {
            session_kick = true;
            received = rest;
        }
    }
    let mut difference = None;
    let mut compared = 0u64;
    for (i, ((tick, got), want)) in received.iter().zip(derived).enumerate() {
        if *got != want.bytes {
            let at = got
                .iter()
                .zip(&want.bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.bytes.len()));
            difference = Some((
                i as u64,
                format!(
                    "received {} ({} B, client tick {tick}), derived {} ({} B, pushed at tick {}); first differing byte {at}",
                    kind(got),
                    got.len(),
                    kind(&want.bytes),
                    want.bytes.len(),
                    want.tick
                ),
            ));
            break;
        }
        compared += 1;
    }
    if difference.is_none() && received.len() > derived.len() {
        let (tick, extra) = &received[derived.len()];
        difference = Some((
            derived.len() as u64,
            format!(
                "the client received {} more frames than the simulation pushed, from {} (client tick {tick})",
                received.len() - derived.len(),
                kind(extra)
            ),
        ));
    }
    let unreceived = (difference.is_none() && derived.len() > received.len()).then(|| {
        (
            (derived.len() - received.len()) as u64,
            derived[received.len()].tick,
        )
    });
    Ok(StreamDiff {
        player,
        name: c.name,
        compared,
        derived: derived.len() as u64,
        received: received.len() as u64,
        difference,
        unreceived,
        session_kick,
        excluded: c.excluded,
        divergence: run.divergence,
        client_tail: c.tail,
    })
}

/// `diff` with a simulation recording on one side (either) and a connection's on the other.
pub fn run_diff(a: &ReplayFile, b: &ReplayFile, out: &mut dyn Write) -> Result<u8, ToolError> {
    let (sim, client) = match (is_simulation(a)?, is_simulation(b)?) {
        (true, false) => (a, b),
        (false, true) => (b, a),
        (true, true) => {
            return Err(ToolError::Usage(
                "two simulation recordings: verify each (their digests compare them)".into(),
            ))
        }
        (false, false) => {
            return Err(ToolError::Usage(
                "neither recording is a server simulation recording".into(),
            ))
        }
    };
    let d = diff_stream(sim, client)?;
    write!(out, "{}", d.render())?;
    Ok(d.exit_code())
}

/// Totals `info` shows for a simulation recording.
#[derive(Debug, Clone, Default)]
pub struct SimInfo {
    /// The settings.
    pub start: Option<SimStart>,
    /// Ticks recorded (first, last).
    pub ticks: Option<(u32, u32)>,
    /// SimTick records.
    pub tick_records: u64,
    /// Players in play summed over the ticks (for bytes per player-hour).
    pub player_ticks: u64,
    /// Players who joined, by id.
    pub players: BTreeMap<u32, String>,
    /// Joins refused.
    pub refused: u64,
    /// Inputs.
    pub inputs: u64,
    /// Leaves by reason.
    pub leaves: BTreeMap<String, u64>,
    /// Roster cuts.
    pub roster_cuts: u64,
    /// Drops by reason.
    pub drops: BTreeMap<String, u64>,
    /// Keyframes: how many, their ticks (first, last) and their encoded bytes in all.
    pub keyframes: (u64, Option<(u32, u32)>, u64),
    /// Ticks between keyframes (the file header's).
    pub keyframe_interval: u32,
    /// Whether the server shut down with a kick for everyone.
    pub kick_all: bool,
    /// How the file ended.
    pub tail: Tail,
}

fn reason_name(tag: u8) -> String {
    v1::DisconnectReason::from_tag(tag)
        .map_or_else(|| format!("reason {tag}"), |r| r.name().to_owned())
}

/// Reads the totals of a simulation recording.
pub fn gather(file: &ReplayFile) -> Result<SimInfo, ToolError> {
    let mut i = SimInfo {
        keyframe_interval: file.reader(false)?.header().keyframe_interval,
        ..SimInfo::default()
    };
    i.tail = scan(file, true, "info", |record, _| {
        match record {
            Record::SimStart(s) => i.start = Some(s.clone()),
            Record::SimJoin(j) => match &j.result {
                tilegame_protocol::replay_format::SimJoinResult::JoinedAs(a) => {
                    i.players.insert(a.player, j.name.clone());
                }
                _ => i.refused += 1,
            },
            Record::SimInput(_) => i.inputs += 1,
            Record::SimLeave(l) => *i.leaves.entry(reason_name(l.reason)).or_default() += 1,
            Record::SimRosterCut(_) => i.roster_cuts += 1,
            Record::SimDrop(d) => *i.drops.entry(reason_name(d.reason)).or_default() += 1,
            Record::SimTick(t) => {
                i.tick_records += 1;
                i.player_ticks += t.players.len() as u64;
                i.ticks = Some(i.ticks.map_or((t.tick, t.tick), |(a, _)| (a, t.tick)));
            }
            Record::SimKickAll(_) => i.kick_all = true,
            Record::SimKeyframe(k) => {
                let (n, ticks, bytes) = &mut i.keyframes;
                *n += 1;
                *ticks = Some(ticks.map_or((k.tick, k.tick), |(a, _)| (a, k.tick)));
                let mut encoded = Vec::new();
                if tilegame_protocol::wire::encode_body(record, "Record", &mut encoded).is_ok() {
                    *bytes += encoded.len() as u64;
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    })?;
    Ok(i)
}

/// The body of `info` for a simulation recording (after the header lines).
pub fn info(file: &ReplayFile, out: &mut dyn Write) -> Result<u8, ToolError> {
    let i = gather(file)?;
    let counts = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "0".to_owned()
        } else {
            m.iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match &i.start {
        Some(s) => writeln!(out, "simulation: {}", describe_start(s))?,
        None => writeln!(out, "simulation: no SimStart record")?,
    }
    match i.ticks {
        Some((a, b)) => writeln!(
            out,
            "ticks:      {a}..{b} ({} ticks, each with its world and player hashes)",
            thousands(i.tick_records)
        )?,
        None => writeln!(out, "ticks:      none")?,
    }
    let names: Vec<String> = i
        .players
        .iter()
        .take(20)
        .map(|(id, n)| format!("{id} {n}"))
        .collect();
    writeln!(
        out,
        "players:    {} joined ({}{}), {} joins refused",
        i.players.len(),
        if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(", ")
        },
        if i.players.len() > 20 { ", …" } else { "" },
        i.refused
    )?;
    writeln!(out, "inputs:     {}", thousands(i.inputs))?;
    let rate = i.start.as_ref().map_or(0, |s| s.tick_rate);
    let player_hours = i.player_ticks as f64 / (f64::from(rate.max(1)) * 3600.0);
    writeln!(
        out,
        "size:       file {} B; {} player-ticks ({:.2} player-hours at {rate} ticks/s){}",
        thousands(file.len()),
        thousands(i.player_ticks),
        player_hours,
        if i.player_ticks == 0 || rate == 0 {
            String::new()
        } else {
            format!(
                ": {} B per player-hour",
                thousands((file.len() as f64 / player_hours) as u64)
            )
        }
    )?;
    writeln!(out, "leaves:     {}", counts(&i.leaves))?;
    writeln!(
        out,
        "i/o:        {} roster cuts, drops: {}",
        i.roster_cuts,
        counts(&i.drops)
    )?;
    match i.keyframes {
        (n, Some((a, b)), bytes) => writeln!(
            out,
            "keyframes:  {n} (every {} ticks, ticks {a}..{b}; {} B each on average): seeking re-simulates from the nearest",
            i.keyframe_interval,
            thousands(bytes / n.max(1))
        )?,
        _ if i.keyframe_interval == 0 => writeln!(
            out,
            "keyframes:  none (recorded without them; re-simulation starts from SimStart)"
        )?,
        _ => writeln!(
            out,
            "keyframes:  none yet (one every {} ticks; re-simulation starts from SimStart)",
            i.keyframe_interval
        )?,
    }
    if i.kick_all {
        writeln!(out, "shutdown:   everyone kicked")?;
    }
    writeln!(out, "ended:      {}", i.tail.describe())?;
    Ok(0)
}

/// One record of a simulation recording on one line (`dump`).
pub fn describe_record(r: &Record) -> String {
    use tilegame_protocol::replay_format::{SimAction, SimJoinResult};
    match r {
        Record::SimStart(s) => format!("start  {}", describe_start(s)),
        Record::SimJoin(j) => {
            let result = match &j.result {
                SimJoinResult::JoinedAs(a) => format!("player {}", a.player),
                SimJoinResult::JoinRefused(r) => format!(
                    "refused ({})",
                    v1::JoinError::from_tag(r.reason).map_or("unknown", |e| e.name())
                ),
            };
            format!(
                "join   {:?} colour {:#08x} -> {result}{}",
                j.name,
                j.color,
                if j.vanished {
                    ", connection vanished: removed at once"
                } else {
                    ""
                }
            )
        }
        Record::SimInput(i) => {
            let action = match &i.action {
                SimAction::NoAction => "none".to_owned(),
                SimAction::BreakTile(b) => format!("break ({}, {})", b.x, b.y),
                SimAction::Respawn => "respawn".to_owned(),
            };
            let item = match i.item {
                0 => "shovel".to_owned(),
                1 => "gun".to_owned(),
                other => format!("{other} (unknown)"),
            };
            format!(
                "input  player {} seq {} move ({}, {}) item {item} action {action}",
                i.player, i.seq, i.move_x, i.move_y
            )
        }
        Record::SimLeave(l) => format!("leave  player {} ({})", l.player, reason_name(l.reason)),
        Record::SimChat(c) => format!("chat   player {}: {:?}", c.player, c.text),
        Record::SimRosterCut(c) => format!(
            "i/o    player {}: room for {} join/leave events this tick",
            c.player, c.sent
        ),
        Record::SimDrop(d) => format!(
            "i/o    player {} dropped ({}){}",
            d.player,
            reason_name(d.reason),
            d.kick
                .as_ref()
                .map_or(String::new(), |k| format!(", kicked: {k:?}"))
        ),
        Record::SimTick(t) => format!(
            "tick   {} world {:#018x}, {} players",
            t.tick,
            t.world_hash,
            t.players.len()
        ),
        Record::SimKeyframe(k) => format!(
            "key    tick {}: world {:#018x}, {} players, {} tiles changed, next id {}",
            k.tick,
            k.state.world_hash,
            k.state.players.len(),
            k.state
                .changed
                .iter()
                .map(|r| u64::from(r.count))
                .sum::<u64>(),
            k.state.next_id
        ),
        Record::SimKickAll(k) => format!(
            "kick   everyone ({}): {:?}",
            reason_name(k.reason),
            k.message
        ),
        Record::End(e) => format!("end    {:?}", e.reason),
        other => format!(
            "{} (not a simulation record)",
            tilegame_sim::resim::record_name(other)
        ),
    }
}

/// `dump` on a simulation recording: every record, with the tick it belongs to (commands and
/// I/O outcomes belong to the tick that follows them), within `from..=to`, at most `limit`.
pub fn dump(
    file: &ReplayFile,
    from: Option<u32>,
    to: Option<u32>,
    limit: Option<usize>,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let mut tick = 0u32;
    let mut shown = 0usize;
    let mut output = Ok(());
    scan(file, true, "dump", |record, _| {
        // Commands before a SimTick belong to that tick.
        let this = match record {
            Record::SimTick(t) => t.tick,
            Record::SimKeyframe(k) => k.tick,
            _ => tick.saturating_add(1),
        };
        if let Record::SimTick(t) = record {
            tick = t.tick;
        }
        if to.is_some_and(|t| this > t) || limit.is_some_and(|l| shown >= l) {
            return Ok(Flow::Stop);
        }
        if from.is_none_or(|f| this >= f) {
            shown += 1;
            if let Err(e) = writeln!(out, "{this:>7}  {}", describe_record(record)) {
                output = Err(e);
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    })?;
    output?;
    Ok(0)
}

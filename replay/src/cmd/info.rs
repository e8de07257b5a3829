//! `info`: what a recording holds, at a glance, without replaying it.
//!
//! Answers "what is this file?" before anyone digs in: who recorded it and with what, when,
//! for how long, which ticks, how many frames and bytes each way, who played, how many
//! keyframes, and whether it ended cleanly or was cut (and where).

use std::collections::BTreeSet;
use std::io::Write;

use tilegame_protocol::replay_format::{FrameDirection, Record, Recorder};
use tilegame_protocol::v1::{login, map_transfer, play};

use super::{scan, Flow, Tail};
use crate::engine::next_snapshot_tick;
use crate::packets::{self, AnyPacket};
use crate::tool::{thousands, utc_date, ReplayFile, ToolError};

/// Per-direction totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirTotals {
    /// Frames.
    pub frames: u64,
    /// Bytes on the wire (framing included).
    pub wire: u64,
    /// Packet body bytes.
    pub payload: u64,
}

/// What `info` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// Frames to the client.
    pub inbound: DirTotals,
    /// Frames to the server.
    pub outbound: DirTotals,
    /// First and last snapshot tick.
    pub ticks: Option<(u32, u32)>,
    /// Snapshots.
    pub snapshots: u64,
    /// Tick hashes.
    pub tick_hashes: u64,
    /// Keyframe ticks.
    pub keyframes: Vec<u32>,
    /// Format 1 keyframes (JSON; not used for seeking).
    pub legacy_keyframes: u64,
    /// Latest recorded microseconds.
    pub micros: u64,
    /// Every player name seen (listed in natural order by `info`).
    pub players: BTreeSet<String>,
    /// How the file ended.
    pub tail: Tail,
}

/// Reads `file` and gathers its [`Info`].
pub fn gather(file: &ReplayFile) -> Result<Info, ToolError> {
    let mut info = Info {
        inbound: DirTotals::default(),
        outbound: DirTotals::default(),
        ticks: None,
        snapshots: 0,
        tick_hashes: 0,
        keyframes: Vec::new(),
        legacy_keyframes: 0,
        micros: 0,
        players: BTreeSet::new(),
        tail: Tail::Unfinished { offset: 0 },
    };
    info.tail = scan(file, true, "info", |record, _| {
        match record {
            Record::Frame(f) => {
                let d = match f.direction {
                    FrameDirection::ToClient => &mut info.inbound,
                    FrameDirection::ToServer => &mut info.outbound,
                };
                d.frames += 1;
                d.wire += u64::from(f.wire_bytes);
                d.payload += u64::from(f.payload_bytes);
                info.micros = info.micros.max(f.micros);
                if let Some(t) = next_snapshot_tick(f) {
                    info.snapshots += 1;
                    info.ticks = Some(info.ticks.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                }
                collect_names(&packets::decode(f).ok(), &mut info.players);
            }
            Record::TickHash(_) | Record::TickHashLow(_) => info.tick_hashes += 1,
            Record::Keyframe(k) => info.keyframes.push(k.tick),
            Record::LegacyKeyframe(_) => info.legacy_keyframes += 1,
            _ => {}
        }
        Ok(Flow::Continue)
    })?;
    Ok(info)
}

fn collect_names(packet: &Option<AnyPacket>, names: &mut BTreeSet<String>) {
    match packet {
        Some(AnyPacket::LoginToServer(login::ToServer::JoinRequest(r))) => {
            names.insert(r.name.clone());
        }
        Some(AnyPacket::MapTransferToClient(map_transfer::ToClient::MapEnd(e))) => {
            names.extend(e.players.iter().map(|p| p.name.clone()));
        }
        Some(AnyPacket::PlayToClient(play::ToClient::PlayerJoined(j))) => {
            names.insert(j.player.name.clone());
        }
        Some(AnyPacket::PlayToClient(play::ToClient::Snapshot(s))) => {
            names.extend(s.players.iter().filter_map(|d| d.name.clone()));
        }
        _ => {}
    }
}

/// Runs `info` on `file`, writing the report to `out`; returns the exit status.
pub fn run(file: &ReplayFile, out: &mut dyn Write) -> Result<u8, ToolError> {
    let reader = file.reader(false)?;
    let h = reader.header().clone();
    let protocol_ok = reader.check_protocol();
    writeln!(
        out,
        "file:       {} ({} bytes)",
        file.path.display(),
        thousands(file.len())
    )?;
    writeln!(out, "format:     v{}", h.format_version)?;
    let who = match h.recorder {
        Recorder::Client => "client",
        Recorder::Server => "server",
        Recorder::Simulation => "server simulation",
    };
    writeln!(out, "recorder:   {who} ({})", h.software)?;
    let holds = match h.recorder {
        Recorder::Client => {
            "every frame of the player's connection, its tick hashes and keyframes"
        }
        Recorder::Server => {
            "every frame of one connection as the server saw it (no tick hashes: verify replays the frames)"
        }
        Recorder::Simulation => {
            "the server's whole simulation: its settings, every command its loop applied, what its connections' I/O decided, the world and player hashes of every tick and periodic keyframes of the whole state (verify re-simulates it; play seeks through the keyframes; derive and diff re-derive any player's stream)"
        }
    };
    writeln!(out, "holds:      {holds}")?;
    if h.recorder != Recorder::Simulation {
        writeln!(out, "player:     {}", h.player_name)?;
    }
    writeln!(
        out,
        "protocol:   v{} hash {:#018x} ({})",
        h.protocol_version,
        h.protocol_hash,
        if protocol_ok.is_ok() {
            "this program's"
        } else {
            "NOT this program's"
        }
    )?;
    writeln!(out, "started:    {}", utc_date(h.start_unix_ms))?;
    if let Err(e) = protocol_ok {
        return Err(file.file_error(e));
    }
    if h.recorder == Recorder::Simulation {
        return super::sim::info(file, out);
    }
    let info = gather(file)?;
    writeln!(
        out,
        "duration:   {:.3} s (recorded clock)",
        info.micros as f64 / 1e6
    )?;
    match info.ticks {
        Some((a, b)) => writeln!(
            out,
            "ticks:      {a}..{b} ({} snapshots, {} tick hashes)",
            info.snapshots, info.tick_hashes
        )?,
        None => writeln!(out, "ticks:      none (no snapshots)")?,
    }
    for (label, d) in [("in ", info.inbound), ("out", info.outbound)] {
        writeln!(
            out,
            "frames {label}: {:>8}   wire {:>12} B   payload {:>12} B",
            thousands(d.frames),
            thousands(d.wire),
            thousands(d.payload)
        )?;
    }
    let wire = info.inbound.wire + info.outbound.wire;
    writeln!(
        out,
        "size:       file {} B for {} wire B ({})",
        thousands(file.len()),
        thousands(wire),
        if wire == 0 {
            "no frames".to_owned()
        } else {
            format!(
                "{:.2}x the traffic it records",
                file.len() as f64 / wire as f64
            )
        }
    )?;
    // In natural order (player2 before player10), as the viewer lists them.
    let mut names: Vec<&str> = info.players.iter().map(String::as_str).collect();
    names.sort_by(|a, b| crate::state::natural_cmp(a, b));
    writeln!(
        out,
        "players:    {} ({})",
        names.len(),
        if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(", ")
        }
    )?;
    let interval = if h.keyframe_interval == 0 {
        "none configured".to_owned()
    } else {
        format!("every {} ticks", h.keyframe_interval)
    };
    let mut ticks: Vec<String> = info.keyframes.iter().take(12).map(u32::to_string).collect();
    if info.keyframes.len() > 12 {
        ticks.push("…".to_owned());
    }
    writeln!(
        out,
        "keyframes:  {} ({interval}){}",
        info.keyframes.len(),
        if ticks.is_empty() {
            String::new()
        } else {
            format!(" at ticks {}", ticks.join(", "))
        }
    )?;
    if info.legacy_keyframes > 0 {
        writeln!(
            out,
            "            {} format 1 keyframes (JSON), not used for seeking",
            info.legacy_keyframes
        )?;
    }
    writeln!(out, "ended:      {}", info.tail.describe())?;
    Ok(0)
}

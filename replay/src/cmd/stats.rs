//! `stats`: where the bytes went, per packet kind and direction and over time.
//!
//! Bandwidth questions ("what dominates the traffic?", "how many kB/min does a player cost?")
//! need exact per-kind totals, rates in the same units the client's HUD shows (kB = 1000 B,
//! MB = 10^6 B), the biggest frames, and the shape of the traffic over the session. Time comes
//! from the recorded microseconds only, so the output is the same on every run.
//! `--plot` draws bytes per second per packet kind and direction over the session, with the
//! keyframes and joins marked ([`super::plot`]).

use std::collections::BTreeMap;
use std::io::Write;

use tilegame_protocol::replay_format::Record;

use super::{scan, Flow, Tail};
use crate::packets::{self, AnyPacket};
use crate::tool::{thousands, ReplayFile, ToolError};
use tilegame_protocol::v1::{login, play};

/// Totals of one packet kind in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindTotals {
    /// Frames.
    pub count: u64,
    /// Wire bytes.
    pub wire: u64,
    /// Payload bytes.
    pub payload: u64,
}

impl KindTotals {
    fn add(&mut self, wire: u32, payload: u32) {
        self.count += 1;
        self.wire += u64::from(wire);
        self.payload += u64::from(payload);
    }
}

/// A frame among the biggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigFrame {
    /// Sequence number.
    pub seq: u64,
    /// Wire bytes.
    pub wire: u32,
    /// Direction label.
    pub dir: &'static str,
    /// Packet name.
    pub name: String,
    /// Recorded tick.
    pub tick: u32,
    /// Recorded microseconds.
    pub micros: u64,
}

/// Everything `stats` computes.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Per (direction label, packet name).
    pub kinds: BTreeMap<(&'static str, String), KindTotals>,
    /// Per direction label.
    pub dirs: BTreeMap<&'static str, KindTotals>,
    /// The biggest frames by wire bytes (ties: earlier first).
    pub biggest: Vec<BigFrame>,
    /// Wire bytes (both directions) per recorded second.
    pub per_second: Vec<u64>,
    /// Per (direction label, packet name): wire bytes per recorded second (sparse).
    pub series: BTreeMap<(&'static str, String), BTreeMap<u64, u64>>,
    /// Recorded microseconds of each keyframe.
    pub keyframes: Vec<u64>,
    /// Recorded microseconds of each join: the recorder's own, and other players'.
    pub joins: Vec<(u64, String)>,
    /// Latest recorded microseconds.
    pub micros: u64,
}

/// How many of the biggest frames are listed.
pub const BIGGEST: usize = 5;

/// Widest sparkline, in columns.
pub const SPARK_WIDTH: usize = 60;

/// Gathers the statistics of `file`.
pub fn gather(file: &ReplayFile) -> Result<(Stats, Tail), ToolError> {
    let mut s = Stats::default();
    let tail = scan(file, true, "stats", |record, _| {
        let f = match record {
            Record::Frame(f) => f,
            Record::Keyframe(_) => {
                s.keyframes.push(s.micros);
                return Ok(Flow::Continue);
            }
            _ => return Ok(Flow::Continue),
        };
        let dir = packets::dir_label(f.direction);
        let decoded = packets::decode(f);
        let name = match &decoded {
            Ok(p) => p.name().to_owned(),
            Err(_) => format!("?{:#04x}", f.packet_id),
        };
        match &decoded {
            Ok(AnyPacket::LoginToClient(login::ToClient::JoinAccepted(_))) => {
                s.joins.push((f.micros, "join".to_owned()));
            }
            Ok(AnyPacket::PlayToClient(play::ToClient::PlayerJoined(j))) => {
                s.joins.push((f.micros, j.player.name.clone()));
            }
            _ => {}
        }
        *s.series
            .entry((dir, name.clone()))
            .or_default()
            .entry(f.micros / 1_000_000)
            .or_default() += u64::from(f.wire_bytes);
        s.dirs
            .entry(dir)
            .or_default()
            .add(f.wire_bytes, f.payload_bytes);
        s.biggest.push(BigFrame {
            seq: f.seq,
            wire: f.wire_bytes,
            dir,
            name: name.clone(),
            tick: f.tick,
            micros: f.micros,
        });
        s.biggest
            .sort_by(|a, b| b.wire.cmp(&a.wire).then(a.seq.cmp(&b.seq)));
        s.biggest.truncate(BIGGEST);
        s.kinds
            .entry((dir, name))
            .or_default()
            .add(f.wire_bytes, f.payload_bytes);
        let second = usize::try_from(f.micros / 1_000_000).unwrap_or(usize::MAX);
        if second < 1 << 20 {
            if s.per_second.len() <= second {
                s.per_second.resize(second + 1, 0);
            }
            s.per_second[second] += u64::from(f.wire_bytes);
        }
        s.micros = s.micros.max(f.micros);
        Ok(Flow::Continue)
    })?;
    Ok((s, tail))
}

/// A sparkline of `values` in at most `width` columns (each column sums whole buckets);
/// returns the line and the number of buckets per column.
pub fn sparkline(values: &[u64], width: usize) -> (String, usize) {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return (String::new(), 1);
    }
    let per = values.len().div_ceil(width);
    let columns: Vec<u64> = values.chunks(per).map(|c| c.iter().sum()).collect();
    let max = columns.iter().copied().max().unwrap_or(0);
    let line = columns
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                ' '
            } else {
                let level = (v * 8).div_ceil(max).clamp(1, 8) as usize;
                BLOCKS[level - 1]
            }
        })
        .collect();
    (line, per)
}

/// Runs `stats` on `file`; with `plot`, also draws the traffic into that PNG or SVG file.
pub fn run(
    file: &ReplayFile,
    plot: Option<&std::path::Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ToolError> {
    let (s, tail) = gather(file)?;
    let secs = s.micros as f64 / 1e6;
    writeln!(
        out,
        "{:<3} {:<16} {:>8} {:>12} {:>12} {:>10} {:>7} {:>10}",
        "dir", "packet", "count", "wire B", "payload B", "avg wire", "share", "wire B/s"
    )?;
    let mut all = KindTotals::default();
    for t in s.dirs.values() {
        all.count += t.count;
        all.wire += t.wire;
        all.payload += t.payload;
    }
    for dir in ["in", "out"] {
        let dir_total = s.dirs.get(dir).copied().unwrap_or_default();
        for ((d, name), t) in s.kinds.iter().filter(|((d, _), _)| *d == dir) {
            row(out, d, name, t, dir_total.wire, secs)?;
        }
        if s.dirs.contains_key(dir) {
            row(out, dir, "(total)", &dir_total, all.wire, secs)?;
        }
    }
    row(out, "all", "(total)", &all, all.wire, secs)?;
    writeln!(
        out,
        "share: of the direction's wire bytes (totals: of all); wire B/s over the whole recording"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "duration: {secs:.3} s (recorded clock); rates from wire bytes, kB = 1000 B, MB = 10^6 B"
    )?;
    for dir in ["in", "out"] {
        let wire = s.dirs.get(dir).map_or(0, |t| t.wire);
        let frames = s.dirs.get(dir).map_or(0, |t| t.count);
        let (per_s, frames_s) = if secs > 0.0 {
            (wire as f64 / secs, frames as f64 / secs)
        } else {
            (0.0, 0.0)
        };
        writeln!(
            out,
            "{dir:<3}  {:>9.3} kB/s  {:>10.2} kB/min  {:>8.1} frames/s  total {:.3} MB",
            per_s / 1000.0,
            per_s * 60.0 / 1000.0,
            frames_s,
            wire as f64 / 1e6
        )?;
    }
    writeln!(out)?;
    writeln!(out, "biggest frames:")?;
    for b in &s.biggest {
        writeln!(
            out,
            "  seq {:>6}  {:<3} {:<14} {:>8} B wire  tick {:>6}  at {:.3} s",
            b.seq,
            b.dir,
            b.name,
            thousands(u64::from(b.wire)),
            b.tick,
            b.micros as f64 / 1e6
        )?;
    }
    writeln!(out)?;
    let (line, per) = sparkline(&s.per_second, SPARK_WIDTH);
    let peak = s.per_second.iter().copied().max().unwrap_or(0);
    let peak_at = s.per_second.iter().position(|&v| v == peak).unwrap_or(0);
    writeln!(
        out,
        "wire bytes per second (in+out; one column = {per} s; peak {:.3} kB/s in second {peak_at}):",
        peak as f64 / 1000.0
    )?;
    writeln!(out, "  |{line}|")?;
    writeln!(
        out,
        "  0 s{:>width$}",
        format!("{} s", s.per_second.len()),
        width = line.chars().count().saturating_sub(1)
    )?;
    if let Some(path) = plot {
        #[cfg(feature = "cli")]
        super::plot::draw(&s, &file.path, path)?;
        #[cfg(not(feature = "cli"))]
        return Err(ToolError::Usage(format!(
            "cannot draw {}: built without the `cli` feature (plots)",
            path.display()
        )));
        #[cfg(feature = "cli")]
        writeln!(out, "plot: {}", path.display())?;
    }
    if let Tail::Cut { message, .. } = &tail {
        writeln!(err, "note: the file is cut: {message}")?;
    }
    Ok(0)
}

fn row(
    out: &mut dyn Write,
    dir: &str,
    name: &str,
    t: &KindTotals,
    of: u64,
    secs: f64,
) -> std::io::Result<()> {
    let avg = if t.count == 0 {
        0.0
    } else {
        t.wire as f64 / t.count as f64
    };
    let share = if of == 0 {
        0.0
    } else {
        t.wire as f64 * 100.0 / of as f64
    };
    let rate = if secs > 0.0 {
        t.wire as f64 / secs
    } else {
        0.0
    };
    writeln!(
        out,
        "{dir:<3} {name:<16} {:>8} {:>12} {:>12} {avg:>10.1} {share:>6.1}% {rate:>10.1}",
        thousands(t.count),
        thousands(t.wire),
        thousands(t.payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_merges() {
        let (line, per) = sparkline(&[0, 1, 8, 4], 10);
        assert_eq!((line.as_str(), per), (" ▁█▄", 1));
        let (line, per) = sparkline(&[1, 1, 2, 2, 4, 4], 3);
        assert_eq!((line.as_str(), per), ("▂▄█", 2));
        assert_eq!(sparkline(&[], 5).0, "");
    }
}

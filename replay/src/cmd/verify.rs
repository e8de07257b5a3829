//! `verify`: replays a recording through the engine and checks every recorded tick hash.
//!
//! This is the determinism check of the whole client: if the same frames through the same
//! decode and managers do not give the same hashes, something depends on more than its inputs.
//! On the first divergent tick it says which part diverged and, when the recording holds a
//! keyframe of that tick, exactly which tiles or which player's which field; asked to
//! (`--out DIR`), it writes the recorded and replayed states and a structured diff as JSON for
//! closer study. It writes nothing unless asked: the file may be untrusted, its folder another's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use web_time::Instant;

use serde::Serialize;
use tilegame_protocol::replay_format::{Record, Recorder};

use super::{scan, Flow, Tail};
use crate::engine::{Divergence, Engine, TickOutcome};
use crate::state::{StateDiff, StateHashes, StateView};
use crate::tool::{ReplayFile, ToolError, EXIT_DIVERGED};

/// Options of `verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Where to write the states on divergence (`None`: nothing is written; the input may be
    /// untrusted, its folder someone else's).
    pub out_dir: Option<PathBuf>,
    /// Leave out the (wall-clock) throughput line, for byte-identical output.
    pub no_timing: bool,
}

/// The first divergent tick, in detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DivergenceReport {
    /// The tick.
    pub tick: u32,
    /// `world`, `players` or `world and players`.
    pub parts: String,
    /// What the recorder hashed.
    pub expected: StateHashes,
    /// What the replay recomputed.
    pub replayed: StateHashes,
    /// The recorded state (from a keyframe of that tick), when there is one.
    pub recorded_state: Option<StateView>,
    /// The replayed state.
    pub replayed_state: Option<StateView>,
    /// Field-by-field differences, when the recorded state is known.
    pub diff: Option<StateDiff>,
    /// Files written.
    #[serde(skip)]
    pub written: Vec<PathBuf>,
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Who recorded the file.
    pub recorder: Recorder,
    /// Frames to the client and to the server.
    pub frames: (u64, u64),
    /// Snapshots applied.
    pub snapshots: u64,
    /// Tick hashes that matched.
    pub verified: u64,
    /// Keyframes that matched the replayed state field by field.
    pub keyframes: u64,
    /// First and last snapshot tick.
    pub ticks: Option<(u32, u32)>,
    /// A stable digest of every recomputed (tick, hashes): equal runs give equal digests.
    pub digest: u64,
    /// The first divergence.
    pub divergence: Option<DivergenceReport>,
    /// How the file ended.
    pub tail: Tail,
    /// File bytes and wire bytes of the frames.
    pub bytes: (u64, u64),
    /// Wall time spent (not part of [`VerifyReport::render`]).
    pub elapsed: Duration,
}

impl VerifyReport {
    /// Exit status: 0 when everything matched, 1 on divergence.
    pub fn exit_code(&self) -> u8 {
        if self.divergence.is_some() {
            EXIT_DIVERGED
        } else {
            0
        }
    }

    /// The deterministic report (everything but the throughput line).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let ticks = self
            .ticks
            .map_or("none".to_owned(), |(a, b)| format!("{a}..{b}"));
        let frames = format!(
            "{} frames ({} in, {} out)",
            self.frames.0 + self.frames.1,
            self.frames.0,
            self.frames.1
        );
        if let Some(d) = &self.divergence {
            s += &format!(
                "DIVERGED at tick {}: {} diverged ({} ticks verified before it)\n",
                d.tick, d.parts, self.verified
            );
            s += &format!("  recorded: {}\n  replayed: {}\n", d.expected, d.replayed);
            match &d.diff {
                Some(diff) => {
                    s += "  compared with the recorded keyframe of that tick:\n";
                    for line in diff.describe("recorded", "replayed", 12) {
                        s += &format!("    {line}\n");
                    }
                }
                None => {
                    s += "  no keyframe of that tick: only the hashes are recorded; the replayed state is written\n";
                }
            }
            for p in &d.written {
                s += &format!("  wrote {}\n", p.display());
            }
            if d.written.is_empty() {
                s += "  (--out DIR writes the recorded and replayed states and their diff as JSON)\n";
            }
        } else if self.recorder == Recorder::Server || self.verified == 0 {
            s += &format!(
                "no recorded hashes to compare: {frames} decoded and replayed, {} snapshots (ticks {ticks})\n",
                self.snapshots
            );
        } else {
            s += &format!(
                "OK: {} ticks verified (ticks {ticks}), {frames}, {} snapshots, {} keyframes matched\n",
                self.verified, self.snapshots, self.keyframes
            );
        }
        s += &format!("digest {:#018x}\n", self.digest);
        match &self.tail {
            Tail::Ended { .. } | Tail::NotRead => {}
            t => s += &format!("note: the recording was {}\n", t.describe()),
        }
        s
    }

    /// The throughput line (wall-clock: differs between runs).
    pub fn throughput(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let frames = (self.frames.0 + self.frames.1) as f64;
        format!(
            "throughput: {:.0} ticks/s, {:.0} frames/s, {:.1} MB/s of file ({} file bytes, {} wire bytes) in {:.1} ms",
            self.snapshots as f64 / secs,
            frames / secs,
            self.bytes.0 as f64 / secs / 1e6,
            self.bytes.0,
            self.bytes.1,
            secs * 1000.0
        )
    }
}

fn mix(digest: u64, v: u64) -> u64 {
    // FNV-1a over the value's bytes: a stable, order-sensitive digest.
    v.to_le_bytes().iter().fold(digest, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Replays `file` and checks it; writes divergence files only when `write` is true and
/// `options` names a folder.
pub fn verify(
    file: &ReplayFile,
    options: &VerifyOptions,
    write: bool,
) -> Result<VerifyReport, ToolError> {
    let started = Instant::now();
    let reader = file.reader(true)?;
    let header = reader.header().clone();
    let mut engine = Engine::new(&header);
    let mut report = VerifyReport {
        recorder: header.recorder,
        frames: (0, 0),
        snapshots: 0,
        verified: 0,
        keyframes: 0,
        ticks: None,
        digest: 0xcbf2_9ce4_8422_2325,
        divergence: None,
        tail: Tail::Unfinished { offset: 0 },
        bytes: (file.len(), 0),
        elapsed: Duration::ZERO,
    };
    let mut pending: Option<Divergence> = None;
    let mut found: Option<(Divergence, Option<StateDiff>)> = None;
    report.tail = scan(file, true, "verify", |record, offset| {
        if let Record::Frame(f) = record {
            report.bytes.1 += u64::from(f.wire_bytes);
            if let Some(d) = pending.take() {
                // No keyframe of the divergent tick followed its hash.
                found = Some((d, None));
                return Ok(Flow::Stop);
            }
        }
        let outcome = engine
            .feed(record)
            .map_err(|e| file.engine_error(offset, e))?;
        match outcome {
            Some(TickOutcome::Snapshot { tick, hashes }) => {
                report.ticks = Some(report.ticks.map_or((tick, tick), |(a, _)| (a, tick)));
                report.digest = mix(
                    mix(mix(report.digest, u64::from(tick)), hashes.world),
                    hashes.players,
                );
            }
            Some(TickOutcome::Diverged(d)) => pending = Some(d),
            Some(TickOutcome::Keyframe { tick, diff }) => {
                if let Some(d) = pending.take() {
                    if d.tick == tick {
                        found = Some((d, Some(*diff)));
                    } else {
                        found = Some((d, None));
                    }
                    return Ok(Flow::Stop);
                }
                if diff.is_empty() {
                    report.keyframes += 1;
                } else {
                    // The hashes matched but the keyframe does not: still a divergence.
                    let actual = engine.last_tick().map_or(
                        StateHashes {
                            world: 0,
                            players: 0,
                        },
                        |(_, h)| h,
                    );
                    let expected = engine
                        .last_keyframe()
                        .and_then(|(_, k)| k.restore().ok())
                        .map_or(actual, |p| engine.hashes(&p));
                    found = Some((
                        Divergence {
                            tick,
                            expected,
                            actual,
                        },
                        Some(*diff),
                    ));
                    return Ok(Flow::Stop);
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    })?;
    if let Some(d) = pending.take() {
        found = Some((d, None));
    }
    let counts = engine.counts();
    report.frames = (counts.frames_in, counts.frames_out);
    report.snapshots = counts.snapshots;
    report.verified = counts.verified;
    if let Some((d, diff)) = found {
        let recorded_state = diff.as_ref().and_then(|_| {
            engine
                .last_keyframe()
                .filter(|(t, _)| *t == d.tick)
                .and_then(|(_, k)| k.restore().ok())
                .map(|p| StateView::of_format(&p, engine.format_version()))
        });
        let mut div = DivergenceReport {
            tick: d.tick,
            parts: d.parts().to_owned(),
            expected: d.expected,
            replayed: d.actual,
            recorded_state,
            replayed_state: engine
                .play()
                .map(|p| StateView::of_format(p, engine.format_version())),
            diff,
            written: Vec::new(),
        };
        if let Some(dir) = options.out_dir.as_ref().filter(|_| write) {
            div.written = write_divergence(dir, &div)?;
        }
        report.divergence = Some(div);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

fn write_json(path: PathBuf, value: &serde_json::Value) -> Result<PathBuf, ToolError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|source| ToolError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn write_divergence(dir: &Path, d: &DivergenceReport) -> Result<Vec<PathBuf>, ToolError> {
    std::fs::create_dir_all(dir).map_err(|source| ToolError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let hashes = |h: &StateHashes| {
        serde_json::json!({
            "world_hash": format!("{:#018x}", h.world),
            "players_hash": format!("{:#018x}", h.players),
        })
    };
    let expected = match &d.recorded_state {
        Some(s) => serde_json::json!({"source": "recorded keyframe", "tick": d.tick, "state": s}),
        None => serde_json::json!({
            "source": "recorded tick hashes (no keyframe of this tick)",
            "tick": d.tick,
            "hashes": hashes(&d.expected),
        }),
    };
    let replayed =
        serde_json::json!({"source": "replay", "tick": d.tick, "state": d.replayed_state});
    let diff = serde_json::json!({
        "tick": d.tick,
        "diverged": d.parts,
        "recorded": hashes(&d.expected),
        "replayed": hashes(&d.replayed),
        "state_diff": d.diff,
    });
    Ok(vec![
        write_json(dir.join("expected.json"), &expected)?,
        write_json(dir.join("replayed.json"), &replayed)?,
        write_json(dir.join("diff.json"), &diff)?,
    ])
}

/// Runs `verify` and prints its report.
pub fn run(
    file: &ReplayFile,
    options: &VerifyOptions,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let report = verify(file, options, true)?;
    write!(out, "{}", report.render())?;
    if !options.no_timing {
        writeln!(out, "{}", report.throughput())?;
    }
    Ok(report.exit_code())
}

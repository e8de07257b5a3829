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
use tilegame_protocol::replay_format::{FileHeader, Record, Recorder};

use super::{scan, sim, Flow, Tail};
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
    let header = file.reader(true)?.header().clone();
    verify_records(file, &header, options, write, |f| {
        scan(file, true, "verify", f)
    })
}

/// What reads a recording's records for [`verify_records`]: it calls the function it is given
/// with each record and its chunk's offset, and returns how the records ended (as [`scan`]).
type RecordSource<'s> = dyn FnMut(&Record, u64) -> Result<Flow, ToolError> + 's;

/// `verify` over the records `source` reads: from the file ([`verify`]) or from memory
/// ([`Decoded::verify`]).
fn verify_records(
    file: &ReplayFile,
    header: &FileHeader,
    options: &VerifyOptions,
    write: bool,
    source: impl FnOnce(&mut RecordSource<'_>) -> Result<Tail, ToolError>,
) -> Result<VerifyReport, ToolError> {
    let started = Instant::now();
    let mut engine = Engine::new(header);
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
    report.tail = source(&mut |record, offset| {
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

/// A player's recording read into memory once: what the page verifies and then plays, so the
/// file is inflated and decoded once for both.
pub struct Decoded {
    header: FileHeader,
    /// Every record read, in order, up to a crash cut or the damage that stopped reading.
    records: Vec<Record>,
    /// The offset of the chunk each record came from.
    offsets: Vec<u64>,
    /// How the records ended (as [`scan`] says), or the damage that stopped them.
    end: Result<Tail, ToolError>,
}

impl Decoded {
    /// Reads every record of `file` (a bad header or protocol is an error; damage further on
    /// ends the records and is kept for [`Decoded::verify`]).
    pub fn read(file: &ReplayFile) -> Result<Decoded, ToolError> {
        let header = file.reader(true)?.header().clone();
        let (mut records, mut offsets) = (Vec::new(), Vec::new());
        let end = scan(file, true, "read", |record, offset| {
            records.push(record.clone());
            offsets.push(offset);
            Ok(Flow::Continue)
        });
        Ok(Decoded {
            header,
            records,
            offsets,
            end,
        })
    }

    /// [`verify`] of the records read, with the same report, verdict and errors as [`verify`]
    /// of the file. Once only: the damage, if any, is handed over.
    fn verify(
        &mut self,
        file: &ReplayFile,
        options: &VerifyOptions,
        write: bool,
    ) -> Result<VerifyReport, ToolError> {
        let end = std::mem::replace(&mut self.end, Ok(Tail::NotRead));
        let (records, offsets) = (&self.records, &self.offsets);
        verify_records(file, &self.header, options, write, |f| {
            for (record, offset) in records.iter().zip(offsets) {
                if let Flow::Stop = f(record, *offset)? {
                    return Ok(Tail::NotRead);
                }
            }
            end
        })
    }
}

/// What `verify` found in a recording of either kind.
#[derive(Debug)]
pub enum Checked {
    /// A player's recording, replayed through the engine.
    Player(Box<VerifyReport>),
    /// A server's simulation recording, re-simulated through the server's own loop.
    Simulation {
        /// The run.
        run: Box<sim::SimRun>,
        /// Wall time it took (for the throughput line only).
        elapsed: Duration,
        /// The file's size.
        file_bytes: u64,
    },
}

impl Checked {
    /// Exit status: 0 when everything matched, 1 on divergence.
    pub fn exit_code(&self) -> u8 {
        match self {
            Checked::Player(r) => r.exit_code(),
            Checked::Simulation { run, .. } => run.exit_code(),
        }
    }

    /// The deterministic report (what `verify --no-timing` prints).
    pub fn render(&self) -> String {
        match self {
            Checked::Player(r) => r.render(),
            Checked::Simulation { run, .. } => run.render(),
        }
    }

    /// The throughput line (wall-clock: differs between runs).
    pub fn throughput(&self) -> String {
        match self {
            Checked::Player(r) => r.throughput(),
            Checked::Simulation {
                run,
                elapsed,
                file_bytes,
            } => run.throughput(*file_bytes, *elapsed),
        }
    }
}

/// Why a recording checked with [`check_keeping`] cannot be played, or its records.
pub type Playable = Result<Vec<Record>, String>;

/// `verify` of a recording of either kind, as `tilegame-replay verify` runs it: a server's
/// simulation recording is re-simulated, a player's replayed (streamed from the file).
pub fn check(
    file: &ReplayFile,
    options: &VerifyOptions,
    write: bool,
) -> Result<Checked, ToolError> {
    check_reading(file, options, write, false).0
}

/// [`check`] for a page that shows the recording too: a player's recording is read into memory
/// once, verified from there and its records handed back for the viewer (or why there are
/// none: a simulation recording, damage). Nothing is written.
pub fn check_keeping(
    file: &ReplayFile,
    options: &VerifyOptions,
) -> (Result<Checked, ToolError>, Playable) {
    check_reading(file, options, false, true)
}

/// The one dispatch of [`check`] and [`check_keeping`].
fn check_reading(
    file: &ReplayFile,
    options: &VerifyOptions,
    write: bool,
    keep: bool,
) -> (Result<Checked, ToolError>, Playable) {
    let not_kept = || Err("the records were not kept".to_owned());
    match sim::is_simulation(file) {
        Err(e) => {
            let why = e.to_string();
            (Err(e), Err(why))
        }
        Ok(true) => {
            let started = Instant::now();
            let checked = sim::resimulate(file, None).map(|run| Checked::Simulation {
                run: Box::new(run),
                elapsed: started.elapsed(),
                file_bytes: file.len(),
            });
            let why = format!(
                "{}: a server simulation recording; the viewer plays a player's recording",
                file.path.display()
            );
            (checked, if keep { Err(why) } else { not_kept() })
        }
        Ok(false) if !keep => (
            verify(file, options, write).map(|r| Checked::Player(Box::new(r))),
            not_kept(),
        ),
        Ok(false) => match Decoded::read(file) {
            Err(e) => {
                let why = e.to_string();
                (Err(e), Err(why))
            }
            Ok(mut decoded) => {
                let damage = decoded.end.as_ref().err().map(ToString::to_string);
                let checked = decoded
                    .verify(file, options, write)
                    .map(|r| Checked::Player(Box::new(r)));
                (checked, damage.map_or(Ok(decoded.records), Err))
            }
        },
    }
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

/// Runs `verify` on a recording of either kind and prints its report.
pub fn run(
    file: &ReplayFile,
    options: &VerifyOptions,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let checked = check(file, options, true)?;
    write!(out, "{}", checked.render())?;
    if !options.no_timing {
        writeln!(out, "{}", checked.throughput())?;
    }
    Ok(checked.exit_code())
}

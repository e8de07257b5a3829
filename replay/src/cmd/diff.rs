//! `diff`: the first tick at which two recordings' replayed states differ, and in what.
//!
//! Two recordings of the same session (say a file and a re-run, or two builds) should replay to
//! the same states tick by tick. Both are replayed side by side; at every tick both have a
//! snapshot of, the hashes are compared, and at the first mismatch the states are compared
//! field by field (tiles, then each player's fields) to name what differs. With
//! `--match name`, players are paired by name rather than by id, so two sessions whose players
//! joined in another order (and so got other ids) compare equal when they played the same.

use std::io::Write;

use tilegame_protocol::replay_file::ReplayError;

use crate::engine::{Engine, TickOutcome};
use crate::state::{self, Match, StateHashes};
use crate::tool::{FileReader, ReplayFile, ToolError, EXIT_DIVERGED};
use tilegame_client::play::PlayState;

/// One recording being replayed snapshot by snapshot.
struct Side<'a> {
    file: &'a ReplayFile,
    reader: FileReader<'a>,
    engine: Engine,
    cut: Option<String>,
}

impl<'a> Side<'a> {
    fn open(file: &'a ReplayFile) -> Result<Self, ToolError> {
        let reader = file.reader(true)?;
        let engine = Engine::new(reader.header());
        Ok(Side {
            file,
            reader,
            engine,
            cut: None,
        })
    }

    /// Replays up to and including the next snapshot; returns its tick and hashes.
    fn next_snapshot(&mut self) -> Result<Option<(u32, StateHashes)>, ToolError> {
        loop {
            let record = match self.reader.try_next() {
                Ok(Some(r)) => r,
                Ok(None) => return Ok(None),
                Err(e @ ReplayError::Truncated { .. }) => {
                    self.cut = Some(e.to_string());
                    return Ok(None);
                }
                Err(e) => return Err(self.file.file_error(e)),
            };
            let outcome = self
                .engine
                .feed(&record)
                .map_err(|e| self.file.engine_error(self.reader.chunk_offset(), e))?;
            if let Some(TickOutcome::Snapshot { tick, hashes }) = outcome {
                return Ok(Some((tick, hashes)));
            }
        }
    }
}

/// What `diff` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffResult {
    /// Every common tick is equal.
    Identical {
        /// Ticks compared.
        compared: u64,
        /// First and last common tick.
        range: Option<(u32, u32)>,
        /// A note on ticks only one side has at the end.
        note: Option<String>,
    },
    /// They differ.
    Diverged {
        /// The first divergent tick.
        tick: u32,
        /// What differs there, one line each.
        lines: Vec<String>,
        /// Ticks compared equal before it.
        compared: u64,
    },
}

/// Whether two states are the same, players paired as `by` says (hashes for ids: they cover
/// the ids; for names, everything but the ids).
fn same(
    ha: StateHashes,
    hb: StateHashes,
    pa: Option<&PlayState>,
    pb: Option<&PlayState>,
    by: Match,
) -> bool {
    match (by, pa, pb) {
        (Match::Id, _, _) | (Match::Name, None, _) | (Match::Name, _, None) => ha == hb,
        (Match::Name, Some(a), Some(b)) => {
            let local = |p: &PlayState| {
                p.players
                    .local_id()
                    .and_then(|id| p.players.get(id))
                    .map(|r| r.name.clone())
            };
            ha.world == hb.world
                && a.players.ack_seq() == b.players.ack_seq()
                && a.players.tick() == b.players.tick()
                && local(a) == local(b)
                && state::players_key(a, by) == state::players_key(b, by)
        }
    }
}

/// Compares two recordings tick by tick, pairing players by id.
pub fn compare(a: &ReplayFile, b: &ReplayFile) -> Result<DiffResult, ToolError> {
    compare_matched(a, b, Match::Id)
}

/// Compares two recordings tick by tick, pairing players as `by` says.
pub fn compare_matched(a: &ReplayFile, b: &ReplayFile, by: Match) -> Result<DiffResult, ToolError> {
    let (mut sa, mut sb) = (Side::open(a)?, Side::open(b)?);
    let (mut ta, mut tb) = (sa.next_snapshot()?, sb.next_snapshot()?);
    let mut compared = 0u64;
    let mut range: Option<(u32, u32)> = None;
    loop {
        match (ta, tb) {
            (Some((x, ha)), Some((y, hb))) if x == y => {
                if !same(ha, hb, sa.engine.play(), sb.engine.play(), by) {
                    let mut lines = Vec::new();
                    if ha.world != hb.world {
                        lines.push(format!(
                            "world hash: A {:#018x}, B {:#018x}",
                            ha.world, hb.world
                        ));
                    }
                    if ha.players != hb.players && by == Match::Id {
                        lines.push(format!(
                            "players hash: A {:#018x}, B {:#018x}",
                            ha.players, hb.players
                        ));
                    }
                    if let (Some(pa), Some(pb)) = (sa.engine.play(), sb.engine.play()) {
                        lines.extend(state::diff_matched(pa, pb, by).describe("A", "B", 16));
                    }
                    return Ok(DiffResult::Diverged {
                        tick: x,
                        lines,
                        compared,
                    });
                }
                compared += 1;
                range = Some(range.map_or((x, x), |(f, _)| (f, x)));
                ta = sa.next_snapshot()?;
                tb = sb.next_snapshot()?;
            }
            (Some((x, _)), Some((y, _))) => {
                if range.is_some() {
                    let (tick, only) = if x < y { (x, "A") } else { (y, "B") };
                    return Ok(DiffResult::Diverged {
                        tick,
                        lines: vec![format!("only {only} has a snapshot of tick {tick}")],
                        compared,
                    });
                }
                // Before the first common tick: let the side that is behind catch up.
                if x < y {
                    ta = sa.next_snapshot()?;
                } else {
                    tb = sb.next_snapshot()?;
                }
            }
            (rest_a, rest_b) => {
                let note = match (rest_a, rest_b) {
                    (Some((x, _)), None) => Some(format!("B ends first; A goes on from tick {x}")),
                    (None, Some((y, _))) => Some(format!("A ends first; B goes on from tick {y}")),
                    _ => None,
                };
                let cut = [("A", &sa.cut), ("B", &sb.cut)]
                    .iter()
                    .filter_map(|(n, c)| c.as_ref().map(|c| format!("{n} is cut ({c})")))
                    .collect::<Vec<_>>();
                let note = match (note, cut.is_empty()) {
                    (n, true) => n,
                    (None, false) => Some(cut.join("; ")),
                    (Some(n), false) => Some(format!("{n}; {}", cut.join("; "))),
                };
                return Ok(DiffResult::Identical {
                    compared,
                    range,
                    note,
                });
            }
        }
    }
}

/// Runs `diff` and prints the result: exit 0 when identical, 1 when they differ.
pub fn run(a: &ReplayFile, b: &ReplayFile, out: &mut dyn Write) -> Result<u8, ToolError> {
    run_matched(a, b, Match::Id, out)
}

/// Runs `diff --match BY`.
pub fn run_matched(
    a: &ReplayFile,
    b: &ReplayFile,
    by: Match,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    match compare_matched(a, b, by)? {
        DiffResult::Identical {
            compared,
            range,
            note,
        } => {
            match range {
                Some((f, l)) => writeln!(
                    out,
                    "identical: {compared} common ticks compared ({f}..{l})"
                )?,
                None => writeln!(out, "nothing to compare: the recordings share no tick")?,
            }
            if let Some(n) = note {
                writeln!(out, "note: {n}")?;
            }
            Ok(if range.is_some() { 0 } else { EXIT_DIVERGED })
        }
        DiffResult::Diverged {
            tick,
            lines,
            compared,
        } => {
            writeln!(
                out,
                "first divergence at tick {tick} (after {compared} equal ticks):"
            )?;
            for l in lines {
                writeln!(out, "  {l}")?;
            }
            Ok(EXIT_DIVERGED)
        }
    }
}

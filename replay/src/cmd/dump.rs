//! `dump`: one line per recorded frame, decoded, for reading a session packet by packet.
//!
//! Each line carries the frame's sequence number, recorded time and tick, direction (`in` = to
//! the client, `out` = to the server), protocol state, packet name, wire and payload bytes and
//! the decoded packet: compact text for people, or one JSON object per line (`--format json`)
//! for tools. Frames are decoded by the generated decoders of their recorded state.

use std::io::Write;

use tilegame_protocol::replay_format::{Frame, FrameDirection, Record};

use super::{scan, Flow, Tail};
use crate::packets::{self, compact};
use crate::tool::{ReplayFile, ToolError};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// One aligned text line per frame.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Which frames to show.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Only frames recorded at this tick or later.
    pub from: Option<u32>,
    /// Only frames recorded at this tick or earlier.
    pub to: Option<u32>,
    /// Only this packet (name, case-insensitive).
    pub kind: Option<String>,
    /// Only this direction.
    pub dir: Option<FrameDirection>,
    /// Output format.
    pub format: Format,
    /// Stop after this many lines.
    pub limit: Option<usize>,
}

/// The packet name of a frame, or `?0xNN` when it does not decode.
fn line(frame: &Frame, format: Format) -> (String, String) {
    let decoded = packets::decode(frame);
    let name = match &decoded {
        Ok(p) => p.name().to_owned(),
        Err(_) => format!("?{:#04x}", frame.packet_id),
    };
    let text = match format {
        Format::Text => {
            let body = match &decoded {
                Ok(p) => compact(&packets::fields(p)),
                Err(e) => format!("<undecodable: {e}>"),
            };
            format!(
                "{:>6} {:>12}us tick {:>6} {:<3} {:<11} {:<14} wire {:>6} payload {:>6}  {}",
                frame.seq,
                frame.micros,
                frame.tick,
                packets::dir_label(frame.direction),
                packets::state_label(frame.state),
                name,
                frame.wire_bytes,
                frame.payload_bytes,
                body
            )
        }
        Format::Json => {
            let mut obj = serde_json::json!({
                "seq": frame.seq,
                "micros": frame.micros,
                "tick": frame.tick,
                "dir": packets::dir_label(frame.direction),
                "state": packets::state_label(frame.state),
                "packet": name,
                "packet_id": frame.packet_id,
                "wire_bytes": frame.wire_bytes,
                "payload_bytes": frame.payload_bytes,
            });
            match &decoded {
                Ok(p) => obj["decoded"] = packets::fields(p),
                Err(e) => obj["error"] = serde_json::Value::String(e.to_string()),
            }
            obj.to_string()
        }
    };
    (name, text)
}

/// Runs `dump`; the file's own problems go to `err` after the frames that could be read.
pub fn run(
    file: &ReplayFile,
    options: &DumpOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, ToolError> {
    let kind = options.kind.as_ref().map(|k| k.to_ascii_lowercase());
    let mut shown = 0usize;
    let tail = scan(file, true, "dump", |record, _| {
        let Record::Frame(f) = record else {
            return Ok(Flow::Continue);
        };
        if options.from.is_some_and(|t| f.tick < t) || options.dir.is_some_and(|d| f.direction != d)
        {
            return Ok(Flow::Continue);
        }
        if options.to.is_some_and(|t| f.tick > t) {
            // Recorded ticks never go back, so nothing later can match.
            return Ok(Flow::Stop);
        }
        let (name, text) = line(f, options.format);
        if kind
            .as_ref()
            .is_some_and(|k| name.to_ascii_lowercase() != *k)
        {
            return Ok(Flow::Continue);
        }
        writeln!(out, "{text}")?;
        shown += 1;
        Ok(if options.limit.is_some_and(|l| shown >= l) {
            Flow::Stop
        } else {
            Flow::Continue
        })
    })?;
    if let Tail::Cut { message, .. } = &tail {
        writeln!(err, "note: the file is cut: {message}")?;
    }
    Ok(0)
}

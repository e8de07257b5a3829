//! `tilegame-replay`: inspect, check and compare tilegame recordings (`.tgr`).
//!
//! Exit status: 0 success; 1 a replay diverged or two recordings differ; 2 the file cannot be
//! read, is corrupt, or is of another format version or protocol.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tilegame_protocol::replay_format::FrameDirection;
use tilegame_replay::cmd::{self, dump::Format};
use tilegame_replay::{ReplayFile, ToolError};

/// mimalloc rather than the system allocator: `verify` frees and allocates a snapshot's
/// deltas every tick (about 1.7 KiB for 20 players, past glibc's per-thread cache) and its
/// reader thread every record's bytes; mimalloc serves both from thread-local pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Inspect, verify and compare tilegame replay files.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Direction filter: `in` = to the client, `out` = to the server.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Dir {
    /// Server to client.
    In,
    /// Client to server.
    Out,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Header, duration, ticks, frames and bytes per direction, players, keyframes, how it ended.
    Info {
        /// The replay file.
        file: PathBuf,
    },
    /// One line per frame, decoded (per record for a server simulation recording).
    Dump {
        /// The replay file.
        file: PathBuf,
        /// Only frames recorded at this tick or later.
        #[arg(long)]
        from: Option<u32>,
        /// Only frames recorded at this tick or earlier.
        #[arg(long)]
        to: Option<u32>,
        /// Only this packet kind (case-insensitive), e.g. snapshot.
        #[arg(long)]
        kind: Option<String>,
        /// Only this direction.
        #[arg(long, value_enum)]
        dir: Option<Dir>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Stop after this many frames.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Bytes per packet kind and direction (count, bytes, share, bytes/s), biggest frames,
    /// traffic over time.
    Stats {
        /// The replay file.
        file: PathBuf,
        /// Also draw bytes per second per packet kind and direction, keyframes and joins
        /// marked, into this PNG or SVG file.
        #[arg(long, value_name = "OUT.png|OUT.svg")]
        plot: Option<PathBuf>,
    },
    /// Replay through the client's managers and check every recorded tick hash; a server
    /// simulation recording (`tilegame-server --record`) is re-simulated and every tick's world
    /// and player hashes checked.
    Verify {
        /// The replay file.
        file: PathBuf,
        /// Write the recorded and replayed states and their diff as JSON into this folder on
        /// divergence (without it, verify writes nothing).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Leave out the throughput line (for byte-identical output).
        #[arg(long)]
        no_timing: bool,
    },
    /// The first divergent tick and field between two recordings; with a server simulation
    /// recording and a player's recording, whether the player received, frame for frame, the
    /// stream the simulation pushed for it.
    Diff {
        /// First recording.
        a: PathBuf,
        /// Second recording.
        b: PathBuf,
        /// Pair players by id, or by name (players who joined in another order).
        #[arg(long = "match", value_enum, default_value_t = tilegame_replay::state::Match::Id)]
        by: tilegame_replay::state::Match,
    },
    /// Re-simulates a server simulation recording and lists the play-state frames (Snapshot,
    /// PlayerJoined, PlayerLeft, Kick) the simulation pushed for one player.
    Derive {
        /// The server simulation recording.
        file: PathBuf,
        /// The player: its id, or the name it joined with.
        #[arg(long)]
        player: String,
        /// Only the frames pushed from this tick on (re-simulated from the nearest keyframe
        /// before it).
        #[arg(long)]
        from: Option<u32>,
    },
    /// Writes the recording as a pcap capture (a synthetic TCP connection) for Wireshark.
    Export {
        /// The replay file.
        file: PathBuf,
        /// The capture to write.
        #[arg(long)]
        pcap: PathBuf,
        /// The server's TCP port in the capture.
        #[arg(long, default_value_t = cmd::export::DEFAULT_PORT)]
        port: u16,
        /// Largest TCP payload per segment (1 to 1460).
        #[arg(long, default_value_t = cmd::export::MSS)]
        segment_size: usize,
        /// Send consecutive frames of one direction as one stream (several frames per segment).
        #[arg(long)]
        coalesce: bool,
        /// The client's TCP port in the capture.
        #[arg(long, default_value_t = cmd::export::CLIENT_PORT)]
        client_port: u16,
        /// Cut segments at random sizes (1 to --segment-size) drawn from this seed, as a relay
        /// that re-splits the stream does.
        #[arg(long)]
        split_seed: Option<u64>,
    },
    /// Replay up to a tick (seeking from the nearest keyframe) and show the state; a server
    /// simulation recording is re-simulated from its nearest keyframe at or before that tick.
    Play {
        /// The replay file.
        file: PathBuf,
        /// The tick to stop at.
        #[arg(long)]
        until: u32,
        /// Print the managers' state as JSON.
        #[arg(long)]
        print_state: bool,
    },
    /// Plays the file in a window: Esc pauses, 1/2 step the speed (0.1x..8x), . or -> steps
    /// one tick, , or <- steps back, click or drag the bottom edge to seek, R restarts, M skips
    /// 10 s ahead, Tab lists players.
    #[cfg(feature = "view")]
    View {
        /// The replay file.
        file: PathBuf,
        /// Playback speed (1 = real time; the nearest of 0.1, 0.25, 0.5, 1, 2, 4, 8).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start at this tick.
        #[arg(long)]
        from: Option<u32>,
        /// Close after this many frames.
        #[arg(long)]
        frames: Option<u32>,
        /// Save a frame (the last with --frames) as PNG.
        #[arg(long)]
        screenshot: Option<PathBuf>,
    },
}

fn open(path: &Path) -> Result<ReplayFile, ToolError> {
    ReplayFile::open(path)
}

/// Opens a file for a command that reads frames (not a simulation recording).
fn open_frames(path: &Path, command: &str) -> Result<ReplayFile, ToolError> {
    let file = ReplayFile::open(path)?;
    cmd::sim::refuse_simulation(&file, command)?;
    Ok(file)
}

fn run(command: Command, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, ToolError> {
    match command {
        Command::Info { file } => cmd::info::run(&open(&file)?, out),
        Command::Dump {
            file,
            from,
            to,
            kind,
            dir,
            format,
            limit,
        } => {
            let options = cmd::dump::DumpOptions {
                from,
                to,
                kind,
                dir: dir.map(|d| match d {
                    Dir::In => FrameDirection::ToClient,
                    Dir::Out => FrameDirection::ToServer,
                }),
                format,
                limit,
            };
            let file = open(&file)?;
            if cmd::sim::is_simulation(&file)? {
                return cmd::sim::dump(&file, options.from, options.to, options.limit, out);
            }
            cmd::dump::run(&file, &options, out, err)
        }
        Command::Stats { file, plot } => {
            cmd::stats::run(&open_frames(&file, "stats")?, plot.as_deref(), out, err)
        }
        Command::Verify {
            file,
            out: out_dir,
            no_timing,
        } => {
            let options = cmd::verify::VerifyOptions { out_dir, no_timing };
            cmd::verify::run(&open(&file)?, &options, out)
        }
        Command::Diff { a, b, by } => {
            let (a, b) = (open(&a)?, open(&b)?);
            if cmd::sim::is_simulation(&a)? || cmd::sim::is_simulation(&b)? {
                return cmd::sim::run_diff(&a, &b, out);
            }
            cmd::diff::run_matched(&a, &b, by, out)
        }
        Command::Derive { file, player, from } => {
            cmd::sim::derive(&open(&file)?, &cmd::sim::Who::parse(&player), from, out)
        }
        Command::Export {
            file,
            pcap,
            port,
            segment_size,
            coalesce,
            client_port,
            split_seed,
        } => cmd::export::run(
            &open_frames(&file, "export")?,
            &pcap,
            &cmd::export::ExportOptions {
                port,
                segment_bytes: segment_size,
                coalesce,
                client_port,
                split_seed,
            },
            out,
        ),
        Command::Play {
            file,
            until,
            print_state,
        } => {
            let file = open(&file)?;
            if cmd::sim::is_simulation(&file)? {
                return cmd::sim::play(&file, until, print_state, out);
            }
            cmd::play::run(&file, until, print_state, out)
        }
        #[cfg(feature = "view")]
        Command::View {
            file,
            speed,
            from,
            frames,
            screenshot,
        } => tilegame_replay::view::run(
            &open_frames(&file, "view")?,
            tilegame_replay::view::ViewOptions {
                speed,
                from,
                frames,
                screenshot,
            },
        ),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let result = run(args.command, &mut out, &mut err);
    let flushed = out.flush();
    match result {
        Ok(code) => {
            if let Err(e) = flushed {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: cannot write the output: {e}");
                    return ExitCode::from(1);
                }
            }
            ExitCode::from(code)
        }
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

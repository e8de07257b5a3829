//! `tilegame-protocol`: the command line face of the protocol generator.
//!
//! The build generates Rust from the specs on its own; this tool is for the people around the
//! specs: `check` validates an edit with compiler-style diagnostics, `doc` regenerates the
//! Markdown reference, `diff` tells a reviewer whether an edit breaks old peers, `hash` prints
//! the spec hash that the handshake exchanges, and `dissector` writes a Wireshark plugin.
//!
//! Exit codes: 0 = ok, 1 = a spec problem (`check`, `doc`, `hash`, `dissector`) or a breaking
//! change (`diff`), 2 = usage or I/O error, or an invalid spec given to `diff` (so that a script
//! can tell "breaking" from "could not compare").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tilegame_codegen::{compat, dissector, docs, hash, load, SpecFile};

/// Validates, documents, compares and dissects tilegame protocol specs.
#[derive(Debug, Parser)]
#[command(name = "tilegame-protocol", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validates spec files and prints each problem with file:line:column.
    Check {
        /// Spec files (RON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Writes the Markdown protocol reference for the given specs.
    Doc {
        /// Spec files (RON), documented in this order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Classifies the changes from OLD to NEW and their consequences (spec hash, Rust API,
    /// recordings); exits 0 if compatible, 1 if breaking, 2 if a spec is invalid.
    Diff {
        /// The spec before the change.
        old: PathBuf,
        /// The spec after the change.
        new: PathBuf,
    },
    /// Prints the spec hash exchanged in the handshake, as 0x followed by 16 hex digits.
    Hash {
        /// Spec file (RON).
        file: PathBuf,
    },
    /// Writes a Wireshark Lua dissector for the spec.
    Dissector {
        /// Spec file (RON).
        file: PathBuf,
        /// TCP port the dissector registers on.
        #[arg(short, long, default_value_t = dissector::DEFAULT_PORT)]
        port: u16,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Why a command failed, which decides the exit code.
enum Failure {
    /// A spec is invalid or a change is breaking (exit 1); the details were already printed.
    Spec,
    /// `diff` could not compare: a spec is invalid (exit 2); the details were already printed.
    Invalid,
    /// Usage or I/O error (exit 2).
    Io(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Spec) => ExitCode::from(1),
        Err(Failure::Invalid) => ExitCode::from(2),
        Err(Failure::Io(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Loads a spec, printing its diagnostics to stderr on failure.
fn load_or_report(path: &Path) -> Result<SpecFile, Failure> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(Failure::Io(format!("cannot read {}: {e}", path.display())));
    }
    load(path).map_err(|errors| {
        eprintln!("{errors}");
        Failure::Spec
    })
}

fn write_output(output: Option<&Path>, text: &str) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Failure::Io(format!("cannot write {}: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Check { files } => {
            let mut failed = None;
            for file in &files {
                match load_or_report(file) {
                    Ok(spec) => println!(
                        "ok: {} ({} v{}, hash 0x{:016x})",
                        file.display(),
                        spec.protocol.name,
                        spec.protocol.version,
                        hash::spec_hash(&spec.protocol)
                    ),
                    Err(Failure::Spec) => failed = failed.or(Some(Failure::Spec)),
                    Err(io) => failed = Some(io),
                }
            }
            failed.map_or(Ok(()), Err)
        }
        Command::Doc { files, output } => {
            let specs = files
                .iter()
                .map(|f| load_or_report(f))
                .collect::<Result<Vec<_>, _>>()?;
            let mut text = docs::generate(&specs);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_output(output.as_deref(), &text)
        }
        Command::Diff { old, new } => {
            let invalid = |f: Failure| match f {
                Failure::Spec => Failure::Invalid,
                other => other,
            };
            let old_spec = load_or_report(&old);
            let new_spec = load_or_report(&new);
            let (old, new) = (old_spec.map_err(invalid)?, new_spec.map_err(invalid)?);
            let changes = compat::diff(&old, &new);
            for change in &changes {
                println!("{change}");
            }
            let breaking = changes
                .iter()
                .filter(|c| c.kind == compat::Compatibility::Breaking)
                .count();
            println!(
                "{} change(s): {} breaking, {} compatible",
                changes.len(),
                breaking,
                changes.len() - breaking
            );
            print!("{}", compat::consequences(&old, &new, &changes));
            if compat::is_breaking(&changes) {
                Err(Failure::Spec)
            } else {
                Ok(())
            }
        }
        Command::Hash { file } => {
            let spec = load_or_report(&file)?;
            println!("0x{:016x}", hash::spec_hash(&spec.protocol));
            Ok(())
        }
        Command::Dissector { file, port, output } => {
            let spec = load_or_report(&file)?;
            write_output(output.as_deref(), &dissector::generate(&spec, port))
        }
    }
}

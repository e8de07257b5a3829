//! `tilegame-protocol`: the command line face of the protocol generator.
//!
//! The build generates Rust from the specs on its own; this tool is for the people around the
//! specs: `check` validates an edit with compiler-style diagnostics, `doc` regenerates the
//! Markdown reference, `diff` tells a reviewer whether an edit breaks old peers, `hash` prints
//! the spec hash that the handshake exchanges, and `dissector` writes a Wireshark plugin.
//!
//! Exit codes: 0 = ok, 1 = a spec problem, 2 = usage or I/O error (`check`, `doc`, `hash`,
//! `dissector`). `diff` has its own, ordered by severity so that a script can test `-ge 2`: 0 = no
//! change, 1 = changes none of which is breaking (widening, compatible, constants, properties,
//! rules, docs), 2 = at least one breaking change, 3 = could not compare (an invalid spec, a
//! missing file, bad arguments).

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
    /// Classifies every change from OLD to NEW (breaking, widening, compatible, constant,
    /// property, rules, docs) and its consequences: spec hash, Rust API, old recordings.
    ///
    /// OLD and NEW are two spec files, or two directories whose `*.ron` files are compared by
    /// name. Exit code: 0 no change, 1 changes none of which is breaking, 2 at least one
    /// breaking change, 3 could not compare (invalid spec, missing file, bad arguments).
    Diff {
        /// The spec (file or directory) before the change.
        old: PathBuf,
        /// The spec (file or directory) after the change.
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
    /// A spec is invalid (exit 1); the details were already printed.
    Spec,
    /// `diff` could not compare (exit 3): the message, or `None` if the details were printed.
    Uncomparable(Option<String>),
    /// Usage or I/O error (exit 2).
    Io(String),
}

/// `diff`'s exit code when it could not compare.
const DIFF_UNCOMPARABLE: u8 = 3;

/// Whether the command line names the `diff` subcommand (its usage errors exit 3, not 2).
fn is_diff_command() -> bool {
    std::env::args_os()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "diff")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(if is_diff_command() {
                    DIFF_UNCOMPARABLE
                } else {
                    2
                })
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Spec) => ExitCode::from(1),
        Err(Failure::Uncomparable(message)) => {
            if let Some(message) = message {
                eprintln!("error: {message}");
            }
            ExitCode::from(DIFF_UNCOMPARABLE)
        }
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

fn run(command: Command) -> Result<u8, Failure> {
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
            failed.map_or(Ok(0), Err)
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
            write_output(output.as_deref(), &text).map(|()| 0)
        }
        Command::Diff { old, new } => diff_paths(&old, &new),
        Command::Hash { file } => {
            let spec = load_or_report(&file)?;
            println!("0x{:016x}", hash::spec_hash(&spec.protocol));
            Ok(0)
        }
        Command::Dissector { file, port, output } => {
            let spec = load_or_report(&file)?;
            write_output(output.as_deref(), &dissector::generate(&spec, port)).map(|()| 0)
        }
    }
}

/// `diff` of two files, or of two directories' `*.ron` files paired by name; the exit code.
fn diff_paths(old: &Path, new: &Path) -> Result<u8, Failure> {
    match (old.is_dir(), new.is_dir()) {
        (false, false) => diff_files(old, new),
        (true, true) => {
            let (old_names, new_names) = (spec_names(old)?, spec_names(new)?);
            let all: std::collections::BTreeSet<&String> =
                old_names.iter().chain(new_names.iter()).collect();
            let mut code = 0;
            for name in all {
                println!("== {name} ==");
                let (o, n) = (old_names.contains(name), new_names.contains(name));
                let file_code = match (o, n) {
                    (true, true) => diff_files(&old.join(name), &new.join(name))?,
                    (true, false) => {
                        println!(
                            "breaking: {name}: spec file removed: nothing reads what it declared"
                        );
                        2
                    }
                    _ => {
                        println!("compatible: {name}: spec file added: nothing old changes");
                        1
                    }
                };
                code = code.max(file_code);
            }
            Ok(code)
        }
        _ => Err(Failure::Uncomparable(Some(format!(
            "cannot compare {} with {}: give two spec files or two directories",
            old.display(),
            new.display()
        )))),
    }
}

/// The `*.ron` file names in a directory, sorted.
fn spec_names(dir: &Path) -> Result<Vec<String>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::Uncomparable(Some(format!("cannot read {}: {e}", dir.display()))))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Failure::Uncomparable(Some(format!("cannot read {}: {e}", dir.display())))
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ron") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// `diff` of two spec files: prints every change, the summary and the consequences.
fn diff_files(old: &Path, new: &Path) -> Result<u8, Failure> {
    let uncomparable = |f: Failure| match f {
        Failure::Spec => Failure::Uncomparable(None),
        Failure::Io(message) | Failure::Uncomparable(Some(message)) => {
            Failure::Uncomparable(Some(message))
        }
        other => other,
    };
    let old_spec = load_or_report(old);
    let new_spec = load_or_report(new);
    let (old, new) = (
        old_spec.map_err(uncomparable)?,
        new_spec.map_err(uncomparable)?,
    );
    let changes = compat::diff(&old, &new);
    for change in &changes {
        println!("{change}");
    }
    println!("{}", compat::summary(&changes));
    print!("{}", compat::consequences(&old, &new, &changes));
    Ok(compat::exit_code(&changes))
}

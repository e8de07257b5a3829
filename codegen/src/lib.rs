//! tilegame-codegen: the protocol generator.
//!
//! Maintainers declare packets in RON (`protocol/spec/*.ron`); this library parses a spec
//! ([`parse`]), checks every rule over the whole spec at once ([`validate`]), and emits:
//! binrw Rust types ([`rust`]) and the field-level items beside them ([`fields`]), a Markdown reference ([`docs`]), a Wireshark Lua dissector
//! ([`dissector`]); it also classifies the changes between two versions of a spec ([`compat`]).
//! `protocol/build.rs` calls [`Builder`]; the `tilegame-protocol` binary wraps the rest.
//!
//! Like prost-build, the generator is a library and the build script stays thin; the generated
//! code is written to `OUT_DIR` and `include!`d, never committed.

pub mod compat;
pub mod cst;
pub mod diagnostic;
pub mod dissector;
pub mod docs;
pub mod fields;
pub mod hash;
pub mod layout;
pub mod model;
pub mod names;
pub mod parse;
pub mod rust;
pub mod span;
pub mod validate;
pub mod wire;

use std::path::{Path, PathBuf};

pub use diagnostic::Diagnostic;
pub use parse::SpecFile;

/// A spec that failed to parse or validate, with every problem found.
#[derive(Debug, Clone)]
pub struct SpecErrors {
    /// The file's name as shown in messages.
    pub file: String,
    /// The file's text (for rendering).
    pub source: String,
    /// Every problem, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&diagnostic::render_all(&self.diagnostics, &self.source))?;
        write!(f, "{}: {} problem(s)", self.file, self.diagnostics.len())
    }
}

impl std::error::Error for SpecErrors {}

/// Parses and validates spec text; on failure, every problem in file order (syntax errors
/// included: parsing recovers and validation runs on what parsed).
pub fn load_str(name: &str, source: &str) -> Result<SpecFile, SpecErrors> {
    let parsed = parse::parse_recovering(name, source);
    let mut diagnostics = parsed.diagnostics;
    let spec = parsed.spec;
    if let Some(spec) = &spec {
        diagnostics.extend(validate::validate_recovered(spec, &parsed.recovery));
    }
    diagnostics.sort_by_key(|d| d.span.start);
    match spec {
        Some(spec) if diagnostics.is_empty() => Ok(spec),
        _ => Err(SpecErrors {
            file: name.to_owned(),
            source: source.to_owned(),
            diagnostics,
        }),
    }
}

/// Reads, parses and validates a spec file.
pub fn load(path: &Path) -> Result<SpecFile, SpecErrors> {
    load_named(path, &path.display().to_string())
}

/// Like [`load`], naming the file `name` in messages.
pub fn load_named(path: &Path, name: &str) -> Result<SpecFile, SpecErrors> {
    let name = name.to_owned();
    match std::fs::read_to_string(path) {
        Ok(source) => load_str(&name, &source),
        Err(e) => Err(SpecErrors {
            file: name.clone(),
            source: String::new(),
            diagnostics: vec![Diagnostic::new(
                &name,
                0..0,
                "io",
                format!("cannot read spec file: {e}"),
            )],
        }),
    }
}

/// Every spec that failed, one entry per file (all files are checked before failing).
#[derive(Debug, Clone)]
pub struct AllSpecErrors(pub Vec<SpecErrors>);

impl AllSpecErrors {
    /// How many problems in all.
    pub fn count(&self) -> usize {
        self.0.iter().map(|e| e.diagnostics.len()).sum()
    }

    /// One line: how many problems in which files.
    pub fn summary(&self) -> String {
        let files: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{} in {}", e.diagnostics.len(), e.file))
            .collect();
        let n = self.count();
        format!(
            "{n} spec problem{} ({}); the protocol was not generated",
            if n == 1 { "" } else { "s" },
            files.join(", ")
        )
    }
}

impl std::fmt::Display for AllSpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.0 {
            f.write_str(&diagnostic::render_all(&e.diagnostics, &e.source))?;
            f.write_str("\n")?;
        }
        f.write_str(&self.summary())
    }
}

/// Errors from [`Builder::compile`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// One or more specs are invalid.
    #[error("{0}")]
    Spec(AllSpecErrors),
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The emitted Rust did not parse (a generator bug).
    #[error("generated code for {file} does not parse: {message}")]
    Emit {
        /// The spec file.
        file: String,
        /// syn's message.
        message: String,
    },
}

impl BuildError {
    /// The error as `cargo::error=` directives, one per line of text: each problem's
    /// `file:line:column: rule: message` line and its snippet, then a one-line summary. Cargo
    /// prints each as `error: <package>: <line>` and stops the build without its "failed to run
    /// custom build command" banner.
    pub fn cargo_directives(&self) -> String {
        let text = match self {
            BuildError::Spec(all) => {
                let mut text = String::new();
                for e in &all.0 {
                    for d in &e.diagnostics {
                        text.push_str(&d.render(&e.source));
                    }
                }
                text.push_str(&all.summary());
                text
            }
            other => other.to_string(),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("cargo::error={l}\n"))
            .collect()
    }
}

/// Compiles spec files into Rust modules in an output directory (for build scripts).
#[derive(Debug, Clone)]
pub struct Builder {
    runtime: String,
    out_dir: Option<PathBuf>,
    cargo_directives: bool,
    display_root: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            runtime: "crate::wire".to_owned(),
            out_dir: None,
            cargo_directives: true,
            display_root: None,
        }
    }
}

impl Builder {
    /// A builder writing to `$OUT_DIR` with the runtime at `crate::wire`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path of the runtime module (bounded readers and writers) in the generated code.
    pub fn runtime_path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.runtime);
        self
    }

    /// Writes to `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (on by default).
    pub fn cargo_directives(mut self, on: bool) -> Self {
        self.cargo_directives = on;
        self
    }

    /// Names spec files in messages relative to `dir` (see [`Builder::compile_in_build_script`],
    /// which uses the workspace root).
    pub fn display_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.display_root = Some(dir.into());
        self
    }

    /// The entry point for `build.rs`: compiles `specs` (relative to the package) and, if any
    /// is invalid, prints every problem of every file as `cargo::error=` lines with paths from
    /// the workspace root, so that `cargo build` shows `error: …protocol/spec/x.ron:L:C: rule:
    /// message` and its snippet, then a one-line summary, and stops.
    pub fn compile_in_build_script(mut self, specs: &[impl AsRef<Path>]) {
        if self.display_root.is_none() {
            self.display_root = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .map(|dir| workspace_root(&dir));
        }
        if let Err(e) = self.compile(specs) {
            print!("{}", e.cargo_directives());
        }
    }

    /// How `path` is named in messages.
    fn display_name(&self, path: &Path) -> String {
        let Some(root) = &self.display_root else {
            return path.display().to_string();
        };
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let canonical = absolute.canonicalize().unwrap_or(absolute);
        let root = root.canonicalize().unwrap_or_else(|_| root.clone());
        match canonical.strip_prefix(&root) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    /// Generates `<name>.rs` for each spec (named by the spec's `name`); returns the paths
    /// written. Every file is checked before any problem is returned.
    pub fn compile(&self, specs: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()),
        };
        let mut loaded = Vec::new();
        let mut failed = Vec::new();
        for path in specs {
            let path = path.as_ref();
            if self.cargo_directives {
                assert!(path.exists(), "spec file {} does not exist", path.display());
                println!("cargo:rerun-if-changed={}", path.display());
            }
            match load_named(path, &self.display_name(path)) {
                Ok(spec) => loaded.push(spec),
                Err(e) => failed.push(e),
            }
        }
        if !failed.is_empty() {
            return Err(BuildError::Spec(AllSpecErrors(failed)));
        }
        let mut written = Vec::new();
        for spec in loaded {
            let code = rust::generate(
                &spec,
                &rust::Options {
                    runtime: self.runtime.clone(),
                },
            )
            .and_then(|code| Ok(code + "\n" + &fields::generate(&spec)?))
            .map_err(|message| BuildError::Emit {
                file: spec.name.clone(),
                message,
            })?;
            let target = out_dir.join(format!("{}.rs", spec.protocol.name));
            std::fs::write(&target, code).map_err(|source| BuildError::Io {
                path: target.clone(),
                source,
            })?;
            written.push(target);
        }
        Ok(written)
    }
}

/// The outermost directory above (or at) `dir` whose `Cargo.toml` declares a `[workspace]`;
/// `dir` itself if there is none.
pub fn workspace_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .filter(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .last()
        .unwrap_or(dir)
        .to_path_buf()
}

//! tilegame-codegen: the protocol generator.
//!
//! Maintainers declare packets in RON (`protocol/spec/*.ron`); this library parses a spec
//! ([`parse`]), checks every rule over the whole spec at once ([`validate`]), and emits:
//! binrw Rust types ([`rust`]), a Markdown reference ([`docs`]), a Wireshark Lua dissector
//! ([`dissector`]); it also classifies the changes between two versions of a spec ([`compat`]).
//! `protocol/build.rs` calls [`Builder`]; the `tilegame-protocol` binary wraps the rest.
//!
//! Like prost-build, the generator is a library and the build script stays thin; the generated
//! code is written to `OUT_DIR` and `include!`d, never committed.

pub mod compat;
pub mod diagnostic;
pub mod dissector;
pub mod docs;
pub mod hash;
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

/// Parses and validates spec text.
pub fn load_str(name: &str, source: &str) -> Result<SpecFile, SpecErrors> {
    let spec = parse::parse_str(name, source).map_err(|d| SpecErrors {
        file: name.to_owned(),
        source: source.to_owned(),
        diagnostics: vec![d],
    })?;
    let diagnostics = validate::validate(&spec);
    if diagnostics.is_empty() {
        Ok(spec)
    } else {
        Err(SpecErrors {
            file: name.to_owned(),
            source: source.to_owned(),
            diagnostics,
        })
    }
}

/// Reads, parses and validates a spec file.
pub fn load(path: &Path) -> Result<SpecFile, SpecErrors> {
    let name = path.display().to_string();
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

/// Errors from [`Builder::compile`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A spec is invalid.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
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

/// Compiles spec files into Rust modules in an output directory (for build scripts).
#[derive(Debug, Clone)]
pub struct Builder {
    runtime: String,
    out_dir: Option<PathBuf>,
    cargo_directives: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            runtime: "crate::wire".to_owned(),
            out_dir: None,
            cargo_directives: true,
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

    /// Generates `<name>.rs` for each spec (named by the spec's `name`); returns the paths written.
    pub fn compile(&self, specs: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()),
        };
        let mut written = Vec::new();
        for path in specs {
            let path = path.as_ref();
            if self.cargo_directives {
                assert!(path.exists(), "spec file {} does not exist", path.display());
                println!("cargo:rerun-if-changed={}", path.display());
            }
            let spec = load(path)?;
            let code = rust::generate(
                &spec,
                &rust::Options {
                    runtime: self.runtime.clone(),
                },
            )
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

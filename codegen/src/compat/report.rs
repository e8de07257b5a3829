//! What a spec change means beyond its wire class: the spec hash, the generated Rust API, and
//! old recordings.
//!
//! Recordings (`.tgr` files) store the spec hash of the build that wrote them, and
//! `tilegame-replay` refuses a file whose hash differs from its own (`WrongProtocol`), so after
//! any hash change old recordings need a build of the old spec. What each change would do to
//! their frames is still worth knowing, and is said per change: they replay as-is (the bytes did
//! not change), only with the widened reader (the new reader accepts them; files recorded after
//! the change do not open in an old build), with a different simulation (constants, properties:
//! re-simulation may diverge), or no longer open (the frames no longer decode).

use std::fmt;

use super::{api, is_breaking, ApiChange, Change, Class};
use crate::parse::SpecFile;

/// What one change does to recordings made before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recordings {
    /// The bytes did not change: old recordings replay as-is.
    AsIs,
    /// The new reader accepts every old frame: old recordings replay only with the widened
    /// reader, and files recorded after the change do not open in an old build.
    Widened,
    /// The frames decode, but the rules changed: re-simulating a simulation recording may
    /// diverge from the hashes it recorded.
    Resimulated,
    /// Old frames no longer decode: old recordings no longer open.
    NoLongerOpen,
}

impl Recordings {
    /// Every verdict, from the best to the worst.
    pub const ALL: [Recordings; 4] = [
        Recordings::AsIs,
        Recordings::Widened,
        Recordings::Resimulated,
        Recordings::NoLongerOpen,
    ];

    /// The verdict for a change of this class.
    pub fn of(class: Class) -> Self {
        match class {
            Class::Docs | Class::Compatible | Class::Rules => Recordings::AsIs,
            Class::Widening => Recordings::Widened,
            Class::Constant | Class::Property => Recordings::Resimulated,
            Class::Breaking => Recordings::NoLongerOpen,
        }
    }

    /// The verdict in words, for recordings of a protocol (`files` false) or for files of a
    /// file format.
    fn words(self, files: bool) -> &'static str {
        match (self, files) {
            (Recordings::AsIs, false) => "replay as-is",
            (Recordings::AsIs, true) => "read as-is",
            (Recordings::Widened, false) => {
                "replay only with the widened reader (files recorded after the change do not open in an old build)"
            }
            (Recordings::Widened, true) => {
                "read only with the widened reader (files written after the change do not open in an old build)"
            }
            (Recordings::Resimulated, _) => {
                "frames decode, but the simulation changed: re-simulating a simulation recording (`verify`) may diverge"
            }
            (Recordings::NoLongerOpen, false) => "no longer open (their frames no longer decode)",
            (Recordings::NoLongerOpen, true) => {
                "no longer read (bump the format version so that readers refuse them with a clear error)"
            }
        }
    }
}

/// What a spec change means for deployed peers, code and recordings, besides the wire class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consequences {
    /// The old spec's hash (exchanged in the handshake, stored in recordings).
    pub old_hash: u64,
    /// The new spec's hash.
    pub new_hash: u64,
    /// Whether any wire change is breaking.
    pub wire_breaking: bool,
    /// Changes to the generated Rust items (and so to their serde/JSON names).
    pub api: Vec<ApiChange>,
    /// The spec declares a file format (no connection states, like `replay.ron`), not a
    /// connection protocol: no handshake exchanges its hash, and "recordings" means its files.
    pub file_format: bool,
    /// Per change (its path), what it does to old recordings.
    pub recordings: Vec<(Recordings, String)>,
}

impl Consequences {
    /// Whether the spec hash changed.
    pub fn hash_changed(&self) -> bool {
        self.old_hash != self.new_hash
    }

    /// The paths with the verdict `r`, each once, in order.
    fn paths(&self, r: Recordings) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (v, path) in &self.recordings {
            if *v == r && !out.contains(&path.as_str()) {
                out.push(path);
            }
        }
        out
    }

    /// One line per verdict that some change has, listing those changes.
    fn per_change(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in Recordings::ALL {
            let paths = self.paths(r);
            if !paths.is_empty() {
                writeln!(f, "  {}: {}", r.words(self.file_format), paths.join(", "))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Consequences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file_format && self.hash_changed() {
            writeln!(
                f,
                "spec hash: {:#018x} → {:#018x} (a file format: no handshake exchanges it)",
                self.old_hash, self.new_hash
            )?;
        } else if self.hash_changed() {
            writeln!(
                f,
                "spec hash: {:#018x} → {:#018x}: peers built from the old spec are refused at the \
                 handshake (SpecMismatch); deploy the server and the clients together",
                self.old_hash, self.new_hash
            )?;
        } else if self.file_format {
            writeln!(f, "spec hash: unchanged ({:#018x})", self.old_hash)?;
        } else {
            writeln!(
                f,
                "spec hash: unchanged ({:#018x}): old and new peers accept each other",
                self.old_hash
            )?;
        }
        if self.api.is_empty() {
            writeln!(f, "Rust API: unchanged")?;
        } else {
            writeln!(
                f,
                "Rust API: {} change(s){}:",
                self.api.len(),
                if self.api.iter().any(ApiChange::breaks_code) {
                    "; code using a renamed, removed or retyped item, a match on an enum that \
                     gained a variant, or a literal of a struct that gained a field no longer \
                     compiles, and serde/JSON names and types follow the Rust ones (replay `dump \
                     --format json` output changes)"
                } else {
                    ""
                }
            )?;
            for change in &self.api {
                writeln!(f, "  {change}")?;
            }
        }
        if self.file_format {
            if self.recordings.is_empty() {
                return writeln!(f, "files: files written in the old format read as before");
            }
            writeln!(f, "files: per change, files written in the old format:")?;
            return self.per_change(f);
        }
        if !self.hash_changed() {
            if self.recordings.is_empty() {
                return writeln!(f, "recordings: old .tgr files replay as before");
            }
            writeln!(
                f,
                "recordings: old .tgr files replay as-is (the spec hash they record is unchanged)"
            )?;
            return Ok(());
        }
        writeln!(
            f,
            "recordings: old .tgr files record spec hash {:#018x}, which `tilegame-replay` built \
             from the new spec refuses (WrongProtocol) whatever the change: replay them with a \
             build of the old spec. Judged by their frames, per change:",
            self.old_hash
        )?;
        self.per_change(f)
    }
}

/// The consequences of going from `old` to `new`, given their `changes` (from [`super::diff`]).
pub fn consequences(old: &SpecFile, new: &SpecFile, changes: &[Change]) -> Consequences {
    Consequences {
        old_hash: crate::hash::spec_hash(&old.protocol),
        new_hash: crate::hash::spec_hash(&new.protocol),
        wire_breaking: is_breaking(changes),
        api: api::changes(&old.protocol, &new.protocol),
        file_format: old.protocol.states.is_empty() && new.protocol.states.is_empty(),
        recordings: changes
            .iter()
            .map(|c| (c.recordings, c.path.clone()))
            .collect(),
    }
}

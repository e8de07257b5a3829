//! The ban list: names and addresses refused at login until a time, kept in a file.
//!
//! A ban names a player (compared ignoring ASCII case, as the protocol compares names) or an IP
//! address, with the operator's reason and an expiry (or none). With `--bans FILE` the list is
//! written to that file (JSON, replaced atomically through a temporary file) after every change
//! and read back at start, expired bans dropped; without it bans last until the server stops.
//! The file is hostile input like any other: its size and the number of bans are bounded, and a
//! bad file is an error naming it, never a panic.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The largest bans file read at start.
const MAX_FILE_BYTES: u64 = 8 << 20;
/// The most bans kept.
pub const MAX_BANS: usize = 65_536;

/// What a ban refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A player name (ASCII case ignored).
    Name(String),
    /// Every connection from this IP address.
    Address(IpAddr),
}

impl Target {
    fn same(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Name(a), Target::Name(b)) => a.eq_ignore_ascii_case(b),
            (Target::Address(a), Target::Address(b)) => a == b,
            _ => false,
        }
    }

    fn refuses(&self, name: &str, ip: IpAddr) -> bool {
        match self {
            Target::Name(n) => n.eq_ignore_ascii_case(name),
            Target::Address(a) => *a == ip,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Name(n) => write!(f, "name {n}"),
            Target::Address(a) => write!(f, "address {a}"),
        }
    }
}

/// One ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// Who is refused.
    #[serde(flatten)]
    pub target: Target,
    /// The operator's reason, shown to the refused player.
    pub reason: String,
    /// When it was made (Unix milliseconds).
    pub since_unix_ms: u64,
    /// When it ends (Unix milliseconds); `None` for never.
    pub until_unix_ms: Option<u64>,
    /// The address of the admin caller who made it.
    pub by: String,
}

impl Ban {
    fn expired(&self, now_unix_ms: u64) -> bool {
        self.until_unix_ms.is_some_and(|until| until <= now_unix_ms)
    }

    /// The message a refused player is shown.
    pub fn message(&self) -> String {
        let until = match self.until_unix_ms {
            Some(ms) => format!(" until {}", unix_ms_text(ms)),
            None => String::new(),
        };
        format!("banned{until}: {}", self.reason)
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn unix_ms_text(ms: u64) -> String {
    match i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    {
        Some(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => format!("{ms} ms after 1970 (out of the calendar's range)"),
    }
}

/// The wall clock in Unix milliseconds.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Problems with the bans file.
#[derive(Debug, thiserror::Error)]
pub enum BansError {
    /// The file could not be read or written.
    #[error("bans file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a list of bans.
    #[error("bans file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The list is full.
    #[error("too many bans (at most {MAX_BANS})")]
    Full,
}

#[derive(Serialize, Deserialize)]
struct File {
    bans: Vec<Ban>,
}

/// The bans in force, and the file they are kept in.
#[derive(Debug, Default)]
pub struct Bans {
    path: Option<PathBuf>,
    list: Mutex<Vec<Ban>>,
}

impl Bans {
    /// The bans kept in `path` (none yet if it does not exist), expired ones dropped; without
    /// a path, an empty list kept in memory.
    pub fn load(path: Option<&Path>) -> Result<Bans, BansError> {
        let Some(path) = path else {
            return Ok(Bans::default());
        };
        let io = |source| BansError::Io {
            path: path.to_owned(),
            source,
        };
        let list = match std::fs::File::open(path) {
            Ok(f) => {
                use std::io::Read;
                let mut text = String::new();
                f.take(MAX_FILE_BYTES + 1)
                    .read_to_string(&mut text)
                    .map_err(io)?;
                if text.len() as u64 > MAX_FILE_BYTES {
                    return Err(BansError::Parse {
                        path: path.to_owned(),
                        message: format!("larger than {MAX_FILE_BYTES} bytes"),
                    });
                }
                let file: File = serde_json::from_str(&text).map_err(|e| BansError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                if file.bans.len() > MAX_BANS {
                    return Err(BansError::Full);
                }
                file.bans
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let bans = Bans {
            path: Some(path.to_owned()),
            list: Mutex::new(list),
        };
        bans.with(|_| true)?;
        Ok(bans)
    }

    /// Runs `f` on the list with expired bans dropped; saves the list if `f` says it changed it
    /// (or expired bans were dropped).
    fn with<T>(&self, f: impl FnOnce(&mut Vec<Ban>) -> T) -> Result<T, BansError>
    where
        T: Changed,
    {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_unix_ms();
        let before = list.len();
        list.retain(|b| !b.expired(now));
        let out = f(&mut list);
        if out.changed() || list.len() != before {
            self.save(&list)?;
        }
        Ok(out)
    }

    fn save(&self, list: &[Ban]) -> Result<(), BansError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| BansError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&File {
            bans: list.to_vec(),
        })
        .map_err(|e| BansError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Adds (or replaces) the ban on `ban.target`.
    pub fn add(&self, ban: Ban) -> Result<(), BansError> {
        self.with(|list| {
            list.retain(|b| !b.target.same(&ban.target));
            if list.len() >= MAX_BANS {
                return Err(BansError::Full);
            }
            list.push(ban);
            Ok(())
        })?
    }

    /// Removes the ban on `target`; returns it if there was one.
    pub fn remove(&self, target: &Target) -> Result<Option<Ban>, BansError> {
        self.with(|list| {
            let i = list.iter().position(|b| b.target.same(target))?;
            Some(list.remove(i))
        })
    }

    /// The bans in force.
    pub fn list(&self) -> Result<Vec<Ban>, BansError> {
        self.with(|list| Unchanged(list.clone())).map(|u| u.0)
    }

    /// The ban that refuses a player named `name` connecting from `ip`, if any.
    pub fn refusing(&self, name: &str, ip: IpAddr) -> Option<Ban> {
        let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let now = now_unix_ms();
        list.iter()
            .find(|b| !b.expired(now) && b.target.refuses(name, ip))
            .cloned()
    }
}

/// Whether an operation on the list changed it (and the file must be written).
trait Changed {
    fn changed(&self) -> bool;
}

impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}

impl<T, E> Changed for Result<T, E> {
    fn changed(&self) -> bool {
        self.is_ok()
    }
}

impl<T> Changed for Option<T> {
    fn changed(&self) -> bool {
        self.is_some()
    }
}

struct Unchanged<T>(T);

impl<T> Changed for Unchanged<T> {
    fn changed(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(target: Target, until: Option<u64>) -> Ban {
        Ban {
            target,
            reason: "griefing".into(),
            since_unix_ms: 0,
            until_unix_ms: until,
            by: "127.0.0.1:1".into(),
        }
    }

    #[test]
    fn names_ignore_case_and_addresses_match_exactly() {
        let bans = Bans::load(None).unwrap();
        bans.add(ban(Target::Name("Bob".into()), None)).unwrap();
        bans.add(ban(Target::Address("10.0.0.7".parse().unwrap()), None))
            .unwrap();
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(bans.refusing("bOB", here).is_some());
        assert!(bans.refusing("alice", here).is_none());
        assert!(bans
            .refusing("alice", "10.0.0.7".parse().unwrap())
            .is_some());
        assert!(bans.remove(&Target::Name("BOB".into())).unwrap().is_some());
        assert!(bans.refusing("bob", here).is_none());
    }

    #[test]
    fn the_file_keeps_bans_and_drops_expired_ones() {
        let dir = std::env::temp_dir().join(format!("tilegame-bans-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bans.json");
        let _ = std::fs::remove_file(&path);
        let bans = Bans::load(Some(&path)).unwrap();
        bans.add(ban(
            Target::Name("kept".into()),
            Some(now_unix_ms() + 3_600_000),
        ))
        .unwrap();
        bans.add(ban(Target::Name("gone".into()), Some(1))).unwrap();
        let again = Bans::load(Some(&path)).unwrap();
        let names: Vec<_> = again
            .list()
            .unwrap()
            .into_iter()
            .map(|b| b.target)
            .collect();
        assert_eq!(names, vec![Target::Name("kept".into())]);
        std::fs::write(&path, "{\"bans\": 3}").unwrap();
        let err = Bans::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("bans.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dates_are_readable() {
        assert_eq!(unix_ms_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(unix_ms_text(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
        assert!(unix_ms_text(u64::MAX).contains("out of the calendar"));
    }
}

//! Texts built from state: failure messages that name the address, and the player list's
//! natural order.
//!
//! Why it exists: the issue with the old client was messages that repeated themselves and raw
//! OS errors without the address. Here a failure becomes one translated sentence naming the
//! address, plus the OS's or server's own words as a secondary line when they add something.

use std::cmp::Ordering;

use super::i18n::Localizer;
use super::screens::{Attempt, Failure};
use crate::net::ConnectionState;

/// The translation key of a failure state.
pub fn failure_key(state: &ConnectionState) -> &'static str {
    match state {
        ConnectionState::InvalidHost => "error-invalid-host",
        ConnectionState::Refused => "error-refused",
        ConnectionState::Timeout => "error-timeout",
        ConnectionState::NoRoute => "error-no-route",
        ConnectionState::Disconnected => "error-disconnected",
        ConnectionState::NameTaken => "error-name-taken",
        ConnectionState::ServerFull => "error-server-full",
        ConnectionState::Busy => "error-busy",
        ConnectionState::Kicked => "error-kicked",
        ConnectionState::Banned => "error-banned",
        ConnectionState::ServerFailure => "error-server-failure",
        ConnectionState::VersionMismatch => "error-version",
        _ => "error-other",
    }
}

/// The failure as (main message naming `address`, secondary detail line if it adds anything).
pub fn failure_text(
    i18n: &Localizer,
    address: &str,
    attempt: &Attempt,
    failure: &Failure,
) -> (String, Option<String>) {
    let main = i18n.text_with(
        failure_key(&failure.state),
        &[
            ("address", address.into()),
            ("name", attempt.name.as_str().into()),
        ],
    );
    // A name clash is fully said by the main line; the server's words would repeat it.
    let repeats = matches!(failure.state, ConnectionState::NameTaken);
    let detail = failure.detail.trim();
    let secondary = (!detail.is_empty() && !repeats)
        .then(|| i18n.text_with("error-detail", &[("detail", detail.into())]));
    (main, secondary)
}

/// Compares names the way people expect: case-insensitively, with digit runs as numbers
/// (`bot2` before `bot10`), ties broken by the plain byte order so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (m0, n0) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let o = m0.len().cmp(&n0.len()).then_with(|| m0.cmp(n0));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                x.next();
                y.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt() -> Attempt {
        Attempt {
            address: "10.1.2.3:35000".into(),
            name: "alice".into(),
            host: None,
        }
    }

    #[test]
    fn every_failure_names_the_address_in_every_language() {
        for code in crate::ui::i18n::codes() {
            let i18n = Localizer::new(code).unwrap();
            for state in [
                ConnectionState::InvalidHost,
                ConnectionState::Refused,
                ConnectionState::Timeout,
                ConnectionState::NoRoute,
                ConnectionState::Disconnected,
                ConnectionState::NameTaken,
                ConnectionState::ServerFull,
                ConnectionState::Busy,
                ConnectionState::Kicked,
                ConnectionState::Banned,
                ConnectionState::ServerFailure,
                ConnectionState::VersionMismatch,
                ConnectionState::Error,
            ] {
                let f = Failure {
                    state: state.clone(),
                    detail: "Connection refused (os error 111)".into(),
                };
                let (main, detail) = failure_text(&i18n, "10.1.2.3:35000", &attempt(), &f);
                assert!(main.contains("10.1.2.3:35000"), "{code} {state:?}: {main}");
                if state == ConnectionState::NameTaken {
                    assert!(main.contains("alice"), "{code}: {main}");
                    assert_eq!(detail, None);
                } else {
                    assert!(detail.unwrap().contains("os error 111"));
                }
            }
        }
    }

    #[test]
    fn empty_details_add_no_line() {
        let i18n = Localizer::english();
        let f = Failure {
            state: ConnectionState::Timeout,
            detail: "  ".into(),
        };
        assert_eq!(failure_text(&i18n, "h:1", &attempt(), &f).1, None);
    }

    #[test]
    fn natural_order() {
        let mut names = vec![
            "bot10", "Bob", "bot2", "alice", "bot1", "bot02", "Alice", "z",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec!["Alice", "alice", "Bob", "bot1", "bot02", "bot2", "bot10", "z"]
        );
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        assert_eq!(natural_cmp("a9", "a10"), Ordering::Less);
    }
}

//! Server addresses as players type them: `host`, `host:port`, `[v6]:port`.
//!
//! Why it exists: the join screen and `--connect` accept an address without a port, which
//! means the default port (35000), and must reject a malformed one before connecting, with a
//! reason the player can act on.

/// The port a server listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 35000;

/// The longest address accepted (a DNS name is at most 253 bytes, plus brackets and a port).
pub const MAX_ADDRESS_LEN: usize = 261;

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing was typed.
    #[error("the address is empty")]
    Empty,
    /// Longer than [`MAX_ADDRESS_LEN`].
    #[error("the address is {0} bytes long; at most {MAX_ADDRESS_LEN} are allowed")]
    TooLong(usize),
    /// The port is not a number in 1..=65535.
    #[error("{0:?} is not a port number (1 to 65535)")]
    BadPort(String),
    /// The host part is empty or has characters no host name has.
    #[error("{0:?} is not a host name or IP address")]
    BadHost(String),
}

/// Normalises a typed address to `host:port` (IPv6 in brackets), adding [`DEFAULT_PORT`].
pub fn normalize_address(text: &str) -> Result<String, AddressError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    if text.len() > MAX_ADDRESS_LEN {
        return Err(AddressError::TooLong(text.len()));
    }
    // A bare IPv6 address has several colons and no brackets.
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{text}]:{DEFAULT_PORT}"));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::BadHost(text.to_owned()))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(AddressError::BadHost(host.to_owned()));
        }
        match after {
            "" => (format!("[{host}]"), None),
            p => match p.strip_prefix(':') {
                Some(port) => (format!("[{host}]"), Some(port)),
                None => return Err(AddressError::BadHost(text.to_owned())),
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        }
    };
    if !host.starts_with('[') {
        let ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
        if !ok {
            return Err(AddressError::BadHost(host));
        }
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(AddressError::BadPort(p.to_owned())),
        },
    };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_added() {
        assert_eq!(normalize_address("127.0.0.1").unwrap(), "127.0.0.1:35000");
        assert_eq!(
            normalize_address(" example.org ").unwrap(),
            "example.org:35000"
        );
        assert_eq!(normalize_address("::1").unwrap(), "[::1]:35000");
        assert_eq!(normalize_address("[::1]").unwrap(), "[::1]:35000");
    }

    #[test]
    fn explicit_ports_are_kept() {
        assert_eq!(
            normalize_address("localhost:4000").unwrap(),
            "localhost:4000"
        );
        assert_eq!(normalize_address("[::1]:9").unwrap(), "[::1]:9");
    }

    #[test]
    fn bad_addresses_are_rejected_with_a_reason() {
        assert_eq!(normalize_address("  "), Err(AddressError::Empty));
        assert_eq!(
            normalize_address("host:0"),
            Err(AddressError::BadPort("0".into()))
        );
        assert_eq!(
            normalize_address("host:99999"),
            Err(AddressError::BadPort("99999".into()))
        );
        assert_eq!(
            normalize_address("host:"),
            Err(AddressError::BadPort(String::new()))
        );
        assert!(matches!(
            normalize_address("bad host"),
            Err(AddressError::BadHost(_))
        ));
        assert!(matches!(
            normalize_address("[nope]:1"),
            Err(AddressError::BadHost(_))
        ));
        let long = "a".repeat(MAX_ADDRESS_LEN + 1);
        assert!(matches!(
            normalize_address(&long),
            Err(AddressError::TooLong(_))
        ));
    }
}

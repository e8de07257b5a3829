//! Which player names are taken: a name is refused while another player's name is the same
//! ignoring case, or looks the same — the confusable skeleton of Unicode TS #39
//! (`unicode-security`), of the name as typed and of its lower case — so that "AIice" (a
//! capital I) or, once the alphabet allows Cyrillic, "Аlice" (a Cyrillic А) cannot pass for
//! "Alice". Names are compared after NFC normalisation.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;

/// The names of the players present, by every key that makes another name collide.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// Collision keys, each with how many present names have it.
    keys: BTreeMap<String, u32>,
}

/// The keys a name collides on: its lower case, and the skeletons of it and of its lower case.
fn keys(name: &str) -> [String; 3] {
    let nfc: String = name.nfc().collect();
    let lower = nfc.to_lowercase();
    [
        format!("l:{lower}"),
        format!("s:{}", skeleton(&nfc).collect::<String>()),
        format!("s:{}", skeleton(&lower).collect::<String>()),
    ]
}

impl Names {
    /// Whether `name` collides with a present name.
    pub fn taken(&self, name: &str) -> bool {
        keys(name).iter().any(|k| self.keys.contains_key(k))
    }

    /// Records a present name; false (and nothing recorded) when it collides.
    pub fn insert(&mut self, name: &str) -> bool {
        if self.taken(name) {
            return false;
        }
        let mut keys = keys(name).to_vec();
        keys.sort();
        keys.dedup();
        for k in keys {
            *self.keys.entry(k).or_default() += 1;
        }
        true
    }

    /// Forgets a name that was recorded.
    pub fn remove(&mut self, name: &str) {
        let mut keys = keys(name).to_vec();
        keys.sort();
        keys.dedup();
        for k in keys {
            if let Some(n) = self.keys.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    self.keys.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_confusables_collide_and_leaving_frees_the_name() {
        let mut names = Names::default();
        assert!(names.insert("Alice"));
        for other in [
            "alice",
            "ALICE",
            "AIice",
            "A1ice",
            "\u{410}lice",
            "Alic\u{435}",
        ] {
            assert!(names.taken(other), "{other:?} passes for Alice");
            assert!(!names.insert(other));
        }
        assert!(names.insert("Bob"));
        assert!(!names.taken("Alicia"));
        assert!(names.insert("rnary"));
        assert!(names.taken("mary"), "rn looks like m");
        names.remove("Alice");
        assert!(!names.taken("alice"));
        assert!(names.taken("bob"));
        // "e" + combining acute and the precomposed "é" are one name.
        assert!(names.insert("Zoe\u{301}"));
        assert!(names.taken("Zoé"));
    }
}

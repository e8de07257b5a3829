//! Player names end to end: names in the scripts of every language the game ships (Latin with
//! diacritics, Cyrillic, kana, Han) join and reach the other players as their NFC form; a name
//! that looks like a present one — another case, another normalisation, or a confusable
//! (Unicode TS #39 skeleton) such as a capital I for an l — is refused as NameTaken over a real
//! connection, and is free again once that player leaves; a character outside the alphabet is
//! refused as InvalidName with the allowed set named.

use tilegame_protocol::v1::JoinError;
use tilegame_tests::{start_server, test_config, ClientError, TestClient};

fn refused(result: Result<TestClient, ClientError>) -> JoinError {
    match result {
        Err(ClientError::JoinRejected(r)) => r.reason,
        Err(e) => panic!("expected a JoinRejected, got {e}"),
        Ok(_) => panic!("expected a JoinRejected, the join succeeded"),
    }
}

#[test]
fn a_look_alike_of_a_present_name_is_taken_until_it_leaves() {
    let server = start_server(test_config());
    let mut alice = TestClient::join(server.addr(), "Alice").expect("Alice joins");
    for look_alike in ["alice", "AIice", "A1ice"] {
        assert_eq!(
            refused(TestClient::join(server.addr(), look_alike)),
            JoinError::NameTaken,
            "{look_alike}"
        );
    }
    let _alicia = TestClient::join(server.addr(), "Alicia").expect("another name plays");
    alice
        .send::<tilegame_protocol::v1::marker::Play, _>(&tilegame_protocol::v1::Disconnect {})
        .expect("leaves");
    let deadline = std::time::Instant::now() + tilegame_tests::WAIT;
    loop {
        match TestClient::join(server.addr(), "AIice") {
            Ok(_) => break,
            Err(ClientError::JoinRejected(r)) if r.reason == JoinError::NameTaken => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the name never came free"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn names_in_each_languages_script_join_and_are_seen_by_others() {
    let server = start_server(tilegame_server::ServerConfig {
        max_players: 16,
        ..test_config()
    });
    // en/es/fr/pl (Latin with diacritics), ru (Cyrillic), ja (kana, kanji), zh (Han); the
    // last is sent decomposed ("e" + combining diaeresis) and admitted as its NFC form.
    let names = [
        "Zoë",
        "Łukasz",
        "François",
        "Дмитрий",
        "さくら",
        "山田タロー",
        "王小明",
        "Noe\u{308}l",
    ];
    let mut clients = Vec::new();
    for name in names {
        clients
            .push(TestClient::join(server.addr(), name).unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    let watcher = clients.first_mut().expect("a client");
    watcher
        .until("every name seen", |c| {
            let seen: Vec<&str> = c.players.values().map(|p| p.name.as_str()).collect();
            ["Zoë", "Łukasz", "Дмитрий", "さくら", "王小明", "Noël"]
                .iter()
                .all(|n| seen.contains(n))
        })
        .expect("the others' names arrive as sent (NFC)");
    // A Cyrillic look-alike of a present Latin name, and the NFC twin of one, are taken.
    for twin in ["Zo\u{435}\u{308}", "Noël", "ДМИТРИЙ"] {
        assert_eq!(
            refused(TestClient::join(server.addr(), twin)),
            JoinError::NameTaken,
            "{twin:?}"
        );
    }
}

#[test]
fn a_character_outside_the_alphabet_is_refused_naming_what_is_allowed() {
    let server = start_server(test_config());
    for (name, shown) in [("ab😀", "U+1F600"), ("سلام", "U+0633"), ("a b", "U+0020")] {
        match TestClient::join(server.addr(), name) {
            Err(ClientError::JoinRejected(r)) => {
                assert_eq!(r.reason, JoinError::InvalidName, "{name}");
                assert!(
                    r.message.contains(shown) && r.message.contains("Latin, Cyrillic"),
                    "{name}: {}",
                    r.message
                );
            }
            Err(e) => panic!("{name}: {e}"),
            Ok(_) => panic!("{name} joined"),
        }
    }
    // 17 characters, 51 bytes: decodes (under NAME_MAX_BYTES) and is refused as too long.
    assert_eq!(
        refused(TestClient::join(server.addr(), &"漢".repeat(17))),
        JoinError::InvalidName
    );
}

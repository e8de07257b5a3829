//! Player names end to end: a name that looks like a present one — another case, or a
//! confusable (Unicode TS #39 skeleton) such as a capital I for an l — is refused as NameTaken
//! over a real connection, and is free again once that player leaves.

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

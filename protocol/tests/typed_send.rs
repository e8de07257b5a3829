//! Sending a packet outside its state does not compile: each `compile_fail/*.rs` program must
//! fail with the error recorded next to it (the missing `ClientPacket<…>` / `ServerPacket<…>`).

#[test]
fn packets_of_another_state_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

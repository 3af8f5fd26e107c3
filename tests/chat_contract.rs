//! The chat example's client contract, checked in at `examples/chat/contract/`,
//! is what its declarations generate. Regenerate it with
//! `FAST_APP_CONTRACT=overwrite cargo test --test chat_contract`.

#[allow(dead_code)]
#[path = "../examples/chat/socketio.rs"]
mod socketio;

use fast_app::contract::Contract;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/chat/contract");

#[test]
fn the_chat_contract_checked_in_is_the_one_its_code_generates() {
    let contract = Contract::of_program().expect("the chat's registry has a contract");
    if let Err(e) = contract.titled("chat", "0.1.0").sync(DIR) {
        panic!("{e}");
    }
}

//! The client contract: the namespaces, rooms and events of this crate as
//! socket.io-client TypeScript (contract/index.ts), JSON Schema
//! (contract/schemas/) and AsyncAPI (contract/asyncapi.json).
//!
//! `cargo test` fails while contract/ is not what the code declares, and a
//! new project has none yet: its first `cargo test` says the contract is out
//! of date (`missing`). Generate it, and again after each change to a room
//! or an event, then commit contract/ for the clients:
//!
//! ```text
//! FAST_APP_CONTRACT=overwrite cargo test client_contract
//! ```

/// contract/ holds what the code declares: checked, or written with
/// `FAST_APP_CONTRACT=overwrite`.
#[test]
fn client_contract_is_current() {
    let contract = fast_app::contract::Contract::of_program()
        .expect("the namespaces, rooms and events of this crate make a contract")
        .titled(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    if let Err(e) = contract.sync(concat!(env!("CARGO_MANIFEST_DIR"), "/contract")) {
        panic!("{e}")
    }
}

use fast_app::prelude::*;

struct Invitation {
    code: String,
}

async fn from_session(_session: &Session, _payload: serde_json::Value) -> Result<InboxRoom, ValidationError> {
    Ok(InboxRoom)
}

// The named join payload must describe itself to the client contract.
#[derive(Room)]
#[room(extract = from_session, payload = Invitation)]
struct InboxRoom;

fn main() {}

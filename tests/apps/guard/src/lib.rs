//! An essential test app (`essential = true`, priority 10): its pre-send hook refuses
//! messages containing "blocked-word" with the reason "guard says no", and panics on
//! "guard-panic" — which, since the app is essential, must refuse the message too
//! (fail closed).

use palaver_apps_sdk::prelude::*;

#[derive(Default)]
struct Guard;

impl App for Guard {
    fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
        if message.text.contains("guard-panic") {
            panic!("guard panic");
        }
        if message.text.contains("blocked-word") {
            return Ok(PreSendDecision::prevent("guard says no"));
        }
        Ok(PreSendDecision::Continue)
    }
}

palaver_apps_sdk::export_app!(Guard);

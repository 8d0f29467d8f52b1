//! Google Calendar for Palaver: each user connects their own calendar with OAuth 2.0
//! and uses it from the chat.
//!
//! - `/gcal login` answers privately with Google's consent URL (offline access, the
//!   calendar events scope, a random single-use `state` bound to the user with an
//!   expiry); the public endpoint `oauth-callback` checks the `state`, exchanges the
//!   code and stores the tokens for that user only.
//! - `/gcal today`, `/gcal week`, `/gcal add <text>` (Google's quick add),
//!   `/gcal invite <title> <start> <duration>` (invites the room's members by e-mail),
//!   `/gcal tz [zone]`, `/gcal logout` (revokes at Google, deletes the tokens),
//!   `/gcal help`.
//! - A recurring job sends each connected user a direct message before each event,
//!   once per event even across restarts and several instances.
//!
//! Access tokens are refreshed when they expire or Google refuses them; a grant
//! Google no longer accepts disconnects the user and asks them to log in again.

mod commands;
mod config;
mod error;
mod google;
mod notify;
mod oauth;
mod page;
mod prefs;
mod reminders;
mod when;

use palaver_apps_sdk::prelude::*;

/// The app. It keeps no state of its own: everything lives in persistence.
#[derive(Default)]
pub struct GoogleCalendar;

impl App for GoogleCalendar {
    fn on_enable(&self) -> Result<()> {
        reminders::schedule().map(drop)
    }

    fn on_settings_updated(&self, ids: &[String]) -> Result<()> {
        if ids.iter().any(|id| id == "reminder-check-seconds") {
            reminders::schedule()?;
        }
        Ok(())
    }

    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        commands::run(ctx)
    }

    fn handle_request(&self, request: &EndpointRequest) -> Result<EndpointResponse> {
        if request.path.trim_matches('/') == oauth::CALLBACK_PATH {
            return Ok(oauth::callback(request));
        }
        Ok(EndpointResponse::not_found())
    }

    fn run_job(&self, job: &Job) -> Result<()> {
        if job.name == reminders::JOB {
            return reminders::run(job);
        }
        Err(Error::Invalid(format!("unknown job: {}", job.name)))
    }
}

palaver_apps_sdk::export_app!(GoogleCalendar);

//! # Palaver apps SDK
//!
//! Write [Palaver](https://example.com/palaver) apps in Rust. An app is a WebAssembly
//! component (`wasm32-wasip2`) that the server runs sandboxed: it reacts to chat events,
//! answers slash commands, serves HTTP endpoints, runs scheduled jobs and calls out over
//! HTTP — each only within the permissions an admin granted it.
//!
//! This crate is an idiomatic layer over the bindings that `wit-bindgen` generates for
//! the contract, the WIT package `palaver:apps@0.1.0` (see [`API_VERSION`]):
//!
//! - the [`App`] trait, with a default for every handler, and the [`export_app!`] macro
//!   that turns a type implementing it into the component's exports;
//! - typed helpers for everything the host offers: [`messages`] (with the [`Message`]
//!   builder), [`rooms`], [`users`], [`persistence`] (bytes or serde JSON), [`settings`]
//!   (typed values), [`http`] (a request builder with JSON bodies), [`scheduler`],
//!   [`environment`] and [`log`] (also as the [`info!`], [`warn!`], … macros);
//! - [`Args`], a small command-line parser for slash command parameters (quoted
//!   strings, sub-commands);
//! - one [`Error`] type mirroring the contract's `error` variant, so every fallible call
//!   returns a [`Result`] and a refusal (`permission-denied`, `limit-exceeded`, …) is an
//!   ordinary Rust error.
//!
//! ## Building an app
//!
//! An app is a `cdylib` crate with an `app.toml` manifest next to its `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! palaver-apps-sdk = { path = "../../apps-sdk" }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` file in
//! `target/wasm32-wasip2/release/` is the component. A package is a `.zip` holding
//! `app.toml` and that component as `app.wasm`.
//!
//! ## Example
//!
//! A complete app: `/greet [name]` posts a greeting and counts greetings in
//! persistence, a pre-send hook refuses messages containing the configured
//! `forbidden-word` setting and rewrites `:)`, and `/greet weather <city>` calls an
//! HTTP API.
//!
//! ```ignore
//! use palaver_apps_sdk::prelude::*;
//! use palaver_apps_sdk::{http, persistence, settings};
//! use serde::Deserialize;
//!
//! #[derive(Default)]
//! struct Greeter;
//!
//! #[derive(Deserialize)]
//! struct Weather {
//!     summary: String,
//! }
//!
//! impl App for Greeter {
//!     fn on_enable(&self) -> Result<()> {
//!         info!("greeter enabled on {}", palaver_apps_sdk::environment::site_url());
//!         Ok(())
//!     }
//!
//!     fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
//!         let args = ctx.args();
//!         match args.subcommand() {
//!             Some(("weather", rest)) => {
//!                 let city = rest.required(0, "city")?;
//!                 let weather: Weather = http::Request::get("https://weather.example.com/now")
//!                     .query(&[("city", city)])
//!                     .send()?
//!                     .error_for_status()?
//!                     .json()?;
//!                 Ok(CommandReply::ephemeral(format!("{city}: {}", weather.summary)))
//!             }
//!             _ => {
//!                 let name = args.rest(0).unwrap_or_else(|| ctx.sender.display_name().to_string());
//!                 let count: u64 = persistence::get_json("greetings")?.unwrap_or(0) + 1;
//!                 persistence::set_json("greetings", &count)?;
//!                 let message = ctx.reply(format!("Hello, {name}!")).emoji(":wave:");
//!                 Ok(CommandReply::message(message)
//!                     .with_ephemeral(format!("That was greeting number {count}.")))
//!             }
//!         }
//!     }
//!
//!     fn pre_message_sent(&self, message: &Message, _room: &Room) -> Result<PreSendDecision> {
//!         let word = settings::str_or("forbidden-word", "")?;
//!         if !word.is_empty() && message.text.contains(&word) {
//!             return Ok(PreSendDecision::prevent(format!("\"{word}\" is not allowed here")));
//!         }
//!         if message.text.contains(":)") {
//!             return Ok(PreSendDecision::modify(message.with_text(message.text.replace(":)", "🙂"))));
//!         }
//!         Ok(PreSendDecision::Continue)
//!     }
//! }
//!
//! palaver_apps_sdk::export_app!(Greeter);
//! ```
//!
//! ## State
//!
//! The host may run an app in a fresh instance for any call, so the value [`export_app!`]
//! creates lives only as long as its instance. State that must survive belongs in
//! [`persistence`]; fields of the app type are for caches and configuration that can be
//! rebuilt. Handlers take `&self`; use `Cell`/`RefCell` for caches.
//!
//! ## Errors and faults
//!
//! Host calls return [`Result`]; an error the app returns from a handler is reported to
//! whoever triggered it (the sender of a command sees it, a lifecycle error is shown to
//! the admin, an endpoint error becomes an HTTP error response). A panic, a trap or an
//! exceeded limit is a *fault*: the host logs it, answers safely and disables the app
//! after repeated faults. Panic messages are written to the app log by the SDK.
//!
//! ## Host builds
//!
//! The crate also compiles for the host target so that apps' pure logic can be
//! unit-tested with `cargo test`; calling a host function there panics (the imports
//! only exist inside Palaver).

#![warn(missing_docs)]

mod args;
mod error;
mod types;

pub mod environment;
pub mod http;
pub mod log;
pub mod messages;
pub mod persistence;
pub mod rooms;
pub mod scheduler;
pub mod settings;
pub mod users;

/// The raw bindings `wit-bindgen` generates for the `palaver:apps/app` world.
///
/// Apps rarely need them: everything is re-exported or wrapped at the crate root. They
/// are public because [`export_app!`] expands to code that refers to them.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.1",
        world: "app",
        pub_export_macro: true,
        default_bindings_module: "palaver_apps_sdk::bindings",
        export_macro_name: "__export_app_bindings",
        additional_derives: [PartialEq, Eq, serde::Serialize, serde::Deserialize],
    });
}

pub use args::Args;
pub use error::{Error, Result};

pub use bindings::palaver::apps::log::Level;
pub use bindings::palaver::apps::types::{
    Attachment, AttachmentField, CommandContext, CommandReply, EndpointRequest, EndpointResponse,
    Job, Message, PreSendDecision, PreviewItem, Room, RoomKind, SettingValue, User, UserRef,
};

/// The version of the WIT contract (`palaver:apps`) this SDK implements; an app's
/// manifest declares it as `api-version`.
pub const API_VERSION: &str = "0.1.0";

/// Everything most apps need, for `use palaver_apps_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        debug, error, info, warn, App, Args, Attachment, CommandContext, CommandReply,
        EndpointRequest, EndpointResponse, Error, Job, Message, PreSendDecision, PreviewItem,
        Result, Room, RoomKind, User, UserRef,
    };
}

/// A Palaver app: one handler per export of the contract, each with a default.
///
/// Implement the handlers your app needs and export the type with [`export_app!`]. The
/// host only calls what the manifest declares: event handlers for the `events` it lists,
/// [`execute_command`](App::execute_command) for its `commands`,
/// [`handle_request`](App::handle_request) for its `endpoints`.
///
/// Handlers with no result in the contract (`on-disable`, the `post-*` events, …) may
/// still return an error: the SDK writes it to the app log.
pub trait App {
    /// The app was installed. An error keeps it disabled and is shown to the admin.
    fn on_install(&self) -> Result<()> {
        Ok(())
    }

    /// The app is being enabled. An error keeps it disabled and is shown to the admin.
    fn on_enable(&self) -> Result<()> {
        Ok(())
    }

    /// The app was disabled.
    fn on_disable(&self) -> Result<()> {
        Ok(())
    }

    /// The app was upgraded from `previous_version`. An error is shown to the admin.
    fn on_update(&self, previous_version: &str) -> Result<()> {
        let _ = previous_version;
        Ok(())
    }

    /// The app is being uninstalled; its persistence, jobs and settings go next.
    fn on_uninstall(&self) -> Result<()> {
        Ok(())
    }

    /// The admin changed the settings with these ids.
    fn on_settings_updated(&self, ids: &[String]) -> Result<()> {
        let _ = ids;
        Ok(())
    }

    /// A message is about to be stored: let it through, change it, or stop it.
    ///
    /// Runs on the sender's request path with a short deadline, so keep it quick. The
    /// default lets every message through.
    ///
    /// An `Err` is a fault, like a panic: the SDK logs it and traps, and the host then
    /// applies the app's policy (let the message through, or refuse it when the
    /// manifest marks the app `essential`).
    fn pre_message_sent(&self, message: &Message, room: &Room) -> Result<PreSendDecision> {
        let _ = (message, room);
        Ok(PreSendDecision::Continue)
    }

    /// A message was stored.
    fn post_message_sent(&self, message: &Message, room: &Room) -> Result<()> {
        let _ = (message, room);
        Ok(())
    }

    /// A message was edited.
    fn post_message_updated(&self, message: &Message, room: &Room) -> Result<()> {
        let _ = (message, room);
        Ok(())
    }

    /// A message was deleted.
    fn post_message_deleted(&self, message: &Message, room: &Room) -> Result<()> {
        let _ = (message, room);
        Ok(())
    }

    /// A room was created.
    fn post_room_created(&self, room: &Room) -> Result<()> {
        let _ = room;
        Ok(())
    }

    /// `user` joined `room`.
    fn post_room_user_joined(&self, room: &Room, user: &User) -> Result<()> {
        let _ = (room, user);
        Ok(())
    }

    /// `user` left `room`.
    fn post_room_user_left(&self, room: &Room, user: &User) -> Result<()> {
        let _ = (room, user);
        Ok(())
    }

    /// A user account was created.
    fn post_user_created(&self, user: &User) -> Result<()> {
        let _ = user;
        Ok(())
    }

    /// Someone wrote to the app's bot user in a direct conversation.
    fn post_message_sent_to_bot(&self, message: &Message, room: &Room) -> Result<()> {
        let _ = (message, room);
        Ok(())
    }

    /// A slash command the manifest declares was run. The error is shown to the sender.
    ///
    /// The default answers every command with `Error::Invalid("unknown command: /…")`.
    fn execute_command(&self, ctx: &CommandContext) -> Result<CommandReply> {
        Err(Error::Invalid(format!("unknown command: /{}", ctx.command)))
    }

    /// Items to offer while the user is still typing a command (for commands the
    /// manifest marks as previewing). The default offers none.
    fn preview_command(&self, ctx: &CommandContext) -> Result<Vec<PreviewItem>> {
        let _ = ctx;
        Ok(Vec::new())
    }

    /// The user picked `item`, one of the items [`App::preview_command`] offered for
    /// this command line. Answers like [`App::execute_command`]; do not trust that
    /// `item` is one you offered: check its `id`.
    ///
    /// The default refuses with `Error::Invalid`.
    fn execute_preview_item(
        &self,
        ctx: &CommandContext,
        item: &PreviewItem,
    ) -> Result<CommandReply> {
        let _ = item;
        Err(Error::Invalid(format!(
            "/{} offers no preview items",
            ctx.command
        )))
    }

    /// A request to one of the app's HTTP endpoints.
    ///
    /// An `Err` becomes a JSON error response with a matching status (see
    /// [`EndpointResponse::from_error`]). The default answers 404.
    fn handle_request(&self, request: &EndpointRequest) -> Result<EndpointResponse> {
        let _ = request;
        Ok(EndpointResponse::not_found())
    }

    /// A job scheduled with [`scheduler`] is due. The default fails with
    /// `Error::Invalid("unknown job: …")`, which the host logs.
    fn run_job(&self, job: &Job) -> Result<()> {
        Err(Error::Invalid(format!("unknown job: {}", job.name)))
    }
}

/// Exports a type implementing [`App`] as the component's handlers.
///
/// Call it once, at the top level of the app crate:
///
/// ```ignore
/// #[derive(Default)]
/// struct MyApp;
/// impl palaver_apps_sdk::App for MyApp {}
///
/// palaver_apps_sdk::export_app!(MyApp);
/// ```
///
/// The app value is created on the first call into an instance, with
/// `Default::default()`, or with the expression given as a second argument:
/// `export_app!(MyApp, MyApp::new("config"))`.
#[macro_export]
macro_rules! export_app {
    ($app:ty) => {
        $crate::export_app!($app, <$app as ::core::default::Default>::default());
    };
    ($app:ty, $constructor:expr) => {
        const _: () = {
            ::std::thread_local! {
                static __PALAVER_APP: $app = $constructor;
            }

            impl $crate::__private::Instance for $app {
                fn with_instance<R>(f: impl FnOnce(&Self) -> R) -> R {
                    __PALAVER_APP.with(f)
                }
            }

            type __PalaverAppExport = $crate::__private::Adapter<$app>;

            $crate::bindings::__export_app_bindings!(
                __PalaverAppExport with_types_in $crate::bindings
            );
        };
    };
}

/// Implementation details of [`export_app!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    use std::marker::PhantomData;

    use crate::bindings::exports::palaver::apps::{commands, endpoints, events, jobs, lifecycle};
    use crate::{App, CommandContext, CommandReply, EndpointRequest, EndpointResponse, Job};
    use crate::{Message, PreSendDecision, PreviewItem, Room, User};

    /// Gives the exported handlers access to the app value of the current instance.
    pub trait Instance: App + 'static {
        /// Runs `f` with the app value, creating it on first use.
        fn with_instance<R>(f: impl FnOnce(&Self) -> R) -> R;
    }

    /// Implements the generated `Guest` traits by forwarding to an [`App`].
    pub struct Adapter<A>(PhantomData<A>);

    fn enter<A: Instance, R>(f: impl FnOnce(&A) -> R) -> R {
        crate::log::install_panic_hook();
        A::with_instance(f)
    }

    fn lifecycle_result(handler: &str, result: crate::Result<()>) -> Result<(), String> {
        result.map_err(|e| {
            crate::log::error(format!("{handler} failed: {e}"));
            e.to_string()
        })
    }

    fn report(handler: &str, result: crate::Result<()>) {
        if let Err(e) = result {
            crate::log::error(format!("{handler} failed: {e}"));
        }
    }

    impl<A: Instance> lifecycle::Guest for Adapter<A> {
        fn on_install() -> Result<(), String> {
            lifecycle_result("on-install", enter(|app: &A| app.on_install()))
        }
        fn on_enable() -> Result<(), String> {
            lifecycle_result("on-enable", enter(|app: &A| app.on_enable()))
        }
        fn on_disable() {
            report("on-disable", enter(|app: &A| app.on_disable()))
        }
        fn on_update(previous_version: String) -> Result<(), String> {
            lifecycle_result(
                "on-update",
                enter(|app: &A| app.on_update(&previous_version)),
            )
        }
        fn on_uninstall() {
            report("on-uninstall", enter(|app: &A| app.on_uninstall()))
        }
        fn on_settings_updated(ids: Vec<String>) {
            report(
                "on-settings-updated",
                enter(|app: &A| app.on_settings_updated(&ids)),
            )
        }
    }

    impl<A: Instance> events::Guest for Adapter<A> {
        fn pre_message_sent(message: Message, room: Room) -> PreSendDecision {
            match enter(|app: &A| app.pre_message_sent(&message, &room)) {
                Ok(decision) => decision,
                Err(e) => {
                    crate::log::error(format!("pre-message-sent failed: {e}"));
                    // A fault on purpose: the host decides between failing open and
                    // failing closed (essential apps).
                    panic!("pre-message-sent failed: {e}");
                }
            }
        }
        fn post_message_sent(message: Message, room: Room) {
            report(
                "post-message-sent",
                enter(|app: &A| app.post_message_sent(&message, &room)),
            )
        }
        fn post_message_updated(message: Message, room: Room) {
            report(
                "post-message-updated",
                enter(|app: &A| app.post_message_updated(&message, &room)),
            )
        }
        fn post_message_deleted(message: Message, room: Room) {
            report(
                "post-message-deleted",
                enter(|app: &A| app.post_message_deleted(&message, &room)),
            )
        }
        fn post_room_created(room: Room) {
            report(
                "post-room-created",
                enter(|app: &A| app.post_room_created(&room)),
            )
        }
        fn post_room_user_joined(room: Room, user: User) {
            report(
                "post-room-user-joined",
                enter(|app: &A| app.post_room_user_joined(&room, &user)),
            )
        }
        fn post_room_user_left(room: Room, user: User) {
            report(
                "post-room-user-left",
                enter(|app: &A| app.post_room_user_left(&room, &user)),
            )
        }
        fn post_user_created(user: User) {
            report(
                "post-user-created",
                enter(|app: &A| app.post_user_created(&user)),
            )
        }
        fn post_message_sent_to_bot(message: Message, room: Room) {
            report(
                "post-message-sent-to-bot",
                enter(|app: &A| app.post_message_sent_to_bot(&message, &room)),
            )
        }
    }

    impl<A: Instance> commands::Guest for Adapter<A> {
        fn execute_command(
            context: CommandContext,
        ) -> Result<CommandReply, crate::bindings::palaver::apps::types::Error> {
            enter(|app: &A| app.execute_command(&context)).map_err(Into::into)
        }
        fn preview_command(
            context: CommandContext,
        ) -> Result<Vec<PreviewItem>, crate::bindings::palaver::apps::types::Error> {
            enter(|app: &A| app.preview_command(&context)).map_err(Into::into)
        }
        fn execute_preview_item(
            context: CommandContext,
            item: PreviewItem,
        ) -> Result<CommandReply, crate::bindings::palaver::apps::types::Error> {
            enter(|app: &A| app.execute_preview_item(&context, &item)).map_err(Into::into)
        }
    }

    impl<A: Instance> endpoints::Guest for Adapter<A> {
        fn handle_request(request: EndpointRequest) -> EndpointResponse {
            match enter(|app: &A| app.handle_request(&request)) {
                Ok(response) => response,
                Err(e) => {
                    crate::log::warn(format!("{} /{} failed: {e}", request.method, request.path));
                    EndpointResponse::from_error(&e)
                }
            }
        }
    }

    impl<A: Instance> jobs::Guest for Adapter<A> {
        fn run_job(job: Job) -> Result<(), String> {
            lifecycle_result("run-job", enter(|app: &A| app.run_job(&job)))
        }
    }
}

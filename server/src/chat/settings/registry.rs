//! The settings Palaver knows: id (Rocket.Chat's where it has one), type, group and
//! section, default, and who may read it. A setting not listed here does not exist:
//! it cannot be read, set or locked.

use serde_json::{json, Value};

/// A setting's type, as Rocket.Chat names it in `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Int {
        min: i64,
        max: i64,
    },
    Boolean,
    /// One of the listed keys.
    Select(&'static [&'static str]),
    /// Multi-line text (a template, a script).
    Code,
    /// Write-only: never returned by any API, shown as set or unset.
    Password,
    /// A button: `POST {execute: true}` runs it; it has no value of its own.
    Action(Action),
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Int { .. } => "int",
            Kind::Boolean => "boolean",
            Kind::Select(_) => "select",
            Kind::Code => "code",
            Kind::Password => "password",
            Kind::Action(_) => "action",
        }
    }
}

/// What an action setting does when run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sends a test e-mail through the SMTP settings (needs the mailer).
    SmtpTest,
}

impl Action {
    /// The method name Rocket.Chat stores as the action setting's value.
    pub fn method(&self) -> &'static str {
        match self {
            Action::SmtpTest => "sendSMTPTestEmail",
        }
    }
}

/// An extra rule a string value must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    None,
    NonEmpty,
    /// An `http(s)://` URL without query or fragment.
    HttpUrl,
    /// An e-mail address, or empty (unset).
    EmailOrEmpty,
    /// A host name or address, or empty (unset).
    HostOrEmpty,
    /// A regular expression (for name validation).
    Pattern,
    /// A language tag such as `en` or `pt-BR`.
    Language,
}

/// Where a default comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// The site URL derived from the startup configuration (`listen`).
    SiteUrl,
    None,
}

/// One setting's definition.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    pub id: &'static str,
    pub kind: Kind,
    pub group: &'static str,
    pub section: &'static str,
    pub default: Default,
    /// Readable by anyone, logged in or not, through `settings.public`.
    pub public: bool,
    /// Longest string value, in characters (string, code, password).
    pub max_chars: usize,
    pub check: Check,
    /// English label (Rocket.Chat's `i18nLabel` is the id itself).
    pub label: &'static str,
    pub description: &'static str,
}

impl Def {
    /// Never returned by any API: shown as set or unset.
    pub fn secret(&self) -> bool {
        matches!(self.kind, Kind::Password)
    }

    /// The default value (`site_url`: the URL derived from the startup options).
    pub fn default_value(&self, site_url: &str) -> Value {
        match self.default {
            Default::Str(s) => json!(s),
            Default::Int(i) => json!(i),
            Default::Bool(b) => json!(b),
            Default::SiteUrl => json!(site_url),
            Default::None => match self.kind {
                Kind::Action(a) => json!(a.method()),
                _ => json!(""),
            },
        }
    }
}

const fn def(id: &'static str, kind: Kind, group: &'static str, section: &'static str) -> Def {
    Def {
        id,
        kind,
        group,
        section,
        default: Default::None,
        public: false,
        max_chars: 1024,
        check: Check::None,
        label: "",
        description: "",
    }
}

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

const MIB: i64 = 1024 * 1024;
const HOUR_MS: i64 = 3_600_000;

/// Every setting, in display order (group, then section).
pub static ALL: &[Def] = &[
    // General
    Def {
        default: Default::SiteUrl,
        public: true,
        check: Check::HttpUrl,
        label: "Site URL",
        description: "The public address of this server, used in links and by clients.",
        ..def("Site_Url", Kind::String, "General", "")
    },
    Def {
        default: Default::Str("Palaver"),
        public: true,
        max_chars: 200,
        check: Check::NonEmpty,
        label: "Site Name",
        ..def("Site_Name", Kind::String, "General", "")
    },
    Def {
        default: Default::Str("en"),
        public: true,
        max_chars: 16,
        check: Check::Language,
        label: "Language",
        description: "The default language of the workspace (a tag such as en or pt-BR).",
        ..def("Language", Kind::String, "General", "")
    },
    Def {
        default: Default::Str("[0-9a-zA-Z-_.]+"),
        public: true,
        check: Check::Pattern,
        label: "Validation for usernames",
        ..def(
            "UTF8_User_Names_Validation",
            Kind::String,
            "General",
            "UTF8",
        )
    },
    Def {
        default: Default::Str("[0-9a-zA-Z-_.]+"),
        public: true,
        check: Check::Pattern,
        label: "Validation for channel names",
        ..def(
            "UTF8_Channel_Names_Validation",
            Kind::String,
            "General",
            "UTF8",
        )
    },
    Def {
        default: Default::Int(50),
        public: true,
        label: "Default count",
        description: "Items a REST listing returns when the request gives no count.",
        ..def("API_Default_Count", int(1, 1000), "General", "REST API")
    },
    Def {
        default: Default::Int(100),
        public: true,
        label: "Max record amount",
        description: "Most items one REST listing returns.",
        ..def("API_Upper_Count_Limit", int(1, 1000), "General", "REST API")
    },
    // Accounts
    Def {
        default: Default::Str("Disabled"),
        public: true,
        label: "Registration form",
        ..def(
            "Accounts_RegistrationForm",
            Kind::Select(&["Public", "Disabled", "Secret URL"]),
            "Accounts",
            "Registration",
        )
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Allow anonymous read",
        ..def("Accounts_AllowAnonymousRead", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow users to set a status message",
        ..def(
            "Accounts_AllowUserStatusMessageChange",
            Kind::Boolean,
            "Accounts",
            "",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow the invisible status",
        description: "Users may choose to appear offline while connected.",
        ..def(
            "Accounts_AllowInvisibleStatusOption",
            Kind::Boolean,
            "Accounts",
            "",
        )
    },
    // Message
    Def {
        default: Default::Int(5000),
        public: true,
        label: "Maximum allowed message size",
        description: "Longest message text, in characters.",
        ..def("Message_MaxAllowedSize", int(1, 1_000_000), "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message editing",
        ..def("Message_AllowEditing", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message deleting",
        ..def("Message_AllowDeleting", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Int(100),
        label: "Maximum attachments per message",
        description: "Most attachments in one message, nested ones included.",
        ..def(
            "Message_MaxAttachments",
            int(1, 10_000),
            "Message",
            "Limits",
        )
    },
    Def {
        default: Default::Int(64 * 1024),
        label: "Maximum message payload size",
        description: "Largest serialized size of a message's attachments, custom fields, \
                      alias, emoji and avatar together, in bytes.",
        ..def(
            "Message_MaxPayloadBytes",
            int(1024, 64 * MIB),
            "Message",
            "Limits",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable threads",
        ..def("Threads_enabled", Kind::Boolean, "Threads", "")
    },
    // File upload
    Def {
        default: Default::Bool(true),
        public: true,
        label: "File uploads enabled",
        ..def("FileUpload_Enabled", Kind::Boolean, "FileUpload", "")
    },
    Def {
        default: Default::Int(100 * MIB),
        public: true,
        label: "Maximum file upload size (in bytes)",
        description: "-1 for no limit.",
        ..def(
            "FileUpload_MaxFileSize",
            int(-1, 1024 * 1024 * MIB),
            "FileUpload",
            "",
        )
    },
    // Email
    Def {
        default: Default::Str("smtp"),
        label: "Protocol",
        ..def(
            "SMTP_Protocol",
            Kind::Select(&["smtp", "smtps"]),
            "Email",
            "SMTP",
        )
    },
    Def {
        default: Default::Str(""),
        max_chars: 253,
        check: Check::HostOrEmpty,
        label: "Host",
        ..def("SMTP_Host", Kind::String, "Email", "SMTP")
    },
    Def {
        default: Default::Int(587),
        label: "Port",
        ..def("SMTP_Port", int(1, 65_535), "Email", "SMTP")
    },
    Def {
        default: Default::Str(""),
        label: "Username",
        ..def("SMTP_Username", Kind::String, "Email", "SMTP")
    },
    Def {
        default: Default::Str(""),
        label: "Password",
        ..def("SMTP_Password", Kind::Password, "Email", "SMTP")
    },
    Def {
        default: Default::Str(""),
        max_chars: 254,
        check: Check::EmailOrEmpty,
        label: "From Email",
        ..def("From_Email", Kind::String, "Email", "SMTP")
    },
    Def {
        label: "Send a test email to my user",
        ..def(
            "SMTP_Test_Button",
            Kind::Action(Action::SmtpTest),
            "Email",
            "SMTP",
        )
    },
    // Realtime (Palaver's own)
    Def {
        default: Default::Int(15_000),
        label: "Heartbeat interval (ms)",
        description: "A client silent this long is pinged. Applies to new connections.",
        ..def(
            "Realtime_Heartbeat_Interval_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(15_000),
        label: "Heartbeat timeout (ms)",
        description: "A pinged client silent this much longer is disconnected. \
                      Applies to new connections.",
        ..def(
            "Realtime_Heartbeat_Timeout_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(30_000),
        label: "Connect timeout (ms)",
        description: "Time allowed between opening the socket and the DDP connect message.",
        ..def(
            "Realtime_Connect_Timeout_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(100),
        label: "Malformed messages before disconnect",
        ..def("Realtime_Max_Bad_Frames", int(0, 1_000_000), "Realtime", "")
    },
    Def {
        default: Default::Int(4096),
        label: "Outbound queue (frames)",
        description: "Frames that may wait for one client before it counts as too slow \
                      and is disconnected. Applies to new connections.",
        ..def("Realtime_Queue_Frames", int(16, 1_000_000), "Realtime", "")
    },
];

/// The definition of `id` (exact id).
pub fn find(id: &str) -> Option<&'static Def> {
    ALL.iter().find(|d| d.id == id)
}

/// The definition of `id` ignoring ASCII case (environment variable names).
pub fn find_ignore_case(id: &str) -> Option<&'static Def> {
    ALL.iter().find(|d| d.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::settings::values;

    #[test]
    fn ids_are_unique_and_defaults_valid() {
        let mut seen = std::collections::HashSet::new();
        for d in ALL {
            assert!(seen.insert(d.id.to_ascii_lowercase()), "duplicate {}", d.id);
            if matches!(d.kind, Kind::Action(_)) {
                continue;
            }
            let default = d.default_value("http://localhost:3000");
            values::validate(d, &default).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        }
    }
}

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
    /// Writes, reads and deletes a probe object on the configured file storage.
    FileStorageTest,
}

impl Action {
    /// The method name Rocket.Chat stores as the action setting's value.
    pub fn method(&self) -> &'static str {
        match self {
            Action::SmtpTest => "sendSMTPTestEmail",
            Action::FileStorageTest => "testFileUploadStorage",
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
    /// A release version `major.minor.patch` (semver, no pre-release).
    Version,
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
    /// Set by the server, never by an admin (`uniqueID`, features Palaver lacks).
    pub read_only: bool,
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

pub(super) const fn def(
    id: &'static str,
    kind: Kind,
    group: &'static str,
    section: &'static str,
) -> Def {
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
        read_only: false,
    }
}

pub(super) const fn int(min: i64, max: i64) -> Kind {
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
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Show deleted status",
        description: "A deleted message leaves a \"message removed\" placeholder (`t: rm`) \
                      instead of disappearing.",
        ..def("Message_ShowDeletedStatus", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Int(500),
        label: "User limit for adding all users to a room",
        description: "`channels|groups.addAll` is refused on a workspace with more users.",
        ..def("API_User_Limit", int(1, 100_000_000), "General", "REST API")
    },
    Def {
        default: Default::Str("username, name, bio, nickname"),
        label: "User fields searched in member lists",
        description: "Comma-separated: `username`, `name`, `bio`, `nickname`; what a \
                      room member listing's `filter` matches.",
        max_chars: 256,
        ..def("Accounts_SearchFields", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Apply view-outside-room to users.list",
        description: "`users.list` is refused to users without the `view-outside-room` \
                      permission.",
        ..def(
            "API_Apply_permission_view-outside-room_on_users-list",
            Kind::Boolean,
            "General",
            "REST API",
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Enable the direct messages history endpoint",
        description: "Lets administrators read direct conversations they are not in \
                      (`im.messages.others`).",
        ..def(
            "API_Enable_Direct_Message_History_EndPoint",
            Kind::Boolean,
            "General",
            "REST API",
        )
    },
    Def {
        default: Default::Str("8.4.0"),
        public: true,
        label: "Reported Rocket.Chat version",
        description: "The Rocket.Chat server version /api/info reports. Rocket.Chat's apps refuse servers whose version they no longer support, so keep it a current release.",
        check: Check::Version,
        max_chars: 32,
        ..def("Palaver_RocketChat_Version", Kind::String, "General", "Rocket.Chat compatibility")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Workspace unique id",
        description: "Generated once when the workspace is created; clients use it to tell workspaces apart.",
        read_only: true,
        ..def("uniqueID", Kind::String, "General", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Use REST instead of websocket for Meteor calls",
        description: "Clients send realtime methods through POST /api/v1/method.call.",
        ..def("API_Use_REST_For_DDP_Calls", Kind::Boolean, "General", "REST API")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Use real name",
        ..def("UI_Use_Real_Name", Kind::Boolean, "Layout", "User Interface")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Allow special characters in room names",
        ..def("UI_Allow_room_names_with_special_chars", Kind::Boolean, "Layout", "User Interface")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Force screen lock",
        ..def("Force_Screen_Lock", Kind::Boolean, "General", "")
    },
    Def {
        default: Default::Int(1800),
        public: true,
        label: "Force screen lock after (seconds)",
        ..def("Force_Screen_Lock_After", int(0, 31536000), "General", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "End-to-end encryption",
        description: "Not available on Palaver.",
        read_only: true,
        ..def("E2E_Enable", Kind::Boolean, "E2E Encryption", "")
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
        label: "Show default login form",
        description: "Clients show the username and password form.",
        ..def("Accounts_ShowFormLogin", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Password login",
        description: "Local accounts may log in with a password. Off: only sign-in with an identity provider works (re-enable with PALAVER_SETTINGS__PALAVER_PASSWORD_LOGIN=true if locked out).",
        ..def("Palaver_Password_Login", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Require e-mail verification",
        description: "New accounts must confirm their address by the link they are e-mailed.",
        ..def("Accounts_EmailVerification", Kind::Boolean, "Accounts", "Registration")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Manually approve new users",
        description: "Self-registered accounts start deactivated until an admin activates them.",
        ..def("Accounts_ManuallyApproveNewUsers", Kind::Boolean, "Accounts", "Registration")
    },
    Def {
        default: Default::Str(""),
        public: false,
        label: "Registration form secret URL",
        description: "With the Secret URL form, users.register needs this value as secretURL. Generated when empty.",
        max_chars: 200,
        ..def("Accounts_RegistrationForm_SecretURL", Kind::String, "Accounts", "Registration")
    },
    Def {
        default: Default::Str("user"),
        label: "Default roles of new users",
        description: "Comma-separated roles given to accounts created without any named (registration, users.create).",
        max_chars: 1000,
        ..def("Accounts_Registration_Users_Default_Roles", Kind::String, "Accounts", "Registration")
    },
    Def {
        default: Default::Str("New user registration is currently disabled"),
        public: true,
        label: "Registration form link replacement text",
        ..def("Accounts_RegistrationForm_LinkReplacementText", Kind::String, "Accounts", "Registration")
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
        label: "Require password confirmation",
        ..def("Accounts_RequirePasswordConfirmation", Kind::Boolean, "Accounts", "Registration")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Password reset",
        description: "Users may reset a forgotten password by a link e-mailed to them.",
        ..def("Accounts_PasswordReset", Kind::Boolean, "Accounts", "Registration")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "E-mail or username placeholder",
        max_chars: 200,
        ..def("Accounts_EmailOrUsernamePlaceholder", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Password placeholder",
        max_chars: 200,
        ..def("Accounts_PasswordPlaceholder", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Confirm password placeholder",
        max_chars: 200,
        ..def("Accounts_ConfirmPasswordPlaceholder", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Name placeholder",
        max_chars: 200,
        ..def("Accounts_NamePlaceholder", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Iframe login",
        description: "Not available on Palaver.",
        read_only: true,
        ..def("Accounts_iframe_enabled", Kind::Boolean, "Accounts", "Iframe")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow user profile change",
        ..def("Accounts_AllowUserProfileChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow name change",
        ..def("Accounts_AllowRealNameChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow username change",
        ..def("Accounts_AllowUsernameChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow e-mail change",
        ..def("Accounts_AllowEmailChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        label: "Blocked usernames",
        description: "Comma-separated usernames nobody may take (any case), besides the \
                      system's own: admin, administrator, system, user, all, here.",
        ..def("Accounts_BlockedUsernameList", Kind::String, "Accounts", "Registration")
    },
    Def {
        default: Default::Str(""),
        public: true,
        max_chars: 16 * 1024,
        label: "Custom fields",
        description: "A JSON object of profile fields, as Rocket.Chat's: each field's \
                      `type` (`text` or `select`), `required`, `minLength`, `maxLength`, \
                      `options` (select). Checked on registration and profile changes.",
        ..def("Accounts_CustomFields", Kind::Code, "Accounts", "Registration")
    },
    Def {
        default: Default::Bool(true),
        label: "Enable shields",
        description: "Serve the embeddable badges at /api/v1/shield.svg.",
        ..def("API_Enable_Shields", Kind::Boolean, "General", "REST API")
    },
    Def {
        default: Default::Str("*"),
        label: "Shield types",
        description: "Comma-separated shield types served (online, channel, user), or * for all.",
        ..def("API_Shield_Types", Kind::String, "General", "REST API")
    },
    Def {
        default: Default::Bool(false),
        label: "Require login for user shields",
        ..def("API_Shield_user_require_auth", Kind::Boolean, "General", "REST API")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow password change",
        ..def("Accounts_AllowPasswordChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable Two Factor Authentication",
        description: "Off: changing one's password or email address needs no second factor \
                      (here: the current password), as Rocket.Chat's checkCodeForUser.",
        ..def(
            "Accounts_TwoFactorAuthentication_Enabled",
            Kind::Boolean,
            "Accounts",
            "Two Factor Authentication",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow avatar change",
        ..def("Accounts_AllowUserAvatarChange", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Int(200),
        public: true,
        label: "Avatar size",
        description: "Avatars are stored as squares of this many pixels.",
        ..def("Accounts_AvatarSize", int(32, 1024), "Accounts", "Avatar")
    },
    Def {
        default: Default::Int(3600),
        public: true,
        label: "Avatar cache time",
        description: "Seconds browsers may keep an avatar before asking again (with its ETag).",
        ..def("Accounts_AvatarCacheTime", int(0, 31_536_000), "Accounts", "Avatar")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Allow users to delete their own account",
        ..def("Accounts_AllowDeleteOwnAccount", Kind::Boolean, "Accounts", "")
    },
    Def {
        default: Default::Str("channels"),
        public: true,
        label: "Directory default view",
        max_chars: 16,
        ..def("Accounts_Directory_DefaultView", Kind::String, "Accounts", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Enable password policy",
        ..def("Accounts_Password_Policy_Enabled", Kind::Boolean, "Accounts", "Password Policy")
    },
    Def {
        default: Default::Int(7),
        public: true,
        label: "Minimum length",
        description: "-1 for no minimum.",
        ..def("Accounts_Password_Policy_MinLength", int(-1, 1024), "Accounts", "Password Policy")
    },
    Def {
        default: Default::Int(-1),
        public: true,
        label: "Maximum length",
        description: "-1 for no maximum.",
        ..def("Accounts_Password_Policy_MaxLength", int(-1, 1024), "Accounts", "Password Policy")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Forbid repeating characters",
        ..def("Accounts_Password_Policy_ForbidRepeatingCharacters", Kind::Boolean, "Accounts", "Password Policy")
    },
    Def {
        default: Default::Int(3),
        public: true,
        label: "Most repeating characters",
        ..def("Accounts_Password_Policy_ForbidRepeatingCharactersCount", int(1, 1024), "Accounts", "Password Policy")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "At least one lowercase",
        ..def("Accounts_Password_Policy_AtLeastOneLowercase", Kind::Boolean, "Accounts", "Password Policy")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "At least one uppercase",
        ..def("Accounts_Password_Policy_AtLeastOneUppercase", Kind::Boolean, "Accounts", "Password Policy")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "At least one number",
        ..def("Accounts_Password_Policy_AtLeastOneNumber", Kind::Boolean, "Accounts", "Password Policy")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "At least one symbol",
        ..def("Accounts_Password_Policy_AtLeastOneSpecialCharacter", Kind::Boolean, "Accounts", "Password Policy")
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
        default: Default::Bool(true),
        public: true,
        label: "Allow message pinning",
        ..def("Message_AllowPinning", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message starring",
        ..def("Message_AllowStarring", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Filter bad words",
        description: "Words of a built-in English list and of the list below are stored \
                      with their letters replaced by *.",
        ..def("Message_AllowBadWordsFilter", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Bad words",
        description: "Comma-separated words to filter besides the built-in list.",
        ..def("Message_BadWordsFilterList", Kind::String, "Message", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Allowed words",
        description: "Comma-separated words never filtered, even if listed.",
        ..def("Message_BadWordsWhitelist", Kind::String, "Message", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Enable custom fields on messages",
        ..def("Message_CustomFields_Enabled", Kind::Boolean, "Message", "Custom Fields")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Custom fields' JSON schema",
        description: "The JSON schema a message's customFields must match (type, enum, \
                      nullable, properties, required, additionalProperties).",
        ..def("Message_CustomFields", Kind::Code, "Message", "Custom Fields")
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
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable discussions",
        ..def("Discussion_enabled", Kind::Boolean, "Discussion", "")
    },
    Def {
        default: Default::Int(0),
        public: true,
        label: "Block message editing after (n) minutes",
        description: "0 to never block.",
        ..def("Message_AllowEditing_BlockEditInMinutes", int(0, 525600), "Message", "")
    },
    Def {
        default: Default::Int(0),
        public: true,
        label: "Block message deleting after (n) minutes",
        description: "0 to never block.",
        ..def("Message_AllowDeleting_BlockDeleteInMinutes", int(0, 525600), "Message", "")
    },
    Def {
        default: Default::Int(300),
        public: true,
        label: "Grouping period (in seconds)",
        ..def("Message_GroupingPeriod", int(0, 86400), "Message", "")
    },
    Def {
        default: Default::Str("LT"),
        public: true,
        label: "Time format",
        max_chars: 64,
        ..def("Message_TimeFormat", Kind::String, "Message", "")
    },
    Def {
        default: Default::Str("LLL"),
        public: true,
        label: "Timestamp format",
        max_chars: 64,
        ..def("Message_TimeAndDateFormat", Kind::String, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Store last message",
        description: "Rooms carry their last message.",
        read_only: true,
        ..def("Store_Last_Message", Kind::Boolean, "General", "")
    },
    Def {
        default: Default::Int(8),
        public: true,
        label: "Max users in direct messages",
        description: "Palaver's direct messages have at most 8 members.",
        ..def("DirectMesssage_maxUsers", int(2, 8), "Message", "")
    },
    Def {
        default: Default::Int(5),
        public: true,
        label: "Number of users' autocomplete suggestions",
        ..def("Number_of_users_autocomplete_suggestions", int(1, 100), "General", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Read receipts",
        description: "Not available on Palaver.",
        read_only: true,
        ..def("Message_Read_Receipt_Enabled", Kind::Boolean, "Message", "")
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
    Def {
        default: Default::Str(""),
        public: true,
        label: "Accepted media types",
        description: "Comma-separated media types (image/*, application/pdf); empty accepts any.",
        max_chars: 4096,
        ..def(
            "FileUpload_MediaTypeWhiteList",
            Kind::String,
            "FileUpload",
            "",
        )
    },
    Def {
        default: Default::Str("image/svg+xml"),
        public: true,
        label: "Blocked media types",
        description: "Comma-separated media types refused even if accepted above.",
        max_chars: 4096,
        ..def(
            "FileUpload_MediaTypeBlackList",
            Kind::String,
            "FileUpload",
            "",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Protect uploaded files",
        description: "Only members who may read the room download its files.",
        ..def("FileUpload_ProtectFiles", Kind::Boolean, "FileUpload", "")
    },
    Def {
        default: Default::Bool(true),
        label: "Restrict files to room members",
        description: "With protected files: only the room's members download its files.",
        ..def(
            "FileUpload_Restrict_to_room_members",
            Kind::Boolean,
            "FileUpload",
            "",
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Restrict files to users who can access the room",
        description: "With protected files: whoever may read the room (any user, for a \
                      public channel) downloads its files. Ignored while files are \
                      restricted to members.",
        ..def(
            "FileUpload_Restrict_to_users_who_can_access_room",
            Kind::Boolean,
            "FileUpload",
            "",
        )
    },
    Def {
        default: Default::Str("FileSystem"),
        label: "Storage type",
        ..def(
            "FileUpload_Storage_Type",
            Kind::Select(&["FileSystem", "AmazonS3", "Webdav"]),
            "FileUpload",
            "",
        )
    },
    Def {
        label: "Test the storage connection",
        description: "Writes, reads back and deletes a probe object on the configured storage.",
        ..def(
            "FileUpload_Storage_Test",
            Kind::Action(Action::FileStorageTest),
            "FileUpload",
            "",
        )
    },
    Def {
        label: "System path",
        description: "Directory of the FileSystem storage; empty: uploads/ in the data directory.",
        ..def(
            "FileUpload_FileSystemPath",
            Kind::String,
            "FileUpload",
            "File System",
        )
    },
    Def {
        label: "Bucket name",
        ..def(
            "FileUpload_S3_Bucket",
            Kind::String,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Access key",
        ..def(
            "FileUpload_S3_AWSAccessKeyId",
            Kind::Password,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Secret key",
        ..def(
            "FileUpload_S3_AWSSecretAccessKey",
            Kind::Password,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Region",
        ..def(
            "FileUpload_S3_Region",
            Kind::String,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Endpoint URL",
        description:
            "The S3-compatible service's URL (empty: AWS, https://s3.<region>.amazonaws.com).",
        ..def(
            "FileUpload_S3_BucketURL",
            Kind::String,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Force path style",
        ..def(
            "FileUpload_S3_ForcePathStyle",
            Kind::Boolean,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Key prefix",
        description: "Prepended to every object key (e.g. palaver/).",
        ..def(
            "FileUpload_S3_Prefix",
            Kind::String,
            "FileUpload",
            "Amazon S3",
        )
    },
    Def {
        label: "Upload folder path",
        ..def(
            "FileUpload_Webdav_Upload_Folder_Path",
            Kind::String,
            "FileUpload",
            "WebDAV",
        )
    },
    Def {
        label: "WebDAV server access URL",
        ..def(
            "FileUpload_Webdav_Server_URL",
            Kind::String,
            "FileUpload",
            "WebDAV",
        )
    },
    Def {
        label: "WebDAV username",
        ..def(
            "FileUpload_Webdav_Username",
            Kind::Password,
            "FileUpload",
            "WebDAV",
        )
    },
    Def {
        label: "WebDAV password",
        ..def(
            "FileUpload_Webdav_Password",
            Kind::Password,
            "FileUpload",
            "WebDAV",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Image thumbnails",
        description: "Images larger than the box below are posted with a thumbnail, made once.",
        ..def(
            "Message_Attachments_Thumbnails_Enabled",
            Kind::Boolean,
            "FileUpload",
            "Image",
        )
    },
    Def {
        default: Default::Int(480),
        public: true,
        label: "Thumbnail width",
        ..def(
            "Message_Attachments_Thumbnails_Width",
            int(16, 4096),
            "FileUpload",
            "Image",
        )
    },
    Def {
        default: Default::Int(360),
        public: true,
        label: "Thumbnail height",
        ..def(
            "Message_Attachments_Thumbnails_Height",
            int(16, 4096),
            "FileUpload",
            "Image",
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
        default: Default::Bool(false),
        label: "Ignore TLS",
        description: "With the smtp protocol: off, the connection must be upgraded with \
                      STARTTLS (the default); on, mail goes in clear text. smtps is TLS \
                      from the first byte.",
        ..def("SMTP_IgnoreTLS", Kind::Boolean, "Email", "SMTP")
    },
    Def {
        default: Default::Str(""),
        max_chars: 65_536,
        label: "Extra CA certificate (PEM)",
        description: "Trusted for the SMTP server besides the public roots.",
        ..def("SMTP_CA_Certificate", Kind::Code, "Email", "SMTP")
    },
    Def {
        default: Default::Int(5),
        label: "Pooled connections",
        description: "Connections to the SMTP server kept open and reused.",
        ..def("SMTP_Pool_Size", int(1, 100), "Email", "SMTP")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow e-mail notifications",
        ..def("Accounts_AllowEmailNotifications", Kind::Boolean, "Accounts", "Preferences")
    },
    Def {
        default: Default::Str("mentions"),
        public: true,
        label: "Default e-mail notifications",
        ..def(
            "Accounts_Default_User_Preferences_emailNotificationMode",
            Kind::Select(&["all", "mentions", "nothing"]),
            "Accounts",
            "Preferences",
        )
    },
    Def {
        default: Default::Str("all"),
        public: true,
        label: "Default mobile push notifications",
        ..def(
            "Accounts_Default_User_Preferences_pushNotifications",
            Kind::Select(&["all", "mentions", "nothing"]),
            "Accounts",
            "Preferences",
        )
    },
    Def {
        default: Default::Str("all"),
        public: true,
        label: "Default desktop notifications",
        ..def(
            "Accounts_Default_User_Preferences_desktopNotifications",
            Kind::Select(&["all", "mentions", "nothing"]),
            "Accounts",
            "Preferences",
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Disable notifications",
        description: "Nobody is notified of anything (troubleshooting).",
        ..def("Troubleshoot_Disable_Notifications", Kind::Boolean, "Troubleshoot", "")
    },
    Def {
        default: Default::Int(100),
        label: "Max room members before disabling all message notifications",
        description: "Above this many members only mentions notify (0: no limit).",
        ..def("Notifications_Max_Room_Members", int(0, 1_000_000), "General", "Notifications")
    },
    Def {
        default: Default::Int(0),
        public: true,
        label: "Maximum channel members before disabling @all",
        description: "@all and @here are refused in rooms with more members (0: no limit).",
        ..def("Message_MaxAll", int(0, 1_000_000), "Message", "")
    },
    Def {
        default: Default::Int(120),
        label: "E-mail delay and batching window (seconds)",
        description: "Missed-message mails wait this long and list every message of the \
                      room in that window; nothing is sent to someone who connected or \
                      read the room meanwhile.",
        ..def("Email_Notification_Window_Seconds", int(1, 86_400), "Email", "Notifications")
    },
    Def {
        default: Default::Str("[Site_Name] - You have been direct messaged by [user]"),
        label: "Direct message e-mail subject",
        ..def("Offline_DM_Email", Kind::String, "Email", "Notifications")
    },
    Def {
        default: Default::Str("[Site_Name] - You have been mentioned by [user] in #[room]"),
        label: "Mention e-mail subject",
        ..def("Offline_Mention_Email", Kind::String, "Email", "Notifications")
    },
    Def {
        default: Default::Str("[Site_Name] - [user] has posted a message in #[room]"),
        label: "Room message e-mail subject",
        ..def("Offline_Mention_All_Email", Kind::String, "Email", "Notifications")
    },
    Def {
        default: Default::Str("<p>[header]</p>[messages]<p><a href=\"[room_path]\">Go to the room</a></p>"),
        max_chars: 65_536,
        label: "Missed messages e-mail body (HTML)",
        description: "[header], [messages] (the list), [room_path], [room], [user], [Site_Name], [Site_URL].",
        ..def("Offline_Message_Email_Body", Kind::Code, "Email", "Notifications")
    },
    Def {
        default: Default::Str("[Site_Name] - Password Recovery"),
        label: "Password reset e-mail subject",
        ..def("Forgot_Password_Email_Subject", Kind::String, "Email", "Forgot password")
    },
    Def {
        default: Default::Str("<h2>Forgot your password?</h2><p>Hello [name], click <a href=\"[Forgot_Password_Url]\">here</a> to reset your password on [Site_Name]. The link works once, for one hour.</p><p>If you did not ask for it, ignore this e-mail.</p>"),
        max_chars: 65_536,
        label: "Password reset e-mail body (HTML)",
        description: "[name], [username], [Forgot_Password_Url], [Site_Name], [Site_URL].",
        ..def("Forgot_Password_Email", Kind::Code, "Email", "Forgot password")
    },
    Def {
        default: Default::Str("[Site_Name] - Verify your account"),
        label: "Verification e-mail subject",
        ..def("Verification_Email_Subject", Kind::String, "Email", "Verification")
    },
    Def {
        default: Default::Str("<p>Hello [name], click <a href=\"[Verification_Url]\">here</a> to verify your e-mail address on [Site_Name].</p>"),
        max_chars: 65_536,
        label: "Verification e-mail body (HTML)",
        description: "[name], [username], [Verification_Url], [Site_Name], [Site_URL].",
        ..def("Verification_Email", Kind::Code, "Email", "Verification")
    },
    Def {
        default: Default::Str("Welcome to [Site_Name]"),
        label: "Welcome e-mail subject (users an admin adds)",
        ..def("Accounts_UserAddedEmail_Subject", Kind::String, "Email", "Registration via Admin")
    },
    Def {
        default: Default::Str("<h2>Welcome to [Site_Name]</h2><p>Hello [name], an administrator created your account [username]. Visit <a href=\"[Site_URL]\">[Site_URL]</a> to sign in.</p>"),
        max_chars: 65_536,
        label: "Welcome e-mail body (HTML)",
        description: "[name], [username], [Site_Name], [Site_URL].",
        ..def("Accounts_UserAddedEmail_Email", Kind::Code, "Email", "Registration via Admin")
    },
    Def {
        default: Default::Str("[Site_Name] - SMTP Test Email"),
        label: "Test e-mail subject",
        ..def("SMTP_Test_Email_Subject", Kind::String, "Email", "SMTP")
    },
    Def {
        default: Default::Str("<p>You have successfully sent an email from [Site_Name] ([Site_URL]).</p>"),
        max_chars: 65_536,
        label: "Test e-mail body (HTML)",
        ..def("SMTP_Test_Email_Body", Kind::Code, "Email", "SMTP")
    },
    Def {
        label: "Mail link signing key",
        description: "Generated once; signs password reset and verification links.",
        read_only: true,
        ..def("Palaver_Mail_Token_Key", Kind::Password, "Email", "SMTP")
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
    // Push (mobile apps through a gateway, FCM or APNs; browsers through Web Push)
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable push",
        description: "Push notifications to registered mobile devices and browsers.",
        ..def("Push_enable", Kind::Boolean, "Push", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Enable gateway",
        description: "Send mobile pushes through the push gateway below (Rocket.Chat's \
                      gateway protocol), as Rocket.Chat's published apps need; off: \
                      directly to FCM and APNs with the credentials below.",
        ..def("Push_enable_gateway", Kind::Boolean, "Push", "")
    },
    Def {
        default: Default::Str("https://gateway.rocket.chat"),
        check: Check::HttpUrl,
        label: "Gateway",
        ..def("Push_gateway", Kind::String, "Push", "")
    },
    Def {
        label: "Gateway token",
        description: "Sent as Authorization: Bearer to the gateway (the workspace's \
                      cloud token for Rocket.Chat's gateway).",
        ..def("Push_gateway_token", Kind::Password, "Push", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Hide message content",
        description: "Pushes say only \"You have a new message\"; the app fetches the \
                      content with push.get.",
        ..def(
            "Push_request_content_from_server",
            Kind::Boolean,
            "Push",
            "Privacy",
        )
    },
    Def {
        default: Default::Bool(true),
        label: "Show channel and user names",
        ..def("Push_show_username_room", Kind::Boolean, "Push", "Privacy")
    },
    Def {
        default: Default::Bool(true),
        label: "Show message content",
        ..def("Push_show_message", Kind::Boolean, "Push", "Privacy")
    },
    Def {
        max_chars: 16384,
        label: "Google service account (JSON)",
        description: "The Firebase service account key file's content, for FCM HTTP v1.",
        ..def(
            "Push_google_api_credentials",
            Kind::Password,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        max_chars: 8192,
        label: "APNs auth key (.p8)",
        ..def("Push_apn_key", Kind::Password, "Push", "Certificates and Keys")
    },
    Def {
        label: "APNs key id",
        ..def("Push_apn_key_id", Kind::String, "Push", "Certificates and Keys")
    },
    Def {
        label: "APNs team id",
        ..def("Push_apn_team_id", Kind::String, "Push", "Certificates and Keys")
    },
    Def {
        default: Default::Bool(true),
        label: "APNs production",
        description: "api.push.apple.com; off: api.sandbox.push.apple.com.",
        ..def("Push_production", Kind::Boolean, "Push", "Certificates and Keys")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable Web Push",
        description: "Browsers that subscribed get pushes even with the tab closed.",
        ..def("WebPush_enable", Kind::Boolean, "Push", "Web Push")
    },
    Def {
        check: Check::EmailOrEmpty,
        label: "Web Push contact",
        description: "The e-mail address push services may contact (VAPID subject); \
                      empty: the site URL.",
        ..def("WebPush_contact", Kind::String, "Push", "Web Push")
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

/// Every definition: [`ALL`], then the groups kept in files of their own.
pub fn all() -> impl Iterator<Item = &'static Def> {
    ALL.iter()
        .chain(super::ldap::DEFS)
        .chain(super::saml::DEFS)
        .chain(super::invites::DEFS)
}

/// The definition of `id` (exact id).
pub fn find(id: &str) -> Option<&'static Def> {
    all()
        .find(|d| d.id == id)
        .or_else(|| super::oauth_family::find(id))
}

/// The definition of `id` ignoring ASCII case (environment variable names).
pub fn find_ignore_case(id: &str) -> Option<&'static Def> {
    all()
        .find(|d| d.id.eq_ignore_ascii_case(id))
        .or_else(|| super::oauth_family::find(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::settings::values;

    #[test]
    fn ids_are_unique_and_defaults_valid() {
        let mut seen = std::collections::HashSet::new();
        for d in all() {
            assert!(seen.insert(d.id.to_ascii_lowercase()), "duplicate {}", d.id);
            if matches!(d.kind, Kind::Action(_)) {
                continue;
            }
            let default = d.default_value("http://localhost:3000");
            values::validate(d, &default).unwrap_or_else(|e| panic!("{}: {e}", d.id));
        }
    }
}

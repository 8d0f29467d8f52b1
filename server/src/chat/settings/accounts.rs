//! Accounts: registration, login, passwords and their policy, profiles, presence.

use super::registry::{def, int, Def, Default, Kind};

pub static DEFS: &[Def] = &[
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
];

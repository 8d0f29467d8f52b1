//! Email and notifications: SMTP, the sender, the missed-message mails and their
//! templates, and the default notification preferences.

use super::registry::{def, int, Action, Check, Def, Default, Kind};

pub static DEFS: &[Def] = &[
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
        default: Default::Str("You have been invited to [Site_Name]"),
        label: "Invitation e-mail subject",
        ..def("Invitation_Subject", Kind::String, "Email", "Invitation")
    },
    Def {
        default: Default::Str("<h2>Welcome to [Site_Name]</h2><p>Go to [Site_URL] and try the best open source chat solution available today!</p><a class=\"btn\" href=\"[Site_URL]\">Join the chat</a>"),
        max_chars: 65_536,
        label: "Invitation e-mail body (HTML)",
        description: "[email], [Site_Name], [Site_URL].",
        ..def("Invitation_Email", Kind::Code, "Email", "Invitation")
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
];

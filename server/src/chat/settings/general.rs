//! General: the site's name and address, its language, name validation, the API's
//! page sizes and endpoints, display switches (real names, room names), the
//! reported Rocket.Chat version and the workspace's unique id.

use super::registry::{def, int, Check, Def, Default, Kind};

pub static DEFS: &[Def] = &[
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
];

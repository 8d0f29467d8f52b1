//! The LDAP / Active Directory settings (Rocket.Chat's ids, group `LDAP`), read by
//! `identity::ldap`. Kept apart from the main registry so that the group stays in one
//! place.

use super::registry::{def, int, Check, Def, Default, Kind};

const G: &str = "LDAP";
const CONN: &str = "Connection";
const SEARCH: &str = "User Search";
const SYNC: &str = "Data Sync";
const BG: &str = "Background Sync";
const ROLES: &str = "Sync Roles";
const CHANNELS: &str = "Sync Channels";

/// How often the background sync runs (`LDAP_Background_Sync_Interval`).
pub const SYNC_INTERVALS: &[&str] = &[
    "every_5_minutes",
    "every_15_minutes",
    "every_1_hour",
    "every_6_hours",
    "every_12_hours",
    "every_24_hours",
    "every_48_hours",
];

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Enable LDAP",
        description: "People sign in with their directory account (username and directory password).",
        ..def("LDAP_Enable", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Str("ad"),
        label: "Server type",
        description: "Active Directory (ad) or another LDAP server (empty): picks the AD or the generic attribute settings.",
        ..def("LDAP_Server_Type", Kind::Select(&["ad", ""]), G, CONN)
    },
    Def {
        default: Default::Str(""),
        check: Check::HostOrEmpty,
        label: "Host",
        ..def("LDAP_Host", Kind::String, G, CONN)
    },
    Def {
        default: Default::Int(389),
        label: "Port",
        ..def("LDAP_Port", int(1, 65535), G, CONN)
    },
    Def {
        default: Default::Bool(false),
        label: "Login fallback",
        description: "When the directory does not know the account, accept the local password (local accounts only; directory accounts never have one).",
        ..def("LDAP_Login_Fallback", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Bool(false),
        label: "Authentication (service bind)",
        description: "Bind with the DN and password below before searching; otherwise search anonymously.",
        ..def("LDAP_Authentication", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "User DN",
        ..def("LDAP_Authentication_UserDN", Kind::String, G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "Password",
        ..def("LDAP_Authentication_Password", Kind::Password, G, CONN)
    },
    Def {
        default: Default::Str("plain"),
        label: "Encryption",
        description: "plain, tls (StartTLS on ldap://) or ssl (ldaps://).",
        ..def("LDAP_Encryption", Kind::Select(&["plain", "tls", "ssl"]), G, CONN)
    },
    Def {
        default: Default::Str(""),
        max_chars: 65536,
        label: "CA certificate",
        description: "PEM certificates trusted for the directory's TLS certificate, in addition to the system's.",
        ..def("LDAP_CA_Cert", Kind::Code, G, CONN)
    },
    Def {
        default: Default::Bool(true),
        label: "Reject unauthorized",
        description: "Refuse a directory certificate that does not verify. Turn off only to test.",
        ..def("LDAP_Reject_Unauthorized", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Int(60000),
        label: "Timeout (ms)",
        description: "Longest wait for one directory operation.",
        ..def("LDAP_Timeout", int(100, 600_000), G, CONN)
    },
    Def {
        default: Default::Int(1000),
        label: "Connection timeout (ms)",
        ..def("LDAP_Connect_Timeout", int(100, 600_000), G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "Base DN",
        ..def("LDAP_BaseDN", Kind::String, G, SEARCH)
    },
    Def {
        default: Default::Str("(objectclass=*)"),
        label: "User search filter",
        description: "Combined (AND) with the search field's match.",
        ..def("LDAP_User_Search_Filter", Kind::String, G, SEARCH)
    },
    Def {
        default: Default::Str("sub"),
        label: "Search scope",
        ..def("LDAP_User_Search_Scope", Kind::Select(&["sub", "one", "base"]), G, SEARCH)
    },
    Def {
        default: Default::Str("uid"),
        label: "Search field",
        description: "The attribute(s) the login name is matched against, comma-separated (other servers).",
        ..def("LDAP_User_Search_Field", Kind::String, G, SEARCH)
    },
    Def {
        default: Default::Str("sAMAccountName"),
        label: "Search field (Active Directory)",
        ..def("LDAP_AD_User_Search_Field", Kind::String, G, SEARCH)
    },
    Def {
        default: Default::Int(250),
        label: "Search page size",
        description: "Entries per page of a paged search (0: no paging).",
        ..def("LDAP_Search_Page_Size", int(0, 10_000), G, SEARCH)
    },
    Def {
        default: Default::Int(1000),
        label: "Search size limit",
        description: "Most entries one login search returns.",
        ..def("LDAP_Search_Size_Limit", int(0, 1_000_000), G, SEARCH)
    },
    Def {
        default: Default::Str(
            "objectGUID,entryUUID,ibm-entryUUID,GUID,dominoUNID,nsuniqueId,uidNumber,uid",
        ),
        label: "Unique identifier field",
        description: "The first of these attributes an entry has links it to its account.",
        ..def("LDAP_Unique_Identifier_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Bool(false),
        label: "Merge existing users",
        description: "A directory user whose username is taken by a local account takes that account over (off: the login is refused).",
        ..def("LDAP_Merge_Existing_Users", Kind::Boolean, G, SYNC)
    },
    Def {
        default: Default::Bool(true),
        label: "Update user data on login",
        ..def("LDAP_Update_Data_On_Login", Kind::Boolean, G, SYNC)
    },
    Def {
        default: Default::Bool(true),
        label: "Sync user avatar",
        description: "The directory's photo becomes the user's avatar at login and sync.",
        ..def("LDAP_Sync_User_Avatar", Kind::Boolean, G, SYNC)
    },
    Def {
        default: Default::Str(""),
        label: "Avatar field",
        description: "The photo attribute; empty: thumbnailPhoto, then jpegPhoto.",
        ..def("LDAP_Avatar_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str(""),
        label: "Default domain",
        description: "Users without an e-mail attribute get username@this domain.",
        ..def("LDAP_Default_Domain", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("uid"),
        label: "Username field",
        ..def("LDAP_Username_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("sAMAccountName"),
        label: "Username field (Active Directory)",
        ..def("LDAP_AD_Username_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("mail"),
        label: "E-mail field",
        ..def("LDAP_Email_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("mail"),
        label: "E-mail field (Active Directory)",
        ..def("LDAP_AD_Email_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("cn"),
        label: "Name field",
        ..def("LDAP_Name_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Str("cn"),
        label: "Name field (Active Directory)",
        ..def("LDAP_AD_Name_Field", Kind::String, G, SYNC)
    },
    Def {
        default: Default::Bool(false),
        label: "Background sync",
        ..def("LDAP_Background_Sync", Kind::Boolean, G, BG)
    },
    Def {
        default: Default::Str("every_24_hours"),
        label: "Background sync interval",
        description: "Changes apply at once, without a restart.",
        ..def("LDAP_Background_Sync_Interval", Kind::Select(SYNC_INTERVALS), G, BG)
    },
    Def {
        default: Default::Bool(true),
        label: "Import new users",
        ..def("LDAP_Background_Sync_Import_New_Users", Kind::Boolean, G, BG)
    },
    Def {
        default: Default::Bool(true),
        label: "Keep existing users updated",
        ..def("LDAP_Background_Sync_Keep_Existant_Users_Updated", Kind::Boolean, G, BG)
    },
    Def {
        default: Default::Bool(false),
        label: "Deactivate missing users",
        description: "Directory accounts no longer found by the search are deactivated.",
        ..def("LDAP_Background_Sync_Disable_Missing_Users", Kind::Boolean, G, BG)
    },
    Def {
        default: Default::Str("disable"),
        label: "Sync user active state",
        description: "Follow the directory's disabled flags (AD userAccountControl, pwdAccountLockedTime, nsAccountLock): disable, enable, both or none. Someone an admin deactivated is never re-activated.",
        ..def(
            "LDAP_Sync_User_Active_State",
            Kind::Select(&["none", "disable", "enable", "both"]),
            G,
            BG,
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Sync roles from groups",
        ..def("LDAP_Sync_User_Data_Roles", Kind::Boolean, G, ROLES)
    },
    Def {
        default: Default::Bool(false),
        label: "Remove unmapped roles",
        description: "Mapped roles the user's groups no longer give are removed.",
        ..def("LDAP_Sync_User_Data_Roles_AutoRemove", Kind::Boolean, G, ROLES)
    },
    Def {
        default: Default::Str(""),
        label: "Role groups base DN",
        description: "Where groups are searched (empty: the base DN).",
        ..def("LDAP_Sync_User_Data_Roles_BaseDN", Kind::String, G, ROLES)
    },
    Def {
        default: Default::Str("(&(cn=#{groupName})(memberUid=#{username}))"),
        label: "Role group filter",
        description: "#{groupName}, #{username} and #{userdn} are replaced (escaped).",
        ..def("LDAP_Sync_User_Data_Roles_Filter", Kind::String, G, ROLES)
    },
    Def {
        default: Default::Str("{\n\t\"rocket-admin\": \"admin\",\n\t\"tech-support\": \"support\"\n}"),
        max_chars: 65536,
        label: "Group to role map",
        description: "JSON: group name → role or list of roles.",
        ..def("LDAP_Sync_User_Data_RolesMap", Kind::Code, G, ROLES)
    },
    Def {
        default: Default::Bool(false),
        label: "Sync channels from groups",
        ..def("LDAP_Sync_User_Data_Channels", Kind::Boolean, G, CHANNELS)
    },
    Def {
        default: Default::Str("rocket.cat"),
        label: "Channel creator",
        description: "The user who creates a mapped channel that does not exist yet (falls back to the first admin).",
        ..def("LDAP_Sync_User_Data_Channels_Admin", Kind::String, G, CHANNELS)
    },
    Def {
        default: Default::Str(""),
        label: "Channel groups base DN",
        ..def("LDAP_Sync_User_Data_Channels_BaseDN", Kind::String, G, CHANNELS)
    },
    Def {
        default: Default::Str("(&(cn=#{groupName})(memberUid=#{username}))"),
        label: "Channel group filter",
        ..def("LDAP_Sync_User_Data_Channels_Filter", Kind::String, G, CHANNELS)
    },
    Def {
        default: Default::Str("{\n\t\"employee\": \"general\",\n\t\"techsupport\": [\n\t\t\"helpdesk\",\n\t\t\"support\"\n\t]\n}"),
        max_chars: 65536,
        label: "Group to channel map",
        description: "JSON: group name → channel or list of channels.",
        ..def("LDAP_Sync_User_Data_ChannelsMap", Kind::Code, G, CHANNELS)
    },
    Def {
        default: Default::Bool(false),
        label: "Remove from unmapped channels",
        description: "Users leave mapped channels their groups no longer give.",
        ..def("LDAP_Sync_User_Data_Channels_Enforce_AutoChannels", Kind::Boolean, G, CHANNELS)
    },
];

//! Capabilities: what an app may ask for, and what an admin granted. The host
//! checks the grant on every host call.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A permission an app can request, named as Rocket.Chat's apps engine names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "message.read")]
    MessageRead,
    #[serde(rename = "message.write")]
    MessageWrite,
    #[serde(rename = "room.read")]
    RoomRead,
    #[serde(rename = "room.write")]
    RoomWrite,
    #[serde(rename = "user.read")]
    UserRead,
    #[serde(rename = "persistence")]
    Persistence,
    #[serde(rename = "networking")]
    Networking,
    #[serde(rename = "scheduler")]
    Scheduler,
    #[serde(rename = "slashcommand")]
    SlashCommand,
    #[serde(rename = "api")]
    Api,
    #[serde(rename = "filesystem")]
    Filesystem,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::MessageRead,
        Permission::MessageWrite,
        Permission::RoomRead,
        Permission::RoomWrite,
        Permission::UserRead,
        Permission::Persistence,
        Permission::Networking,
        Permission::Scheduler,
        Permission::SlashCommand,
        Permission::Api,
        Permission::Filesystem,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::MessageRead => "message.read",
            Permission::MessageWrite => "message.write",
            Permission::RoomRead => "room.read",
            Permission::RoomWrite => "room.write",
            Permission::UserRead => "user.read",
            Permission::Persistence => "persistence",
            Permission::Networking => "networking",
            Permission::Scheduler => "scheduler",
            Permission::SlashCommand => "slashcommand",
            Permission::Api => "api",
            Permission::Filesystem => "filesystem",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What granting it allows, for the admin's review.
    pub fn explanation(self) -> &'static str {
        match self {
            Permission::MessageRead => "read messages of rooms it can see",
            Permission::MessageWrite => "send messages and private notices as its bot user",
            Permission::RoomRead => "read rooms and their members",
            Permission::RoomWrite => "create rooms and add members",
            Permission::UserRead => "read user profiles (not e-mail addresses)",
            Permission::Persistence => "keep its own data in Palaver's storage",
            Permission::Networking => "make HTTP requests to the listed hosts",
            Permission::Scheduler => "run jobs later or periodically",
            Permission::SlashCommand => "answer its slash commands",
            Permission::Api => "serve HTTP endpoints under /api/apps/",
            Permission::Filesystem => "read and write files in its own directory",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an admin granted an app: a subset of what its manifest requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub permissions: BTreeSet<Permission>,
    /// Network hosts (patterns) granted with `networking`.
    pub hosts: Vec<String>,
}

impl Grant {
    pub fn allows(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Permission names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.permissions
            .iter()
            .map(|p| p.name().to_string())
            .collect()
    }
}

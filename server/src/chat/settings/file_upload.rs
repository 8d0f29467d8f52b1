//! File upload: sizes, types, and the storage (local, S3, WebDAV).

use super::registry::{def, int, Action, Def, Default, Kind, MIB};

pub static DEFS: &[Def] = &[
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
];

//! The SAML 2.0 service provider settings (Rocket.Chat's ids, `SAML_Custom_Default*`,
//! group `SAML`), read by `identity::saml` each time they are used.

use super::registry::{def, int, Def, Default, Kind};

const G: &str = "SAML";
const CONN: &str = "SAML_Connection";
const CERT: &str = "SAML_Section_2_Certificate";
const UI: &str = "SAML_Section_1_User_Interface";
const BEHAVIOUR: &str = "SAML_Section_3_Behavior";
const MAPPING: &str = "SAML_Section_5_Mapping";
const ROLES: &str = "SAML_Section_4_Roles";

/// The settings' common prefix (Rocket.Chat configures one provider, `Default`).
pub const PREFIX: &str = "SAML_Custom_Default";

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Enable SAML",
        description: "People sign in with the organisation's SAML 2.0 identity provider.",
        ..def("SAML_Custom_Default", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Str("provider-name"),
        public: true,
        label: "Custom provider",
        description: "The provider's name in the SAML addresses: /_saml/metadata/<name>, /_saml/authorize/<name>, /_saml/validate/<name>.",
        ..def("SAML_Custom_Default_provider", Kind::String, G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "Custom entry point",
        description: "The identity provider's single sign-on address (HTTP-Redirect binding).",
        ..def("SAML_Custom_Default_entry_point", Kind::String, G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "IDP SLO redirect URL",
        description: "The identity provider's single logout address (HTTP-Redirect binding); empty: logout ends only the local session.",
        ..def("SAML_Custom_Default_idp_slo_redirect_url", Kind::String, G, CONN)
    },
    Def {
        default: Default::Str(""),
        label: "Custom issuer",
        description: "This service provider's entity id, the audience assertions must name. Empty: <Site_Url>/_saml/metadata/<provider>.",
        ..def("SAML_Custom_Default_issuer", Kind::String, G, CONN)
    },
    Def {
        default: Default::Bool(false),
        label: "Debug",
        description: "Log why each SAML message was accepted or refused.",
        ..def("SAML_Custom_Default_debug", Kind::Boolean, G, CONN)
    },
    Def {
        default: Default::Str(""),
        max_chars: 65536,
        label: "Custom certificate",
        description: "The identity provider's signing certificate (PEM or bare base64). Only messages signed with its key are accepted; the certificate inside a message is never trusted.",
        ..def("SAML_Custom_Default_cert", Kind::Code, G, CERT)
    },
    Def {
        default: Default::Str(""),
        max_chars: 65536,
        label: "Public certificate contents",
        description: "This service provider's certificate, published in the metadata.",
        ..def("SAML_Custom_Default_public_cert", Kind::Code, G, CERT)
    },
    Def {
        default: Default::Str("All"),
        label: "Signature validation type",
        description: "Which signature is required: on the Response, on the Assertion, on either, or on both (All).",
        ..def(
            "SAML_Custom_Default_signature_validation_type",
            Kind::Select(&["Response", "Assertion", "Either", "All"]),
            G,
            CERT,
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Accept SHA-1 signatures",
        description: "Accept RSA-SHA1 signatures and SHA-1 digests from old identity providers (SHA-1 is broken; leave off when you can).",
        ..def("SAML_Custom_Default_allow_sha1", Kind::Boolean, G, CERT)
    },
    Def {
        default: Default::Str(""),
        max_chars: 65536,
        label: "Custom private key",
        description: "This service provider's private key (PKCS#8 PEM, RSA): when set, requests to the identity provider are signed (RSA-SHA256).",
        ..def("SAML_Custom_Default_private_key", Kind::Password, G, CERT)
    },
    Def {
        default: Default::Str("SAML"),
        public: true,
        label: "Button label text",
        ..def("SAML_Custom_Default_button_label_text", Kind::String, G, UI)
    },
    Def {
        default: Default::Str("#FFFFFF"),
        public: true,
        label: "Button label color",
        ..def("SAML_Custom_Default_button_label_color", Kind::String, G, UI)
    },
    Def {
        default: Default::Str("#1d74f5"),
        public: true,
        label: "Button color",
        ..def("SAML_Custom_Default_button_color", Kind::String, G, UI)
    },
    Def {
        default: Default::Str("None"),
        label: "Normalize username",
        ..def(
            "SAML_Custom_Default_username_normalize",
            Kind::Select(&["None", "Lowercase"]),
            G,
            BEHAVIOUR,
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Generate Username",
        description: "New accounts get a username made from their name instead of the username attribute.",
        ..def("SAML_Custom_Default_generate_username", Kind::Boolean, G, BEHAVIOUR)
    },
    Def {
        default: Default::Str("EMail"),
        label: "Immutable Property",
        description: "Which attribute identifies the person across sign-ins (NameIDs may be transient): their e-mail or their username. An existing account with the same value is linked on first sign-in.",
        ..def(
            "SAML_Custom_Default_immutable_property",
            Kind::Select(&["EMail", "Username"]),
            G,
            BEHAVIOUR,
        )
    },
    Def {
        default: Default::Bool(false),
        label: "Update Room Subscriptions on Each Login",
        description: "Join the channels the `channels` attribute names on every sign-in, not only when the account is created. Missing channels are created.",
        ..def("SAML_Custom_Default_channels_update", Kind::Boolean, G, BEHAVIOUR)
    },
    Def {
        default: Default::Str("user"),
        label: "Default User Role",
        description: "Roles (comma-separated) of accounts created by SAML sign-in when the role attribute gives none.",
        ..def("SAML_Custom_Default_default_user_role", Kind::String, G, BEHAVIOUR)
    },
    Def {
        default: Default::Bool(false),
        label: "Allow IdP-initiated sign-in",
        description: "Palaver: accept a Response the identity provider sends unasked (no InResponseTo). Every other check still applies, and each Response and assertion is accepted once.",
        ..def("SAML_Custom_Default_allow_idp_initiated", Kind::Boolean, G, BEHAVIOUR)
    },
    Def {
        default: Default::Bool(false),
        label: "Sync User Roles",
        description: "On every sign-in, give the roles the role attribute names and take away those it gave before and no longer names.",
        ..def("SAML_Custom_Default_role_attribute_sync", Kind::Boolean, G, ROLES)
    },
    Def {
        default: Default::Str(""),
        label: "Role Attribute Name",
        description: "The attribute whose values (or comma-separated value) are role names.",
        ..def("SAML_Custom_Default_role_attribute_name", Kind::String, G, ROLES)
    },
    Def {
        default: Default::Str("SAML"),
        label: "Logout behaviour",
        description: "SAML: logging out also ends the session at the identity provider; Local: only here.",
        ..def(
            "SAML_Custom_Default_logout_behaviour",
            Kind::Select(&["SAML", "Local"]),
            G,
            BEHAVIOUR,
        )
    },
    Def {
        default: Default::Int(30000),
        label: "Allowed clock drift (ms)",
        description: "How far the identity provider's clock may be from ours when checking NotBefore / NotOnOrAfter.",
        ..def("SAML_Custom_Default_allowed_clock_drift", int(0, 300_000), G, BEHAVIOUR)
    },
    Def {
        default: Default::Str(r#"{"username":"username", "email":"email", "name": "cn"}"#),
        max_chars: 8192,
        label: "User data field map",
        description: "Which assertion attribute gives the username, e-mail and name (JSON). Accounts are linked by the Immutable Property.",
        ..def("SAML_Custom_Default_user_data_fieldmap", Kind::Code, G, MAPPING)
    },
];

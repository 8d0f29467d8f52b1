//! Constructors and helpers on the contract's types.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::palaver::apps::types::{HttpRequest, HttpResponse};
use crate::{
    Args, Attachment, AttachmentField, CommandContext, CommandReply, EndpointRequest,
    EndpointResponse, Error, Job, Message, PreSendDecision, Result, Room, RoomKind, SettingValue,
    User,
};

/// Finds a header by case-insensitive name.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Message {
    /// A message with `text` for the room `room_id`, everything else empty.
    ///
    /// ```ignore
    /// let msg = Message::new(room_id, "Deployed!")
    ///     .alias("CI")
    ///     .emoji(":rocket:")
    ///     .attachment(Attachment::new().title("build 42").color("#36a64f"));
    /// msg.send()?;
    /// ```
    pub fn new(room_id: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            id: None,
            room_id: room_id.into(),
            text: text.into(),
            sender: None,
            thread_id: None,
            alias: None,
            emoji: None,
            avatar: None,
            attachments: Vec::new(),
            custom_fields: None,
            ts: None,
            edited_at: None,
            system_kind: None,
        }
    }

    /// A copy of this message with other text: what a pre-send hook returns with
    /// [`PreSendDecision::modify`].
    pub fn with_text(&self, text: impl Into<String>) -> Self {
        Message {
            text: text.into(),
            ..self.clone()
        }
    }

    /// Replaces the text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Shows `alias` as the sender's name instead of the bot's.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.alias = Some(alias.into());
        self
    }

    /// Shows an emoji (`:robot:`) as the avatar.
    pub fn emoji(mut self, emoji: impl Into<String>) -> Self {
        self.emoji = Some(emoji.into());
        self
    }

    /// Shows the image at `url` as the avatar.
    pub fn avatar(mut self, url: impl Into<String>) -> Self {
        self.avatar = Some(url.into());
        self
    }

    /// Posts the message as a reply in the thread `thread_id` (the id of the thread's
    /// first message).
    pub fn thread(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = Some(thread_id.into());
        self
    }

    /// Adds an attachment.
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Sets the custom fields (a JSON object stored with the message).
    pub fn custom_fields(mut self, fields: serde_json::Value) -> Self {
        self.custom_fields = Some(fields.to_string());
        self
    }

    /// The custom fields decoded as `T`; `None` when there are none.
    pub fn custom_fields_as<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match &self.custom_fields {
            None => Ok(None),
            Some(text) => Ok(Some(serde_json::from_str(text)?)),
        }
    }

    /// A message in the same room answering this one: in its thread if it has one,
    /// otherwise starting a thread on it (when it has an id).
    pub fn reply(&self, text: impl Into<String>) -> Message {
        let mut reply = Message::new(self.room_id.clone(), text);
        reply.thread_id = self.thread_id.clone().or_else(|| self.id.clone());
        reply
    }

    /// The sender's user id, if the message has a sender.
    pub fn sender_id(&self) -> Option<&str> {
        self.sender.as_ref().map(|s| s.id.as_str())
    }

    /// Posts the message as the app's bot user; returns the new message's id. Needs
    /// `message.write`. Same as [`messages::send`](crate::messages::send).
    pub fn send(&self) -> Result<String> {
        crate::messages::send(self)
    }
}

impl Attachment {
    /// An empty attachment, to fill in with the builder methods.
    pub fn new() -> Self {
        Attachment {
            title: None,
            title_link: None,
            text: None,
            color: None,
            image_url: None,
            author_name: None,
            fields: Vec::new(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Makes the title a link to `url`.
    pub fn title_link(mut self, url: impl Into<String>) -> Self {
        self.title_link = Some(url.into());
        self
    }

    /// Sets the text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the colour of the side bar (a CSS colour such as `#36a64f`).
    pub fn color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }

    /// Shows the image at `url`.
    pub fn image_url(mut self, url: impl Into<String>) -> Self {
        self.image_url = Some(url.into());
        self
    }

    /// Sets the author's name.
    pub fn author_name(mut self, name: impl Into<String>) -> Self {
        self.author_name = Some(name.into());
        self
    }

    /// Adds a `title: value` field; `short` fields are shown side by side.
    pub fn field(
        mut self,
        title: impl Into<String>,
        value: impl Into<String>,
        short: bool,
    ) -> Self {
        self.fields.push(AttachmentField {
            title: title.into(),
            value: value.into(),
            short,
        });
        self
    }
}

impl Default for Attachment {
    fn default() -> Self {
        Attachment::new()
    }
}

impl User {
    /// The display name, or the username when the display name is blank.
    pub fn display_name(&self) -> &str {
        if self.name.trim().is_empty() {
            &self.username
        } else {
            &self.name
        }
    }

    /// Whether the user has the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

impl Room {
    /// Whether this is a direct conversation.
    pub fn is_direct(&self) -> bool {
        self.kind == RoomKind::Direct
    }

    /// The name to show: the display name, the unique name, or the members of a direct
    /// conversation.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.member_usernames.join(", "))
    }
}

impl CommandContext {
    /// The parameters as [`Args`], parsed from the raw text (so [`Args::rest`] keeps it
    /// as typed), or from the host's word list when there is no raw text.
    pub fn args(&self) -> Args {
        if self.params.trim().is_empty() && !self.args.is_empty() {
            Args::from_words(self.args.clone())
        } else {
            Args::parse(&self.params)
        }
    }

    /// The word at `index` of the parameters.
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }

    /// The first word and the arguments after it; see [`Args::subcommand`].
    pub fn subcommand(&self) -> Option<(String, Args)> {
        let args = self.args();
        let (first, rest) = args.subcommand()?;
        Some((first.to_string(), rest))
    }

    /// A message in the room the command was run in (and its thread, if any), to
    /// return in a [`CommandReply`] or to send.
    pub fn reply(&self, text: impl Into<String>) -> Message {
        let mut message = Message::new(self.room.id.clone(), text);
        message.thread_id = self.thread_id.clone();
        message
    }

    /// Shows `text` only to the sender, right away (the reply's ephemeral text is shown
    /// when the command returns). Needs `message.write`.
    pub fn notify(&self, text: &str) -> Result<()> {
        crate::messages::notify_user(&self.sender.id, &self.room.id, text)
    }
}

impl CommandReply {
    /// A reply that shows nothing.
    pub fn empty() -> Self {
        CommandReply {
            ephemeral: None,
            message: None,
        }
    }

    /// A reply shown to the sender only ("only you can see this").
    pub fn ephemeral(text: impl Into<String>) -> Self {
        CommandReply {
            ephemeral: Some(text.into()),
            message: None,
        }
    }

    /// A reply posted in the room by the app's bot user.
    pub fn message(message: Message) -> Self {
        CommandReply {
            ephemeral: None,
            message: Some(message),
        }
    }

    /// Adds (or replaces) the text shown to the sender only.
    pub fn with_ephemeral(mut self, text: impl Into<String>) -> Self {
        self.ephemeral = Some(text.into());
        self
    }

    /// Adds (or replaces) the message posted in the room.
    pub fn with_message(mut self, message: Message) -> Self {
        self.message = Some(message);
        self
    }
}

impl PreSendDecision {
    /// Store `message` instead of the original.
    pub fn modify(message: Message) -> Self {
        PreSendDecision::Modify(message)
    }

    /// Do not store the message; the sender is shown `reason`.
    pub fn prevent(reason: impl Into<String>) -> Self {
        PreSendDecision::Prevent(reason.into())
    }
}

impl SettingValue {
    /// The text of a `string`, `select`, `password` or `multiline` setting.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SettingValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A `bool` setting's value; text `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0` is
    /// accepted too.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SettingValue::Boolean(b) => Some(*b),
            SettingValue::Number(n) => match n {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
            SettingValue::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
        }
    }

    /// An `int` setting's value; text holding an integer is accepted too.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SettingValue::Number(n) => Some(*n),
            SettingValue::Text(s) => s.trim().parse().ok(),
            SettingValue::Boolean(_) => None,
        }
    }

    /// The name of the variant, for messages: `text`, `number` or `boolean`.
    pub fn kind(&self) -> &'static str {
        match self {
            SettingValue::Text(_) => "text",
            SettingValue::Number(_) => "number",
            SettingValue::Boolean(_) => "boolean",
        }
    }
}

impl Job {
    /// The job's data decoded from JSON (as scheduled with
    /// [`scheduler::schedule_once_json`](crate::scheduler::schedule_once_json));
    /// `None` when it has none.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match &self.data {
            None => Ok(None),
            Some(text) => Ok(Some(serde_json::from_str(text)?)),
        }
    }
}

impl EndpointRequest {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.body)?)
    }

    /// The body decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// The query string's `name=value` pairs, percent-decoded (`+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        crate::http::parse_urlencoded(&self.query)
    }

    /// The first value of the query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The body's `application/x-www-form-urlencoded` pairs, percent-decoded.
    pub fn form_pairs(&self) -> Result<Vec<(String, String)>> {
        Ok(crate::http::parse_urlencoded(self.text()?))
    }
}

impl EndpointResponse {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        EndpointResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// An empty `200 OK`.
    pub fn ok() -> Self {
        EndpointResponse::new(200)
    }

    /// `404 Not Found` with a JSON error body.
    pub fn not_found() -> Self {
        EndpointResponse::error_body(404, "not-found", "not found")
    }

    /// A `text/plain` response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        EndpointResponse::new(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(text.into().into_bytes())
    }

    /// An `application/json` response with `value` as its body.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self> {
        Ok(EndpointResponse::new(status)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(value)?))
    }

    /// The response for a handler's error: the status from [`Error::http_status`] and
    /// a body `{"success": false, "error": "<message>", "errorType": "<code>"}`.
    pub fn from_error(error: &Error) -> Self {
        EndpointResponse::error_body(error.http_status(), error.code(), &error.to_string())
    }

    fn error_body(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "success": false, "error": message, "errorType": code });
        EndpointResponse::new(status)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

impl HttpResponse {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the status is 3xx.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// Whether the status is 4xx.
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }

    /// Whether the status is 5xx.
    pub fn is_server_error(&self) -> bool {
        (500..600).contains(&self.status)
    }

    /// The response itself when its status is 2xx, otherwise
    /// `Error::Network("HTTP <status>: <start of body>")`.
    pub fn error_for_status(self) -> Result<Self> {
        if self.is_success() {
            return Ok(self);
        }
        let body = self.text_lossy();
        let snippet: String = body.chars().take(200).collect();
        Err(Error::Network(if snippet.trim().is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, snippet.trim())
        }))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.body)?)
    }

    /// The body as text, with invalid UTF-8 replaced by `�`.
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

impl HttpRequest {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User {
            id: "u1".into(),
            username: "alice".into(),
            name: name.into(),
            roles: vec!["user".into()],
            active: true,
            is_bot: false,
        }
    }

    fn room() -> Room {
        Room {
            id: "r1".into(),
            kind: RoomKind::Channel,
            name: Some("general".into()),
            display_name: None,
            creator_id: None,
            users_count: 2,
            messages_count: 0,
            read_only: false,
            topic: None,
            member_usernames: Vec::new(),
        }
    }

    fn ctx(params: &str) -> CommandContext {
        CommandContext {
            command: "hello".into(),
            args: params.split_whitespace().map(String::from).collect(),
            params: params.into(),
            sender: user("Alice A."),
            room: room(),
            thread_id: Some("t1".into()),
            trigger_id: None,
        }
    }

    #[test]
    fn message_builder() {
        let m = Message::new("r1", "hi")
            .alias("CI")
            .emoji(":rocket:")
            .avatar("https://example.com/a.png")
            .thread("t9")
            .attachment(
                Attachment::new()
                    .title("build")
                    .color("#36a64f")
                    .field("took", "3s", true),
            )
            .custom_fields(serde_json::json!({"build": 42}));
        assert_eq!(m.room_id, "r1");
        assert_eq!(m.text, "hi");
        assert_eq!(m.alias.as_deref(), Some("CI"));
        assert_eq!(m.emoji.as_deref(), Some(":rocket:"));
        assert_eq!(m.thread_id.as_deref(), Some("t9"));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].fields[0].value, "3s");
        #[derive(serde::Deserialize)]
        struct Fields {
            build: u32,
        }
        let fields: Fields = m.custom_fields_as().unwrap().unwrap();
        assert_eq!(fields.build, 42);
        let changed = m.with_text("bye");
        assert_eq!(changed.text, "bye");
        assert_eq!(changed.alias.as_deref(), Some("CI"));
    }

    #[test]
    fn replies_go_to_the_thread() {
        let mut m = Message::new("r1", "q");
        m.id = Some("m1".into());
        assert_eq!(m.reply("a").thread_id.as_deref(), Some("m1"));
        m.thread_id = Some("t0".into());
        assert_eq!(m.reply("a").thread_id.as_deref(), Some("t0"));
        assert_eq!(m.reply("a").room_id, "r1");
    }

    #[test]
    fn command_context_helpers() {
        let c = ctx(r#"fetch "https://example.com/x y""#);
        let (sub, rest) = c.subcommand().unwrap();
        assert_eq!(sub, "fetch");
        assert_eq!(rest.first(), Some("https://example.com/x y"));
        assert_eq!(c.arg(0), Some("fetch"));
        let reply = c.reply("hi");
        assert_eq!(reply.room_id, "r1");
        assert_eq!(reply.thread_id.as_deref(), Some("t1"));
        assert_eq!(c.sender.display_name(), "Alice A.");
        assert_eq!(user("  ").display_name(), "alice");

        let mut from_list = ctx("");
        from_list.args = vec!["a b".into(), "c".into()];
        assert_eq!(from_list.args().first(), Some("a b"));
    }

    #[test]
    fn command_replies() {
        let r = CommandReply::message(Message::new("r", "x")).with_ephemeral("done");
        assert_eq!(r.ephemeral.as_deref(), Some("done"));
        assert!(r.message.is_some());
        assert_eq!(CommandReply::empty().message, None);
        assert_eq!(CommandReply::ephemeral("e").ephemeral.as_deref(), Some("e"));
    }

    #[test]
    fn setting_values() {
        assert_eq!(SettingValue::Text("x".into()).as_str(), Some("x"));
        assert_eq!(SettingValue::Number(3).as_str(), None);
        assert_eq!(SettingValue::Boolean(true).as_bool(), Some(true));
        assert_eq!(SettingValue::Text(" Yes ".into()).as_bool(), Some(true));
        assert_eq!(SettingValue::Text("off".into()).as_bool(), Some(false));
        assert_eq!(SettingValue::Text("maybe".into()).as_bool(), None);
        assert_eq!(SettingValue::Number(7).as_i64(), Some(7));
        assert_eq!(SettingValue::Text(" -12 ".into()).as_i64(), Some(-12));
        assert_eq!(SettingValue::Boolean(true).as_i64(), None);
    }

    #[test]
    fn endpoint_helpers() {
        let req = EndpointRequest {
            method: "POST".into(),
            path: "hook".into(),
            query: "a=1&b=x+y&c=%C3%A9%2F&a=2&flag".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"n": 5}"#.to_vec(),
            user: None,
        };
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.query_param("a").as_deref(), Some("1"));
        assert_eq!(req.query_param("b").as_deref(), Some("x y"));
        assert_eq!(req.query_param("c").as_deref(), Some("é/"));
        assert_eq!(req.query_param("flag").as_deref(), Some(""));
        let v: serde_json::Value = req.json().unwrap();
        assert_eq!(v["n"], 5);

        let res = EndpointResponse::json(201, &serde_json::json!({"ok": true})).unwrap();
        assert_eq!(res.status, 201);
        assert_eq!(
            find_header(&res.headers, "Content-Type"),
            Some("application/json")
        );
        let res = EndpointResponse::from_error(&Error::PermissionDenied("api".into()));
        assert_eq!(res.status, 403);
        let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(body["errorType"], "permission-denied");
        assert_eq!(EndpointResponse::not_found().status, 404);
        assert_eq!(EndpointResponse::text(200, "hi").body, b"hi");
    }

    #[test]
    fn http_response_helpers() {
        let res = HttpResponse {
            status: 503,
            headers: vec![("X-A".into(), "1".into())],
            body: b"down for maintenance\nmore".to_vec(),
        };
        assert!(res.is_server_error());
        assert!(!res.is_success());
        assert_eq!(res.header("x-a"), Some("1"));
        assert_eq!(
            res.clone().error_for_status(),
            Err(Error::Network(
                "HTTP 503: down for maintenance\nmore".into()
            ))
        );
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: br#"[1,2]"#.to_vec(),
        };
        assert_eq!(
            ok.clone()
                .error_for_status()
                .unwrap()
                .json::<Vec<u8>>()
                .unwrap(),
            [1, 2]
        );
        let invalid = HttpResponse {
            status: 200,
            headers: vec![],
            body: vec![0xff, b'a'],
        };
        assert!(invalid.text().is_err());
        assert_eq!(invalid.text_lossy(), "\u{fffd}a");
    }

    #[test]
    fn job_data() {
        let job = Job {
            id: "j".into(),
            name: "n".into(),
            data: Some(r#"{"x":1}"#.into()),
        };
        let v: serde_json::Value = job.data_json().unwrap().unwrap();
        assert_eq!(v["x"], 1);
    }
}

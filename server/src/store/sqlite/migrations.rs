//! The schema's migrations, oldest first: the SQL each version adds. Kept apart
//! from the code that applies them (`schema.rs`), as the list only grows.

/// Each entry migrates from version `index` to `index + 1`. Never edit a shipped
/// entry: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username_key TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        password_hash TEXT,
        doc TEXT NOT NULL
    );
    CREATE TABLE user_emails (
        address TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE
    );
    CREATE INDEX user_emails_user ON user_emails(user_id);
    CREATE TABLE tokens (
        hashed TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX tokens_user ON tokens(user_id);
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        t TEXT NOT NULL,
        name_key TEXT UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        rid TEXT NOT NULL,
        uid TEXT NOT NULL,
        username TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (rid, uid)
    );
    CREATE INDEX subscriptions_user ON subscriptions(uid, updated_at);
    CREATE INDEX subscriptions_room ON subscriptions(rid, username);
    CREATE TABLE removed_subscriptions (
        id TEXT NOT NULL,
        rid TEXT NOT NULL,
        uid TEXT NOT NULL,
        deleted_at INTEGER NOT NULL
    );
    CREATE INDEX removed_subscriptions_user ON removed_subscriptions(uid, deleted_at);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        rid TEXT NOT NULL,
        ts INTEGER NOT NULL,
        tmid TEXT,
        doc TEXT NOT NULL
    );
    CREATE INDEX messages_room_ts ON messages(rid, ts);
    CREATE INDEX messages_thread ON messages(tmid, ts) WHERE tmid IS NOT NULL;
    CREATE TABLE settings (
        id TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );
    "#,
    // 2: the apps engine.
    r#"
    CREATE TABLE apps (
        id TEXT PRIMARY KEY,
        installed_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE app_data (
        app_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    CREATE TABLE app_logs (
        app_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        level_rank INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX app_logs_app ON app_logs(app_id, ts);
    CREATE INDEX app_logs_ts ON app_logs(ts);
    CREATE TABLE app_jobs (
        id TEXT PRIMARY KEY,
        app_id TEXT NOT NULL,
        next_run INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX app_jobs_due ON app_jobs(next_run);
    CREATE INDEX app_jobs_app ON app_jobs(app_id);
    "#,
    // 3: integrations (incoming webhooks).
    r#"
    CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX integrations_created ON integrations(created_at, id);
    "#,
    // 4: the delivery queue (outbox); columns, not a JSON document, so that leasing
    // is one UPDATE … RETURNING.
    r#"
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        since INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER NOT NULL,
        UNIQUE (kind, dedupe_key)
    );
    CREATE INDEX outbox_due ON outbox(kind, state, next_attempt);
    CREATE INDEX outbox_state_created ON outbox(state, kind, created_at);
    "#,
    // 5: the settings audit log.
    r#"
    CREATE TABLE setting_changes (
        id TEXT PRIMARY KEY,
        setting_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        actor_id TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX setting_changes_ts ON setting_changes(ts, id);
    CREATE INDEX setting_changes_setting ON setting_changes(setting_id, ts);
    "#,
    // 6: uploaded files (the bytes live in the object storage).
    r#"
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        rid TEXT NOT NULL,
        message_id TEXT,
        expires_at INTEGER,
        uploaded_at INTEGER NOT NULL,
        name_key TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX uploads_room ON uploads(rid, uploaded_at);
    CREATE INDEX uploads_message ON uploads(message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX uploads_expiry ON uploads(expires_at) WHERE expires_at IS NOT NULL;
    "#,
    // 7: presence: the live realtime connections, and users by status.
    r#"
    CREATE TABLE presence_conns (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        status TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX presence_conns_user ON presence_conns(user_id);
    CREATE INDEX presence_conns_instance ON presence_conns(instance_id);
    CREATE INDEX presence_conns_expiry ON presence_conns(expires_at);
    CREATE INDEX users_status ON users(json_extract(doc, '$.status'));
    "#,
    // 8: roles.
    r#"
    CREATE TABLE roles (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE removed_roles (
        id TEXT NOT NULL,
        deleted_at INTEGER NOT NULL
    );
    CREATE INDEX removed_roles_at ON removed_roles(deleted_at);
    "#,
    // 9: scale: every listing a request reaches is a range of an index in its own
    // order, so its cost does not grow with the table. (Messages of one millisecond
    // come in posting order: the rowid every index ends in.)
    r#"
    CREATE INDEX messages_room_main ON messages(rid, ts) WHERE tmid IS NULL;
    CREATE INDEX users_created ON users(created_at, id);
    CREATE INDEX rooms_type_name ON rooms(t, name_key, id);
    CREATE INDEX rooms_type_ts ON rooms(t, json_extract(doc, '$.ts'), id);
    CREATE INDEX rooms_type_users ON rooms(t, json_extract(doc, '$.usersCount'), id);
    CREATE INDEX rooms_type_msgs ON rooms(t, json_extract(doc, '$.msgs'), id);
    CREATE INDEX outbox_due_order ON outbox(kind, state, next_attempt, created_at);
    DROP INDEX outbox_due;
    "#,
    // 10: external identities (`services`): one account per service and identifier.
    r#"
    CREATE TABLE user_services (
        service TEXT NOT NULL,
        service_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (service, service_id)
    );
    CREATE INDEX user_services_user ON user_services(user_id);
    INSERT INTO user_services (service, service_id, user_id)
        SELECT s.key, json_extract(s.value, '$.id'), u.id
        FROM users u, json_each(u.doc, '$.services') s
        WHERE json_extract(s.value, '$.id') IS NOT NULL;
    "#,
    // 11: scale: users by role (kept by triggers in the statement that writes the
    // user, whatever the write), the admin's user tabs, presence deltas and the
    // default rooms as index ranges.
    r#"
    CREATE TABLE user_roles (
        role TEXT NOT NULL,
        username_key TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (role, username_key, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX user_roles_user ON user_roles(user_id);
    INSERT OR IGNORE INTO user_roles (role, username_key, user_id)
        SELECT r.value, u.username_key, u.id FROM users u, json_each(u.doc, '$.roles') r;
    CREATE TRIGGER users_roles_insert AFTER INSERT ON users BEGIN
        INSERT OR IGNORE INTO user_roles (role, username_key, user_id)
            SELECT value, new.username_key, new.id FROM json_each(new.doc, '$.roles');
    END;
    CREATE TRIGGER users_roles_update AFTER UPDATE OF username_key, doc ON users
    WHEN old.username_key IS NOT new.username_key
        OR json_extract(old.doc, '$.roles') IS NOT json_extract(new.doc, '$.roles')
    BEGIN
        DELETE FROM user_roles WHERE user_id = old.id;
        INSERT OR IGNORE INTO user_roles (role, username_key, user_id)
            SELECT value, new.username_key, new.id FROM json_each(new.doc, '$.roles');
    END;
    CREATE TRIGGER users_roles_delete AFTER DELETE ON users BEGIN
        DELETE FROM user_roles WHERE user_id = old.id;
    END;
    CREATE INDEX users_active_name ON users(json_extract(doc, '$.active'), username_key, id);
    CREATE INDEX users_login_type_name ON users(
        (json_extract(doc, '$.lastLogin') IS NOT NULL), json_extract(doc, '$.type'),
        username_key, id);
    CREATE INDEX users_type_name ON users(json_extract(doc, '$.type'), username_key, id);
    CREATE INDEX users_updated ON users(json_extract(doc, '$._updatedAt'));
    CREATE INDEX rooms_default ON rooms(name_key, id) WHERE json_extract(doc, '$.default') = 1;
    "#,
    // 12: ldap: periodic jobs run by one instance at a time (the directory sync), with
    // their last run and report.
    r#"
    CREATE TABLE job_leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until INTEGER NOT NULL,
        last_run INTEGER,
        report TEXT
    );
    "#,
    // 13: push: mobile push tokens and Web Push subscriptions (one row per device, its
    // token or endpoint unique), and the server's push keys (VAPID).
    r#"
    CREATE TABLE push_devices (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        value TEXT NOT NULL UNIQUE,
        auth_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX push_devices_user ON push_devices(user_id, created_at, id);
    CREATE INDEX push_devices_auth ON push_devices(auth_token);
    CREATE TABLE push_keys (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
    // 14: matrix: the bridge's room, user and event links, and handled transactions.
    r#"
    CREATE TABLE matrix_rooms (
        room_id TEXT PRIMARY KEY,
        matrix_room_id TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE matrix_users (
        user_id TEXT PRIMARY KEY,
        mxid TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE matrix_events (
        event_id TEXT PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL
    );
    CREATE TABLE matrix_txns (
        txn_id TEXT PRIMARY KEY,
        at INTEGER NOT NULL
    );
    "#,
    // scale: the rest of what requests read as index ranges in their own order — a
    // room's members holding room roles (owners, moderators, leaders: a partial
    // index of them only), its members by name, its kept files, the expiry sweep,
    // the delivery queue's dead letters and statistics, the settings audit by
    // setting and by actor, an app's log total by level; and a trigram index of
    // usernames and names (FTS5, kept by triggers; its rows mapped by user id, as a
    // user's rowid is not stable across VACUUM) so that a users search for a term
    // few users match reads those users, not the table.
    r#"
    CREATE INDEX subscriptions_roled ON subscriptions(rid, username, id)
        WHERE json_array_length(doc, '$.roles') > 0;
    CREATE INDEX subscriptions_room_order ON subscriptions(rid, username, uid);
    DROP INDEX subscriptions_room;
    CREATE INDEX uploads_room_kept ON uploads(rid, uploaded_at, id, expires_at)
        WHERE expires_at IS NULL;
    CREATE INDEX uploads_expiry_order ON uploads(expires_at, id) WHERE expires_at IS NOT NULL;
    DROP INDEX uploads_expiry;
    CREATE INDEX outbox_state_kind ON outbox(state, kind, created_at, id, lease_until);
    CREATE INDEX outbox_state_order ON outbox(state, created_at, id);
    DROP INDEX outbox_state_created;
    CREATE INDEX setting_changes_setting_order ON setting_changes(setting_id, ts, id);
    CREATE INDEX setting_changes_actor ON setting_changes(actor_id, ts, id);
    DROP INDEX setting_changes_setting;
    CREATE INDEX app_logs_level ON app_logs(app_id, level_rank);
    CREATE VIRTUAL TABLE users_search USING fts5(uid UNINDEXED, username, name,
        tokenize = 'trigram');
    CREATE TABLE users_search_rows (
        user_id TEXT PRIMARY KEY,
        row INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO users_search (uid, username, name)
        SELECT id, username_key, lower(coalesce(json_extract(doc, '$.name'), '')) FROM users;
    INSERT INTO users_search_rows (user_id, row) SELECT uid, rowid FROM users_search;
    CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
        INSERT INTO users_search (uid, username, name) VALUES (new.id, new.username_key,
            lower(coalesce(json_extract(new.doc, '$.name'), '')));
        INSERT INTO users_search_rows (user_id, row) VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER users_search_update AFTER UPDATE OF username_key, doc ON users
    WHEN old.username_key IS NOT new.username_key
        OR json_extract(old.doc, '$.name') IS NOT json_extract(new.doc, '$.name')
    BEGIN
        DELETE FROM users_search
            WHERE rowid = (SELECT row FROM users_search_rows WHERE user_id = old.id);
        DELETE FROM users_search_rows WHERE user_id = old.id;
        INSERT INTO users_search (uid, username, name) VALUES (new.id, new.username_key,
            lower(coalesce(json_extract(new.doc, '$.name'), '')));
        INSERT INTO users_search_rows (user_id, row) VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
        DELETE FROM users_search
            WHERE rowid = (SELECT row FROM users_search_rows WHERE user_id = old.id);
        DELETE FROM users_search_rows WHERE user_id = old.id;
    END;
    "#,
    // hooks: integrations' history (outgoing deliveries, incoming calls), read per
    // integration newest first and pruned per integration.
    r#"
    CREATE TABLE integration_history (
        id TEXT PRIMARY KEY,
        integration_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX integration_history_by_time ON integration_history(integration_id, at, id);
    "#,
    // 15: saml: single-use keys with an expiry (SAML request ids, the assertion replay
    // cache, credential tokens), shared by every instance using this database.
    r#"
    CREATE TABLE once_keys (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX once_keys_expires ON once_keys(expires);
    "#,
    // merge of media and scale: a room's files leave out thumbnails and avatars
    // (`typeGroup`), so the partial index of kept files does too, keeping the files
    // listing and its count on the index alone.
    r#"
    DROP INDEX uploads_room_kept;
    CREATE INDEX uploads_room_kept ON uploads(rid, uploaded_at, id, expires_at)
        WHERE expires_at IS NULL AND json_extract(doc, '$.typeGroup') IS NULL;
    "#,
    // msgs: a room's pinned, starred and mentioning messages and its thread parents
    // by partial indexes of them only; a room's messages by change time (syncs);
    // tombstones of deleted messages (Rocket.Chat's trash) by room and by thread;
    // and a full-text index of message texts (FTS5, kept by triggers; its rows
    // mapped by message id, as a message's rowid is not stable across VACUUM; an
    // edit keeps the row, so the index's row order stays the posting order).
    r#"
    CREATE INDEX messages_pinned ON messages(rid, ts)
        WHERE json_extract(doc, '$.pinned') = 1;
    CREATE INDEX messages_starred ON messages(rid, ts)
        WHERE json_extract(doc, '$.starred[0]') IS NOT NULL;
    CREATE INDEX messages_mentions ON messages(rid, ts)
        WHERE json_extract(doc, '$.mentions[0]') IS NOT NULL;
    CREATE INDEX messages_threads ON messages(rid, json_extract(doc, '$.tlm'))
        WHERE json_extract(doc, '$.tcount') IS NOT NULL;
    CREATE INDEX messages_changed ON messages(rid, json_extract(doc, '$._updatedAt'));
    CREATE TABLE messages_trash (
        id TEXT PRIMARY KEY,
        rid TEXT NOT NULL,
        tmid TEXT,
        was_thread INTEGER NOT NULL,
        deleted_at INTEGER NOT NULL
    );
    CREATE INDEX messages_trash_room ON messages_trash(rid, deleted_at);
    CREATE INDEX messages_trash_thread ON messages_trash(tmid, deleted_at)
        WHERE tmid IS NOT NULL;
    CREATE VIRTUAL TABLE messages_search USING fts5(mid UNINDEXED, rid, msg,
        tokenize = 'unicode61 remove_diacritics 0');
    CREATE TABLE messages_search_rows (
        mid TEXT PRIMARY KEY,
        row INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO messages_search (rowid, mid, rid, msg)
        SELECT rowid, id, rid, coalesce(json_extract(doc, '$.msg'), '') FROM messages;
    INSERT INTO messages_search_rows (mid, row) SELECT id, rowid FROM messages;
    CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_search (mid, rid, msg)
            VALUES (new.id, new.rid, coalesce(json_extract(new.doc, '$.msg'), ''));
        INSERT OR REPLACE INTO messages_search_rows (mid, row)
            VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER messages_search_update AFTER UPDATE OF doc ON messages
        WHEN json_extract(old.doc, '$.msg') IS NOT json_extract(new.doc, '$.msg')
    BEGIN
        DELETE FROM messages_search
            WHERE rowid = (SELECT row FROM messages_search_rows WHERE mid = old.id);
        INSERT INTO messages_search (rowid, mid, rid, msg)
            VALUES ((SELECT row FROM messages_search_rows WHERE mid = old.id),
                new.id, new.rid, coalesce(json_extract(new.doc, '$.msg'), ''));
        INSERT OR REPLACE INTO messages_search_rows (mid, row)
            VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_search
            WHERE rowid = (SELECT row FROM messages_search_rows WHERE mid = old.id);
        DELETE FROM messages_search_rows WHERE mid = old.id;
    END;
    "#,
    // scale (search): room names and display names in a trigram index, as users'
    // (FTS5, kept by triggers, rows mapped by room id), so that a rooms search for a
    // term few rooms match reads those rooms, not every room of the types.
    r#"
    CREATE VIRTUAL TABLE rooms_search USING fts5(rid UNINDEXED, name, fname,
        tokenize = 'trigram');
    CREATE TABLE rooms_search_rows (
        room_id TEXT PRIMARY KEY,
        row INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO rooms_search (rid, name, fname)
        SELECT id, coalesce(name_key, ''), lower(coalesce(json_extract(doc, '$.fname'), ''))
        FROM rooms;
    INSERT INTO rooms_search_rows (room_id, row) SELECT rid, rowid FROM rooms_search;
    CREATE TRIGGER rooms_search_insert AFTER INSERT ON rooms BEGIN
        INSERT INTO rooms_search (rid, name, fname) VALUES (new.id, coalesce(new.name_key, ''),
            lower(coalesce(json_extract(new.doc, '$.fname'), '')));
        INSERT INTO rooms_search_rows (room_id, row) VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER rooms_search_update AFTER UPDATE OF name_key, doc ON rooms
    WHEN old.name_key IS NOT new.name_key
        OR json_extract(old.doc, '$.fname') IS NOT json_extract(new.doc, '$.fname')
    BEGIN
        DELETE FROM rooms_search
            WHERE rowid = (SELECT row FROM rooms_search_rows WHERE room_id = old.id);
        DELETE FROM rooms_search_rows WHERE room_id = old.id;
        INSERT INTO rooms_search (rid, name, fname) VALUES (new.id, coalesce(new.name_key, ''),
            lower(coalesce(json_extract(new.doc, '$.fname'), '')));
        INSERT INTO rooms_search_rows (room_id, row) VALUES (new.id, last_insert_rowid());
    END;
    CREATE TRIGGER rooms_search_delete AFTER DELETE ON rooms BEGIN
        DELETE FROM rooms_search
            WHERE rowid = (SELECT row FROM rooms_search_rows WHERE room_id = old.id);
        DELETE FROM rooms_search_rows WHERE room_id = old.id;
    END;
    "#,
    // disc: discussions — a room's discussions by parent and name, the messages
    // linking to one by discussion, and a room's linking messages by time; teams —
    // a team's rooms by name, and the teams' main rooms by name (each a partial
    // index of those rows only).
    r#"
    CREATE INDEX rooms_prid ON rooms(json_extract(doc, '$.prid'), json_extract(doc, '$.fname'), id)
        WHERE json_extract(doc, '$.prid') IS NOT NULL;
    CREATE INDEX messages_drid ON messages(json_extract(doc, '$.drid'))
        WHERE json_extract(doc, '$.drid') IS NOT NULL;
    CREATE INDEX messages_discussions ON messages(rid, ts)
        WHERE json_extract(doc, '$.drid') IS NOT NULL;
    CREATE INDEX rooms_team ON rooms(json_extract(doc, '$.teamId'), name_key, id)
        WHERE json_extract(doc, '$.teamId') IS NOT NULL;
    CREATE INDEX rooms_team_main ON rooms(name_key, id)
        WHERE json_extract(doc, '$.teamMain') = 1;
    "#,
    // cmds: messages reported to the moderators (`chat.reportMessage`), read per
    // message newest first (`moderation.reports`).
    r#"
    CREATE TABLE message_reports (
        id TEXT PRIMARY KEY,
        message_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX message_reports_by_message ON message_reports(message_id, ts, id);
    "#,
    // No table changes: rooms are now written with `sysMes: true` and
    // `customFields: {}` when they have none (Rocket.Chat's shapes), which a palaver
    // from before cannot read. The version moves so that such a palaver refuses the
    // database at start instead of failing on every room.
    "SELECT 1;",
    // Data export operations (`users.requestDataDownload`), found by person, kind
    // and time.
    r#"
    CREATE TABLE export_operations (
        id TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        full INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX export_operations_user ON export_operations(uid, full, created_at, id);
    "#,
    // Invite links (`findOrCreateInvite`, `useInviteToken`): found by token, the
    // creator's reusable invite by (room, creator, uses, days), listed by creation,
    // removed with their room.
    r#"
    CREATE TABLE invites (
        id TEXT PRIMARY KEY,
        rid TEXT NOT NULL,
        uid TEXT NOT NULL,
        max_uses INTEGER NOT NULL,
        days INTEGER NOT NULL,
        uses INTEGER NOT NULL,
        expires INTEGER,
        created_at INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX invites_reuse ON invites(rid, uid, max_uses, days, created_at, id);
    CREATE INDEX invites_created ON invites(created_at, id);
    "#,
    // `users.list` sorted by status: the status as shown (absent: offline), then
    // `active`, then the username, as Rocket.Chat sorts `{status, active}`.
    r#"
    CREATE INDEX users_status_active ON users(
        coalesce(json_extract(doc, '$.status'), 'offline'),
        json_extract(doc, '$.active'),
        username_key
    );
    "#,
];

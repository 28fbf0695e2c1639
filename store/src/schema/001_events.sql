-- salvo event store, schema version 1. Applied once, in one transaction,
-- by the migration runner (sqlite_store.cpp), which records the version in
-- schema_version. Times are milliseconds since the Unix epoch, UTC.

-- One row per distinct event. The parsed columns serve joins, counts and
-- suppression; `raw` keeps every field as sent (SecretKey left out).
CREATE TABLE events (
  id            INTEGER PRIMARY KEY,
  type          TEXT    NOT NULL,            -- Type as sent
  kind          INTEGER NOT NULL,            -- platform::event_type
  state         INTEGER NOT NULL,            -- platform::delivery_state it implies
  date_time     TEXT    NOT NULL,            -- DateTime as sent
  occurred_at   INTEGER,                     -- DateTime parsed
  received_at   INTEGER NOT NULL,
  server_id     TEXT    NOT NULL,
  mailing_id    TEXT    NOT NULL,
  message_id    TEXT    NOT NULL,
  address       TEXT    NOT NULL,            -- as sent
  address_key   TEXT    NOT NULL,            -- local part as sent, domain lower case
  failure_type  INTEGER,
  failure_code  INTEGER,
  tracking_type INTEGER,
  url           TEXT,
  reason        TEXT,
  identity      TEXT    NOT NULL,            -- platform::identity_extra()
  raw           TEXT    NOT NULL
);
-- A redelivered event is the same (Type, MailingId, MessageId, Address,
-- DateTime, type-specific key): stored once.
CREATE UNIQUE INDEX events_identity
  ON events (type, message_id, address, date_time, identity, mailing_id);
CREATE INDEX events_by_mailing ON events (mailing_id);
CREATE INDEX events_by_address ON events (address_key, state);

-- The addresses the next campaign skips.
CREATE TABLE suppressions (
  address      TEXT PRIMARY KEY,             -- local part as sent, domain lower case
  reason       TEXT    NOT NULL,             -- hard_bounce, platform_suppressed, complaint, unsubscribe, soft_bounces, manual
  source_event INTEGER REFERENCES events(id),
  added_at     INTEGER NOT NULL
) WITHOUT ROWID;

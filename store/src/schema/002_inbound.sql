-- salvo event store, schema version 2: inbound mail (the Inbound API) and
-- where each suppression came from. Applied once, in one transaction.

-- One row per inbound message. `raw` is the parsed post without its
-- SecretKey and without attachment contents (those are files named by
-- their SHA-256 in the attachments folder, see inbound_attachments).
CREATE TABLE inbound_messages (
  id            INTEGER PRIMARY KEY,
  received_at   INTEGER NOT NULL,
  kind          TEXT    NOT NULL,            -- platform::inbound_kind
  kind_reason   TEXT    NOT NULL,            -- why the classifier chose it
  address       TEXT,                        -- the recipient reported on, or the sender
  status        TEXT,                        -- a DSN's Status
  mail_from     TEXT    NOT NULL,
  rcpt_to       TEXT    NOT NULL,
  subject       TEXT    NOT NULL,
  header_message_id TEXT,                    -- the Message-ID header
  mailing_id    TEXT,                        -- the campaign it answers or reports on
  message_id    TEXT,                        -- the campaign row (joined), when found
  dedupe_key    TEXT UNIQUE,                 -- Message-ID + RcptTo: a redelivered post is stored once
  raw           TEXT    NOT NULL
);
CREATE INDEX inbound_by_kind ON inbound_messages (kind);
CREATE INDEX inbound_by_mailing ON inbound_messages (mailing_id);

CREATE TABLE inbound_attachments (
  inbound_id    INTEGER NOT NULL REFERENCES inbound_messages(id),
  position      INTEGER NOT NULL,
  name          TEXT    NOT NULL,
  content_type  TEXT    NOT NULL,
  embedded      INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT,                        -- the file's name; NULL when not decoded
  error         TEXT,                        -- why the content could not be decoded
  PRIMARY KEY (inbound_id, position)
);
CREATE INDEX events_by_message_id ON events (message_id);

-- Who put an address on the list: `event` (an Event Webhook event),
-- `dsn` (a bounce report by mail), `arf` (a complaint report by mail),
-- `inbound-reply` (an unsubscribe request by mail), `one-click` (RFC 8058
-- POST), `manual` (salvo suppressions add).
ALTER TABLE suppressions ADD COLUMN source TEXT NOT NULL DEFAULT 'event';
ALTER TABLE suppressions ADD COLUMN source_inbound INTEGER REFERENCES inbound_messages(id);
UPDATE suppressions SET source = 'manual' WHERE source_event IS NULL;

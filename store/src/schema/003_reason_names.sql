-- salvo event store, schema version 3: suppression reasons take the names
-- of the contract (issue 15): `complained` and `unsubscribed`, as the
-- delivery states are called, instead of `complaint` and `unsubscribe`.
-- Rows older salvos wrote are renamed; nothing else changes. Readers still
-- accept the old spelling where a user can type it.
UPDATE suppressions SET reason = 'complained' WHERE reason = 'complaint';
UPDATE suppressions SET reason = 'unsubscribed' WHERE reason = 'unsubscribe';

-- Schema 3: the suppression reasons are the contract's names, `complained`
-- and `unsubscribed` (older salvos wrote `complaint` and `unsubscribe`), as
-- store/src/schema/003_reason_names.sql does for SQLite; the rank function
-- that orders replicas' suppressions knows the new names (and the old ones,
-- for rows a replica of an older salvo writes meanwhile).
UPDATE suppressions SET reason = 'complained' WHERE reason = 'complaint';
UPDATE suppressions SET reason = 'unsubscribed' WHERE reason = 'unsubscribe';
CREATE OR REPLACE FUNCTION salvo_suppression_rank(reason text, source text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE
    WHEN source = 'manual' THEN 9
    WHEN reason IN ('complained', 'complaint') THEN 5
    WHEN reason IN ('unsubscribed', 'unsubscribe') THEN 4
    WHEN reason IN ('hard_bounce', 'platform_suppressed') THEN 3
    WHEN reason = 'soft_bounces' THEN 1
    ELSE 0 END;

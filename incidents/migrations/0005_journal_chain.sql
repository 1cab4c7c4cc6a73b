-- sitroom 0005: the journal becomes tamper-evident. Each row carries an HMAC chained over the
-- previous row's (computed by the application with a key that never enters the database), and
-- who changed what from which client. journal_head holds the last row of the chain, locked by
-- every append so that rows are sealed one after another without gaps.
ALTER TABLE incident_events ADD COLUMN client text;
ALTER TABLE incident_events ADD COLUMN prev_mac bytea;
ALTER TABLE incident_events ADD COLUMN mac bytea;
ALTER TABLE incident_events ALTER COLUMN at DROP DEFAULT;
CREATE INDEX incident_events_at ON incident_events (at);

CREATE TABLE journal_head (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq      bigint NOT NULL,
    mac      bytea NOT NULL,
    head_mac bytea
);
-- Rows written before the chain existed (development databases) stay below chain_start and are
-- reported by `sitroom journal verify` as unsealed.
INSERT INTO journal_head (seq, mac)
    SELECT coalesce(max(seq), 0), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
    FROM incident_events;
ALTER TABLE journal_head ADD COLUMN chain_start bigint NOT NULL DEFAULT 0;
UPDATE journal_head SET chain_start = seq;

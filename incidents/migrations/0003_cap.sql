-- sitroom 0003: CAP 1.2 alerts, kept whole (as msgspec JSON) and as searchable columns.
CREATE TABLE cap_alerts (
    id           text PRIMARY KEY,          -- cap:{sender}:{identifier} (or its sha256 form)
    agency       text NOT NULL,
    source       text NOT NULL,
    sender       text NOT NULL,
    identifier   text NOT NULL,
    sent         timestamptz NOT NULL,
    status       text NOT NULL,              -- Actual, Exercise, System, Test, Draft
    msg_type     text NOT NULL,              -- Alert, Update, Cancel, Ack, Error
    scope        text NOT NULL,
    level        text CHECK (level IN ('I', 'II', 'III', 'IV')),
    headline     text,
    event        text,
    lat          double precision,
    lon          double precision,
    alert        jsonb NOT NULL,             -- the whole alert; exported back as CAP 1.2 XML
    received_at  timestamptz NOT NULL,
    superseded_by text REFERENCES cap_alerts (id),
    cancelled_by  text REFERENCES cap_alerts (id),
    incident_id  uuid REFERENCES incidents (id)
);
CREATE INDEX cap_alerts_sent ON cap_alerts (sent DESC);

-- What each alert references, kept even before the referenced alert arrives.
CREATE TABLE cap_references (
    alert_id      text NOT NULL REFERENCES cap_alerts (id),
    referenced_id text NOT NULL,
    PRIMARY KEY (alert_id, referenced_id)
);
CREATE INDEX cap_references_referenced ON cap_references (referenced_id);

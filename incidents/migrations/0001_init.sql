-- sitroom 0001: units, positions, reports, incidents, the incident journal, dead letters.
-- Spatial queries use cube + earthdistance (no PostGIS needed).
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

CREATE TABLE units (
    unit        text PRIMARY KEY,
    agency      text NOT NULL,
    unit_type   text,
    source      text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    speed       real,
    heading     real,
    last_ts     timestamptz NOT NULL,
    position_id text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- No index on the position columns: every batch rewrites these rows, and indexes on updated
-- columns cost each update (measured: a GiST on ll_to_earth more than doubled batch time).
-- Nearest-unit searches run in memory (maps/); a scan of ~10,000 rows serves the rest.

CREATE TABLE positions (
    id          text PRIMARY KEY,
    unit        text NOT NULL,
    agency      text NOT NULL,
    source      text NOT NULL,
    ts          timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    speed       real,
    heading     real,
    accuracy    real,
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX positions_unit_ts ON positions (unit, ts DESC);

CREATE TABLE incidents (
    id            uuid PRIMARY KEY,
    type          text NOT NULL,
    level         text NOT NULL CHECK (level IN ('I', 'II', 'III', 'IV')),
    status        text NOT NULL
                  CHECK (status IN ('reported', 'verified', 'responding', 'contained', 'closed')),
    title         text NOT NULL,
    lat           double precision NOT NULL,
    lon           double precision NOT NULL,
    agency        text NOT NULL,
    source_report text,
    reported_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX incidents_open ON incidents (status) WHERE status <> 'closed';
CREATE INDEX incidents_earth ON incidents USING gist (ll_to_earth(lat, lon));

CREATE TABLE reports (
    id          text PRIMARY KEY,
    agency      text NOT NULL,
    source      text NOT NULL,
    ts          timestamptz NOT NULL,
    type        text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    text        text NOT NULL,
    level       text,
    reporter    text,
    received_at timestamptz NOT NULL,
    incident_id uuid REFERENCES incidents (id)
);

-- Append-only: every change to an incident is a row here; rows are never edited.
CREATE TABLE incident_events (
    seq         bigserial PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, seq);

CREATE FUNCTION sitroom_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER incident_events_append_only
    BEFORE UPDATE OR DELETE ON incident_events
    FOR EACH ROW EXECUTE FUNCTION sitroom_refuse_change();
CREATE TRIGGER incident_events_no_truncate
    BEFORE TRUNCATE ON incident_events
    FOR EACH STATEMENT EXECUTE FUNCTION sitroom_refuse_change();

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL,
    message_id  text,
    replayed_at timestamptz
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);

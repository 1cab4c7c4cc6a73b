-- sitroom 0006: response plans dispatched for incidents, and the orders sent to units.
-- Orders are also the outbox of dispatch messages: ingest publishes the ones not yet sent
-- (sent_at IS NULL) and re-sends or escalates the ones not acknowledged by their deadline.
CREATE TABLE dispatches (
    id           uuid PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    plan_id      text NOT NULL,
    plan_version text NOT NULL,
    level        text NOT NULL CHECK (level IN ('I', 'II', 'III', 'IV')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX dispatches_incident ON dispatches (incident_id);

CREATE TABLE dispatch_orders (
    id           text PRIMARY KEY,
    dispatch_id  uuid REFERENCES dispatches (id),
    incident_id  uuid NOT NULL REFERENCES incidents (id),
    unit         text NOT NULL,
    agency       text NOT NULL,
    task_id      text NOT NULL,
    task         jsonb NOT NULL,
    state        text NOT NULL CHECK (state IN ('issued', 'acknowledged', 'en_route',
                                                'on_scene', 'done', 'rejected', 'cancelled')),
    issued_by    text NOT NULL,
    issued_at    timestamptz NOT NULL,
    deadline_at  timestamptz NOT NULL,
    sent_at      timestamptz,
    send_count   integer NOT NULL DEFAULT 0,
    escalated_at timestamptz,
    replaces     text REFERENCES dispatch_orders (id),
    updated_at   timestamptz NOT NULL
);
CREATE INDEX dispatch_orders_incident ON dispatch_orders (incident_id);
CREATE INDEX dispatch_orders_unsent ON dispatch_orders (issued_at) WHERE sent_at IS NULL;
CREATE INDEX dispatch_orders_waiting ON dispatch_orders (deadline_at) WHERE state = 'issued';
-- A unit works one order at a time: two leaders dispatching the same unit at once cannot both win.
CREATE UNIQUE INDEX dispatch_orders_one_open_per_unit ON dispatch_orders (unit)
    WHERE state NOT IN ('done', 'rejected', 'cancelled');

ALTER TABLE incidents ADD COLUMN resolution text;
ALTER TABLE incidents ADD COLUMN merged_into uuid REFERENCES incidents (id);
ALTER TABLE incidents ADD COLUMN verified_at timestamptz;
ALTER TABLE incidents ADD COLUMN closed_at timestamptz;
ALTER TABLE incidents ADD COLUMN district text;

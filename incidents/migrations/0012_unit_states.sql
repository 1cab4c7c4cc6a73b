-- sitroom 0011: unit and order states that stay true (issue #14).
-- An order with no progress for dispatch.stale_order_s is flagged (stale_at) and its unit's
-- availability becomes 'unknown' until the unit reports again; the unit's next ack clears it.
ALTER TABLE dispatch_orders ADD COLUMN stale_at timestamptz;

-- What leaders did to units (release, set status with a reason). Orders that such an action
-- cancels are journaled in their incident's chained journal; this table keeps the unit's side,
-- append-only like the journal.
CREATE TABLE unit_events (
    seq     bigserial PRIMARY KEY,
    unit    text NOT NULL,
    at      timestamptz NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    data    jsonb NOT NULL DEFAULT '{}'::jsonb,
    client  text
);
CREATE INDEX unit_events_unit ON unit_events (unit, seq);
CREATE TRIGGER unit_events_append_only
    BEFORE UPDATE OR DELETE ON unit_events
    FOR EACH ROW EXECUTE FUNCTION sitroom_refuse_change();
CREATE TRIGGER unit_events_no_truncate
    BEFORE TRUNCATE ON unit_events
    FOR EACH STATEMENT EXECUTE FUNCTION sitroom_refuse_change();

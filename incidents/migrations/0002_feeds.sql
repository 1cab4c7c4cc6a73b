-- sitroom 0002: every agency feed kind (observations, alarms, unit statuses, order acks).
CREATE TABLE observations (
    id          text PRIMARY KEY,
    agency      text NOT NULL,
    source      text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    sensor      text NOT NULL,
    quantity    text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    station     text
);
CREATE INDEX observations_sensor_ts ON observations (sensor, quantity, ts DESC);

CREATE TABLE alarms (
    id          text PRIMARY KEY,
    agency      text NOT NULL,
    source      text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    device      text NOT NULL,
    type        text NOT NULL,
    state       text NOT NULL CHECK (state IN ('active', 'cleared', 'test')),
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    text        text,
    level       text CHECK (level IN ('I', 'II', 'III', 'IV'))
);
CREATE INDEX alarms_ts ON alarms (ts DESC);

CREATE TABLE unit_statuses (
    id           text PRIMARY KEY,
    agency       text NOT NULL,
    source       text NOT NULL,
    ts           timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    unit         text NOT NULL,
    availability text NOT NULL,
    note         text
);
CREATE INDEX unit_statuses_unit_ts ON unit_statuses (unit, ts DESC);

ALTER TABLE units ADD COLUMN availability text;
ALTER TABLE units ADD COLUMN availability_ts timestamptz;

CREATE TABLE order_acks (
    id          text PRIMARY KEY,
    agency      text NOT NULL,
    source      text NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    order_id    text NOT NULL,
    unit        text NOT NULL,
    state       text NOT NULL,
    note        text
);
CREATE INDEX order_acks_order ON order_acks (order_id, ts);

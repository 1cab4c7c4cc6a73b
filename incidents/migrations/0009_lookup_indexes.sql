-- sitroom 0009: indexes for two lookups that otherwise scan a growing table.
-- Ingest asks every second which rule incidents a leader closed (incidents grow forever).
CREATE INDEX incidents_rule_closed ON incidents (closed_at) WHERE rule_key IS NOT NULL;
-- Decision support asks for the latest wind; observations are a large share of the feed, so
-- the index covers only wind-direction rows (cheap to keep up on inserts).
CREATE INDEX observations_wind ON observations (ts DESC) WHERE quantity = 'wind_direction';

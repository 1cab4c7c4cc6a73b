-- sitroom 0010: find the positions stored in the last minutes without a btree on a hot table.
-- Ingest writes `units` a moment after the positions of concurrent batches; after a crash it
-- moves units to fixes stored since the last unit update (incidents/store/batch.py
-- catch_up_units). `stored_at` grows with the table's physical order, so a BRIN index
-- answers that for almost nothing per insert (a btree here cost ~8 µs per position).
CREATE INDEX positions_stored_at_brin ON positions USING brin (stored_at);

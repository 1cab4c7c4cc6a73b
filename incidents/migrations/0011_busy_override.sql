-- A leader may send a unit that already holds an open order, on purpose and with a reason
-- (docs/decisions.md 72). Such an order keeps the reason in busy_override; the one-open-order
-- rule (0006) now binds the ordinary orders only, so two leaders sending the same free unit at
-- once still cannot both win.
ALTER TABLE dispatch_orders ADD COLUMN busy_override text;
DROP INDEX dispatch_orders_one_open_per_unit;
CREATE UNIQUE INDEX dispatch_orders_one_open_per_unit ON dispatch_orders (unit)
    WHERE state NOT IN ('done', 'rejected', 'cancelled') AND busy_override IS NULL;
-- Who is busy (every open order, overrides included) stays an index-only scan.
CREATE INDEX dispatch_orders_open_unit ON dispatch_orders (unit)
    WHERE state NOT IN ('done', 'rejected', 'cancelled');

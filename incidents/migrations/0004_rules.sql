-- sitroom 0004: incidents raised by rules carry the rule's stable key; one open incident per key.
ALTER TABLE incidents ADD COLUMN rule_key text;
ALTER TABLE incidents ADD COLUMN rule text;
CREATE UNIQUE INDEX incidents_open_rule_key ON incidents (rule_key)
    WHERE status <> 'closed' AND rule_key IS NOT NULL;

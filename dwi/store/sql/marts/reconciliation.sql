-- reconciliation: every figure the source reports that can be recomputed from other figures (written by
-- dwi/reconcile.py; claims of the text in dwi/reference/text_claims.yaml). Findings, not errors.
--   check       what is checked
--   reported    the figure as reported (NULL when the source printed none, e.g. a correlation claim)
--   recomputed  dwi's recomputation from the other figures (NULL when an input is missing)
--   tolerance   half a unit of the last printed decimal (29.9 -> 0.05: it stands for [29.85, 29.95));
--               0 for counts; NULL where the rule is not an interval (see detail)
--   verdict     consistent | inconsistent | not checkable
--   detail      the arithmetic, the interval, what is missing
--   kind        sum | share | revision | text claim | cross-table
--   severity    finding (inconsistent) | warning (cross-table: two tables count the same thing
--               differently) | info
--   indicator_code, region_code, year, period, source_id: the reported figure checked
--   location    where in the source (table row/column, or section and quote for text claims)
CREATE OR REPLACE VIEW reconciliation AS
SELECT "check", reported, recomputed, tolerance, verdict, detail, kind, severity,
       indicator_code, region_code, year, period, source_id, location
FROM _reconciliation;

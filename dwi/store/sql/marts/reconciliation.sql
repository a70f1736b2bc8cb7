-- reconciliation: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW reconciliation AS
SELECT "check", relation, reported, recomputed, tolerance, verdict, detail, kind, severity,
       indicator_code, region_code, year, period, source_id, location
FROM _reconciliation;

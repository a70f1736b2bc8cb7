-- loads: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW loads AS
SELECT load_id, source_id, sha256, started, finished, rows_in, rows_loaded, rows_quarantined, flow_run_id,
       status, file, message
FROM _loads;

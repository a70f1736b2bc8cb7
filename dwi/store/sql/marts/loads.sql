-- loads: one row per load attempt of a changed source file.
--   load_id, source_id, sha256 (file content), started, finished, rows_in, rows_loaded,
--   rows_quarantined, flow_run_id (Prefect), status (loaded | rejected), file, message
CREATE OR REPLACE VIEW loads AS
SELECT load_id, source_id, sha256, started, finished, rows_in, rows_loaded, rows_quarantined, flow_run_id,
       status, file, message
FROM _loads;

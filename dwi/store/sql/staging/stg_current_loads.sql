-- stg_current_loads: the latest successful load of each source (its current vintage).
CREATE OR REPLACE VIEW stg_current_loads AS
SELECT source_id, max(load_id) AS load_id
FROM _loads
WHERE status = 'loaded'
GROUP BY source_id;

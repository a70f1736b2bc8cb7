-- stg_current_loads: see _staging.yml (what it holds, its columns).
CREATE OR REPLACE VIEW stg_current_loads AS
SELECT source_id, max(load_id) AS load_id
FROM _loads
WHERE status = 'loaded' AND source_id NOT IN (SELECT id FROM _retired_sources)
GROUP BY source_id;

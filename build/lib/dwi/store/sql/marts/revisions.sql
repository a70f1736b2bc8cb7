-- revisions: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW revisions AS
WITH vintages AS (
    SELECT source_id, load_id, finished,
           lag(load_id) OVER (PARTITION BY source_id ORDER BY load_id) AS prev_load_id,
           lag(finished) OVER (PARTITION BY source_id ORDER BY load_id) AS prev_finished
    FROM _loads
    WHERE status = 'loaded'
)
SELECT v.source_id, n.indicator_code, n.country, n.region_code, n.sex, n.year, n.period, n.classif1, n.classif2,
       o.value AS old_value, n.value AS new_value, v.prev_load_id AS old_load_id, v.load_id AS new_load_id,
       CAST(v.prev_finished AS DATE) AS old_loaded, CAST(v.finished AS DATE) AS new_loaded,
       o.obs_status AS old_obs_status, n.obs_status AS new_obs_status
FROM vintages v
JOIN _observations n ON n.load_id = v.load_id
JOIN _observations o ON o.load_id = v.prev_load_id
 AND o.indicator_code = n.indicator_code AND o.country IS NOT DISTINCT FROM n.country
 AND o.region_code = n.region_code AND o.sex = n.sex AND o.year = n.year AND o.period = n.period
 AND o.classif1 IS NOT DISTINCT FROM n.classif1 AND o.classif2 IS NOT DISTINCT FROM n.classif2
WHERE o.value <> n.value;

-- revisions: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW revisions AS
WITH vintages AS (
    SELECT source_id, load_id, finished,
           lag(load_id) OVER (PARTITION BY source_id ORDER BY load_id) AS prev_load_id,
           lag(finished) OVER (PARTITION BY source_id ORDER BY load_id) AS prev_finished
    FROM _loads
    WHERE status = 'loaded'
), pairs AS (
    SELECT * FROM vintages WHERE prev_load_id IS NOT NULL
), new AS (
    SELECT p.load_id AS pair, n.* FROM pairs p JOIN _observations n ON n.load_id = p.load_id
), old AS (
    SELECT p.load_id AS pair, o.* FROM pairs p JOIN _observations o ON o.load_id = p.prev_load_id
), changes AS (
    SELECT coalesce(n.pair, o.pair) AS pair,
           coalesce(n.indicator_code, o.indicator_code) AS indicator_code, coalesce(n.country, o.country) AS country,
           coalesce(n.region_code, o.region_code) AS region_code, coalesce(n.sex, o.sex) AS sex,
           coalesce(n.year, o.year) AS year, coalesce(n.period, o.period) AS period,
           CASE WHEN n.pair IS NULL THEN o.classif1 ELSE n.classif1 END AS classif1,
           CASE WHEN n.pair IS NULL THEN o.classif2 ELSE n.classif2 END AS classif2,
           o.value AS old_value, n.value AS new_value, o.obs_status AS old_obs_status, n.obs_status AS new_obs_status
    FROM new n
    FULL JOIN old o
      ON o.pair = n.pair AND o.indicator_code = n.indicator_code AND o.country IS NOT DISTINCT FROM n.country
     AND o.region_code = n.region_code AND o.sex = n.sex AND o.year = n.year AND o.period = n.period
     AND o.classif1 IS NOT DISTINCT FROM n.classif1 AND o.classif2 IS NOT DISTINCT FROM n.classif2
    WHERE o.value IS DISTINCT FROM n.value
)
SELECT v.source_id, c.indicator_code, c.country, c.region_code, c.sex, c.year, c.period, c.classif1, c.classif2,
       c.old_value, c.new_value, v.prev_load_id AS old_load_id, v.load_id AS new_load_id,
       CAST(v.prev_finished AS DATE) AS old_loaded, CAST(v.finished AS DATE) AS new_loaded,
       c.old_obs_status, c.new_obs_status,
       CASE WHEN c.old_value IS NULL THEN 'added' WHEN c.new_value IS NULL THEN 'removed' ELSE 'changed' END AS change
FROM changes c
JOIN pairs v ON v.load_id = c.pair;

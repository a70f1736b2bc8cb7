-- Within one source, the current vintage has one row per key.
SELECT source_id, indicator_code, region_code, sex, year, period, count(*) AS n
FROM observations
GROUP BY ALL
HAVING count(*) > 1;

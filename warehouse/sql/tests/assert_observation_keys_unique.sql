-- Within one source, the current vintage has one row per key.
SELECT source_id, indicator_code, country, region_code, sex, year, period, classif1, classif2, count(*) AS n
FROM observations
GROUP BY ALL
HAVING count(*) > 1;

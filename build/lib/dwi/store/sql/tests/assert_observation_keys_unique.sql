-- Within one source, the current vintage has one row per key.
-- Keys whose hash repeats are the candidates (a narrow pass over millions of rows); they are then
-- grouped on the key itself, so a hash collision cannot report a false duplicate.
WITH hashed AS (
    SELECT source_id, hash(indicator_code, country, region_code, sex, year, period, classif1, classif2) AS h
    FROM observations
), candidates AS (
    SELECT source_id, h FROM hashed GROUP BY ALL HAVING count(*) > 1
)
SELECT o.source_id, indicator_code, country, region_code, sex, year, period, classif1, classif2, count(*) AS n
FROM observations o
JOIN candidates c
  ON o.source_id = c.source_id
 AND hash(o.indicator_code, o.country, o.region_code, o.sex, o.year, o.period, o.classif1, o.classif2) = c.h
GROUP BY ALL
HAVING count(*) > 1;

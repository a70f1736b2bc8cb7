-- coverage: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW coverage AS
WITH countries AS (
    SELECT DISTINCT country FROM observations WHERE country IS NOT NULL
    UNION
    SELECT DISTINCT country FROM _profile_values
),
national AS (
    SELECT country, indicator, min(year) AS first_year, max(year) AS last_year, count(DISTINCT year) AS years,
           string_agg(DISTINCT source_id, ', ' ORDER BY source_id) AS sources, count(*) AS n_values
    FROM _profile_values
    WHERE region IS NULL AND sex <> 'F-M'
    GROUP BY country, indicator
),
regional AS (
    SELECT country, indicator, count(DISTINCT region) AS regions
    FROM _profile_values
    WHERE region IS NOT NULL
    GROUP BY country, indicator
)
SELECT c.country, f.element, f.indicator, f.tier, n.first_year, n.last_year, coalesce(n.years, 0) AS years,
       n.sources, f.name, coalesce(n.n_values, 0) AS n_values, coalesce(r.regions, 0) AS regions, f.position
FROM countries c
CROSS JOIN _framework f
LEFT JOIN national n ON n.country = c.country AND n.indicator = f.indicator
LEFT JOIN regional r ON r.country = c.country AND r.indicator = f.indicator
WHERE f.tier <> 'L'
ORDER BY c.country, f.position;

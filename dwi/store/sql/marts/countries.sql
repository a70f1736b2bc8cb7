-- countries: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW countries AS
SELECT o.country AS code, any_value(a.label) AS name, count(*) AS observations, min(o.year) AS first_year,
       max(o.year) AS last_year, string_agg(DISTINCT o.source_id, ', ' ORDER BY o.source_id) AS sources
FROM observations o
LEFT JOIN _ilostat_areas a ON a.code = o.country
GROUP BY o.country;

-- Every derived value names its inputs, and a missing derived value says why (no silent gaps).
SELECT indicator_code, region_code, year, period
FROM indicator_values
WHERE derived AND (inputs IS NULL OR (value IS NULL AND note IS NULL));

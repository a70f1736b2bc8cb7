-- _indicator_values: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW _indicator_values AS
SELECT indicator_code, region_code, year::INTEGER AS year, period, value, unit, false AS derived,
       'reported' AS method, NULL::VARCHAR AS inputs, source_id, source_row::BIGINT AS source_row, obs_status,
       NULL::VARCHAR AS base_code, NULL::INTEGER AS span_from, NULL::INTEGER AS span_years, note,
       country, sex, classif1, classif2
FROM observations
UNION ALL
SELECT indicator_code, region_code, year, period, value, unit, derived, method, inputs, source_id, source_row,
       obs_status, base_code, span_from, span_years, note, country, sex, classif1, classif2
FROM _derived_values;

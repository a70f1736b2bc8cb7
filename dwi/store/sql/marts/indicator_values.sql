-- indicator_values: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW indicator_values AS
SELECT indicator_code, region_code, year, period, value, unit, derived, method,
       inputs, source_id, source_row, obs_status, base_code, span_from, span_years, note,
       country, sex, classif1, classif2
FROM _indicator_values;

-- _indicator_values: every current observation (sex T) as reported, followed by the values dwi computes
-- (table _derived_values, written by dwi/indicators.py). Read by dwi/correlations.py, dwi/reconcile.py and
-- the `indicator_values` view, which users query (same columns; meanings documented in indicator_values.sql).
-- Observed rows are not copied anywhere: they are read from `observations` when the view is queried.
--   indicator_code .. unit  observed rows: as in `observations`; computed rows: from _derived_values
--   derived         false for observed rows, true for computed ones
--   method          'reported' for observed rows, the formula for computed ones
--   inputs          observed rows: NULL; computed rows: every input with its value and origin
--   source_id, source_row, obs_status, note: observed rows: as in `observations`
--   base_code, span_from, span_years: observed rows: NULL (changes, ranks and dispersion only)
-- Until derived values were stored apart, _indicator_values was a table: dwi.build drops such a table
-- before creating this view (dwi.build.drop_tables_replaced_by_views).
CREATE OR REPLACE VIEW _indicator_values AS
SELECT indicator_code, region_code, year::INTEGER AS year, period, value, unit, false AS derived,
       'reported' AS method, NULL::VARCHAR AS inputs, source_id, source_row::BIGINT AS source_row, obs_status,
       NULL::VARCHAR AS base_code, NULL::INTEGER AS span_from, NULL::INTEGER AS span_years, note
FROM observations
WHERE sex = 'T'
UNION ALL
SELECT indicator_code, region_code, year, period, value, unit, derived, method, inputs, source_id, source_row,
       obs_status, base_code, span_from, span_years, note
FROM _derived_values;

-- indicator_values: observed and derived values together (observed: the `observations` view, sex T;
-- derived: computed by dwi/indicators.py into _derived_values; both joined in _indicator_values.sql).
--   indicator_code  registry code; changes/ranks/dispersion are <CODE>_YOY_ABS, _YOY_PCT, _AAC_ABS,
--                   _AAC_PCT, _RANK, _MIN, _MAX, _CV (see `transforms` in dwi/reference/indicators.yaml)
--   region_code     ISO 3166-2:KZ; KZ for national values and for statistics across the regions
--   year, period    reference year and period (Y, H1, Q2, M03, ...)
--   value           the value; NULL for a derived value with a missing input (see note)
--   unit            unit of the value (percentage points for changes of a percent)
--   derived         false = as reported by the source; true = computed by dwi
--   method          'reported', or the formula
--   inputs          derived: every input with its value and origin ([source row n]); observed: NULL
--   source_id       observed: the source; derived: the sources of the inputs
--   source_row, obs_status: observed only (row in the source file; P provisional, E estimate)
--   base_code       for changes, ranks and dispersion: the indicator they are computed from
--   span_from, span_years: for changes, the base year and the number of years spanned (> 1 across a gap)
--   note            observed: the source's note; derived: why a value is missing, gap markers, spans
CREATE OR REPLACE VIEW indicator_values AS
SELECT indicator_code, region_code, year, period, value, unit, derived, method,
       inputs, source_id, source_row, obs_status, base_code, span_from, span_years, note
FROM _indicator_values;

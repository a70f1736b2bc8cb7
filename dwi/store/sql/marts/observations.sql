-- observations: every validated observation of the current vintage of each source.
--   indicator_code  registry code (see `indicators`)
--   region_code     ISO 3166-2:KZ code, 'KZ' for the country, KZ-YUZ for South Kazakhstan before 2018
--   sex             T (total), M, F
--   year, period    reference year; period Y (year), H1/H2, Q1-Q4, M01-M12
--   value           the value as reported (counts as counts, shares in percent)
--   unit            persons, percent, enterprises, bn KZT, ...
--   obs_status      ILOSTAT-style flag: E estimate, P provisional, ... (empty = normal)
--   source_id       the source it came from (see `sources`); load_id: the load (see `loads`)
--   source_row, source_ref: the row in the source file and the place in the source document
--   country         ISO3 code or ILOSTAT/World Bank aggregate code (KAZ for every Kazakhstan row;
--                   for other areas region_code repeats the area code)
--   classif1, classif2  ILOSTAT breakdowns (e.g. AGE_YTHADULT_YGE15); empty for other sources
CREATE OR REPLACE VIEW observations AS
SELECT o.indicator_code, o.region_code, o.sex, o.year, o.period, o.value, o.unit, o.obs_status,
       o.source_id, o.load_id, o.source_row, o.source_ref, o.region_reported, o.value_reported, o.note,
       o.country, o.classif1, o.classif2
FROM _observations o
JOIN stg_current_loads c USING (source_id, load_id);

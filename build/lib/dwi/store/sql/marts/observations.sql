-- observations: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW observations AS
SELECT o.indicator_code, o.region_code, o.sex, o.year, o.period, o.value, o.unit, o.obs_status,
       o.source_id, o.load_id, o.source_row, o.source_ref, o.region_reported, o.value_reported, o.note,
       o.country, o.classif1, o.classif2
FROM _observations o
JOIN stg_current_loads c USING (source_id, load_id);

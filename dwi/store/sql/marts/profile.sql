-- profile: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW profile AS
SELECT v.country, f.element, v.indicator, f.tier, v.sex, v.classif1, v.classif2, v.year, v.period, v.value, v.unit,
       v.source_id, v.status, v.derived, v.method, v.region, v.source_code, v.source_row, v.rank, v.note
FROM _profile_values v
JOIN _framework f USING (indicator);

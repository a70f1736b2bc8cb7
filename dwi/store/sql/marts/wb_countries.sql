-- wb_countries: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW wb_countries AS
SELECT v.country_code, v.country_name, v.region, v.income_group, v.special_notes, v.source_id, v.load_id,
       v.source_row
FROM _wb_countries v
JOIN stg_current_loads c USING (source_id, load_id);

-- wb_indicators: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW wb_indicators AS
SELECT v.indicator_code, v.indicator_name, v.source_note, v.source_organization, v.source_id, v.load_id,
       v.source_row
FROM _wb_indicators v
JOIN stg_current_loads c USING (source_id, load_id);

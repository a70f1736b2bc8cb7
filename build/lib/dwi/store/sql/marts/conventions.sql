-- conventions: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW conventions AS
SELECT v.convention_no, v.title, v.ratification_date, v.note, v.source_id, v.load_id, v.source_row
FROM _conventions v
JOIN stg_current_loads c USING (source_id, load_id);

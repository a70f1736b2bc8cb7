-- conventions: ILO conventions ratified by Kazakhstan (current vintage).
--   convention_no, title, ratification_date, note, source_id, load_id, source_row
CREATE OR REPLACE VIEW conventions AS
SELECT v.convention_no, v.title, v.ratification_date, v.note, v.source_id, v.load_id, v.source_row
FROM _conventions v
JOIN stg_current_loads c USING (source_id, load_id);

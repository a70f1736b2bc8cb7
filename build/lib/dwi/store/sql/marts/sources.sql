-- sources: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW sources AS
SELECT s.id, s.title, s.publisher, s.document, s.table_ref || ' (p. ' || s.page || ')' AS table_page,
       s.reference_date, s.coverage, s.notes, s.path, s.format, l.sha256, c.load_id
FROM _sources s
LEFT JOIN stg_current_loads c ON c.source_id = s.id
LEFT JOIN _loads l ON l.load_id = c.load_id;

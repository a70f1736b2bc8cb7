-- sources: the manifest's provenance for each source, with the content hash of its current vintage.
--   id, title, publisher, document, table_page (table/figure/section and page), reference_date (the
--   source's own), coverage, notes, path, format, sha256, load_id
CREATE OR REPLACE VIEW sources AS
SELECT s.id, s.title, s.publisher, s.document, s.table_ref || ' (p. ' || s.page || ')' AS table_page,
       s.reference_date, s.coverage, s.notes, s.path, s.format, l.sha256, c.load_id
FROM _sources s
LEFT JOIN stg_current_loads c ON c.source_id = s.id
LEFT JOIN _loads l ON l.load_id = c.load_id;

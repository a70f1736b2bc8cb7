-- sources: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW sources AS
WITH last AS (
    SELECT source_id, max(load_id) AS load_id FROM _loads WHERE status = 'loaded' GROUP BY source_id
), listed AS (
    SELECT *, 'current' AS status, NULL::TIMESTAMPTZ AS retired_at FROM _sources
    UNION ALL BY NAME
    SELECT *, 'retired' AS status FROM _retired_sources
)
SELECT s.id, s.title, s.publisher, s.document, s.table_ref || ' (p. ' || s.page || ')' AS table_page,
       s.reference_date, s.coverage, s.notes, s.path, s.format, l.sha256, c.load_id, s.status, s.retired_at
FROM listed s
LEFT JOIN last c ON c.source_id = s.id
LEFT JOIN _loads l ON l.load_id = c.load_id;

-- stg_source_catalogue: see _staging.yml (what it holds, its columns).
CREATE OR REPLACE VIEW stg_source_catalogue AS
SELECT s.source_id, s.code AS indicator_code, s.label, s.name, s.tier, s.section, s.unit, s.definition,
       s.table_title, s.source_ref, s.load_id
FROM _source_indicators s
JOIN stg_current_loads c USING (source_id, load_id)
WHERE s.label IS NOT NULL;

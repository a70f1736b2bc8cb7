-- quality_issues: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW quality_issues AS
SELECT load_id, source_id, "row", "column", "check", value, message, severity, file
FROM _quality_issues;

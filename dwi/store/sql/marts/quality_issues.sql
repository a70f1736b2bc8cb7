-- quality_issues: every problem found while loading.
--   load_id, source_id, row (in the file; header = 1; empty for whole-file problems), column, check
--   (the rule), value (what was found), message (file, row, column, expected, found), severity:
--   error (row quarantined or file rejected) | warning (a finding; the row was loaded) | info
CREATE OR REPLACE VIEW quality_issues AS
SELECT load_id, source_id, "row", "column", "check", value, message, severity, file
FROM _quality_issues;

-- dwcp_scores: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW dwcp_scores AS
SELECT * FROM _dwcp_scores ORDER BY programme, sort_key;

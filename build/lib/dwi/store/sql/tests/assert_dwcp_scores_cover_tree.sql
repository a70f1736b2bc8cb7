-- Every node of every programme's current tree has exactly one scorecard row, and every programme one
-- programme row (offending rows: nodes scored zero or several times).
SELECT a.programme, a.code, count(s.code) AS score_rows
FROM _dwcp_assessments a
JOIN stg_current_loads c USING (source_id, load_id)
LEFT JOIN dwcp_scores s ON s.programme = a.programme AND s.code = a.code AND s.level = a.level
GROUP BY a.programme, a.code
HAVING count(s.code) <> 1
UNION ALL
SELECT a.programme, a.programme, count(DISTINCT s.code)
FROM _dwcp_assessments a
JOIN stg_current_loads c USING (source_id, load_id)
LEFT JOIN dwcp_scores s ON s.programme = a.programme AND s.level = 'programme'
GROUP BY a.programme
HAVING count(DISTINCT s.code) <> 1;

-- Every load accounts for every row: rows_in = loaded + quarantined, and the loaded rows are there.
SELECT l.load_id, l.rows_loaded, count(o.load_id) AS stored
FROM _loads l
LEFT JOIN (SELECT load_id FROM _observations UNION ALL SELECT load_id FROM _conventions
           UNION ALL SELECT load_id FROM _dwcp_assessments UNION ALL SELECT load_id FROM _wb_countries
           UNION ALL SELECT load_id FROM _wb_indicators) o USING (load_id)
WHERE l.status = 'loaded' AND l.source_id IN (SELECT id FROM _sources WHERE format IN ('observations', 'conventions', 'dwcp_assessments', 'ilostat', 'wdi', 'xlsx', 'wb_countries', 'wb_indicators'))
GROUP BY ALL
HAVING count(o.load_id) <> l.rows_loaded;

-- Every observation uses a registry indicator (or one registered on the fly) and, for Kazakhstan, a known region.
SELECT o.indicator_code, o.region_code
FROM observations o
LEFT JOIN _indicators i ON i.code = o.indicator_code
LEFT JOIN _regions r ON r.code = o.region_code
WHERE i.code IS NULL OR (r.code IS NULL AND o.country = 'KAZ');

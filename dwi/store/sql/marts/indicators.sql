-- indicators: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW indicators AS
SELECT i.code, i.name, i.unit, i.element, i.definition,
       (SELECT string_agg(DISTINCT o.source_id, ', ' ORDER BY o.source_id) FROM observations o
        WHERE o.indicator_code = i.code) AS source,
       i.kind, i.ilostat, i.sdg, i.numerator, i.denominator, i.derived, i.method, i.notes, i.measure
FROM _indicators i;

-- indicators: the registry (dwi/reference/indicators.yaml).
--   code, name, unit, element (ILO decent-work framework element), definition, source (the sources
--   that carry it), kind (count/share/rate/level), ilostat, sdg, numerator, denominator, derived, notes
CREATE OR REPLACE VIEW indicators AS
SELECT i.code, i.name, i.unit, i.element, i.definition,
       (SELECT string_agg(DISTINCT o.source_id, ', ' ORDER BY o.source_id) FROM observations o
        WHERE o.indicator_code = i.code) AS source,
       i.kind, i.ilostat, i.sdg, i.numerator, i.denominator, i.derived, i.method, i.notes
FROM _indicators i;

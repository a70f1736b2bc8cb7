-- framework: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW framework AS
SELECT element, indicator, name, tier, confirmed, definition, unit, ilostat_ids, sdg, notes, element_id, element_ru,
       name_ru, tier_source, bureau_row, bureau_label, bureau_tier, series, derivation, conventions, position
FROM _framework;

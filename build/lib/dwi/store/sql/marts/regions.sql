-- regions: see _marts.yml (what it holds, its columns).
CREATE OR REPLACE VIEW regions AS
SELECT code, name_en, name_ru, name_kk, kind, valid_from, valid_to, iso_3166_2, legacy_alpha, formed_from, notes
FROM _regions;

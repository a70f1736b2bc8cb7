-- regions: first-level units of Kazakhstan and the country.
--   code (ISO 3166-2:KZ; KZ-YUZ is dwi's own code for South Kazakhstan before 2018-06-19), name_en,
--   name_ru, name_kk, kind (country/region/city), valid_from, valid_to (empty = open), iso_3166_2,
--   legacy_alpha, formed_from, notes
CREATE OR REPLACE VIEW regions AS
SELECT code, name_en, name_ru, name_kk, kind, valid_from, valid_to, iso_3166_2, legacy_alpha, formed_from, notes
FROM _regions;

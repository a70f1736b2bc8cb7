-- Warehouse tables. Underscore tables are dwi's storage; users query the views in marts/.
-- Every statement is idempotent: dwi runs this file at the start of every write.

-- Key/value facts about the warehouse itself (build fingerprint, dwi version).
CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR);

-- One row per attempt to load a changed source file: loaded, or rejected as a whole.
-- rows_in = rows_loaded + rows_quarantined, always.
CREATE TABLE IF NOT EXISTS _loads (
    load_id INTEGER PRIMARY KEY,
    source_id VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,        -- content hash of the file that was read
    status VARCHAR NOT NULL,        -- loaded | rejected (whole file unusable) | failed (database error; rolled back)
    started TIMESTAMPTZ NOT NULL,
    finished TIMESTAMPTZ NOT NULL,
    rows_in INTEGER NOT NULL,
    rows_loaded INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    flow_run_id VARCHAR,            -- the Prefect flow run that did the load
    file VARCHAR,
    message VARCHAR,
    CHECK (rows_in = rows_loaded + rows_quarantined)
);

-- Every observation of every load (all vintages). The `observations` view shows the latest load of each source.
CREATE TABLE IF NOT EXISTS _observations (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,    -- row in the source file (header = row 1)
    indicator_code VARCHAR NOT NULL,
    region_code VARCHAR NOT NULL,
    region_reported VARCHAR,        -- the region name as the source wrote it
    sex VARCHAR NOT NULL,
    year INTEGER NOT NULL,
    period VARCHAR NOT NULL,        -- Y, H1-H2, Q1-Q4, M01-M12
    value DOUBLE NOT NULL,
    value_reported VARCHAR NOT NULL, -- the value exactly as printed in the source file
    unit VARCHAR NOT NULL,
    obs_status VARCHAR,
    source_ref VARCHAR,             -- where in the source document (table, row, column, paragraph)
    note VARCHAR
);

-- Ratified conventions (format `conventions`), all vintages.
CREATE TABLE IF NOT EXISTS _conventions (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    convention_no INTEGER NOT NULL,
    title VARCHAR NOT NULL,
    ratification_date DATE NOT NULL,
    note VARCHAR
);

-- Every problem found: errors quarantine a row or reject a file; warnings are findings on loaded rows.
CREATE TABLE IF NOT EXISTS _quality_issues (
    load_id INTEGER,
    source_id VARCHAR,
    file VARCHAR,
    "row" BIGINT,
    "column" VARCHAR,
    "check" VARCHAR,
    value VARCHAR,
    message VARCHAR,
    severity VARCHAR                -- error | warning | info
);

-- Programme structure and the source's grades (format `dwcp_assessments`), all vintages.
CREATE TABLE IF NOT EXISTS _dwcp_assessments (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    programme VARCHAR NOT NULL,
    level VARCHAR NOT NULL,         -- priority | outcome | activity | sub_activity
    code VARCHAR NOT NULL,          -- 1, 1.1, 1.1.3, 1.1.1.a
    parent_code VARCHAR,
    title VARCHAR NOT NULL,
    status_text VARCHAR,            -- the source's own status words
    grade DOUBLE,                   -- six-point scale; for outcomes/priorities: as REPORTED
    grade_reported VARCHAR,
    grade_basis VARCHAR NOT NULL,   -- stated | implied | inferred | missing
    evidence VARCHAR,
    location VARCHAR,
    note VARCHAR
);

-- Added for ILOSTAT/WDI files (dwi/readers): the country dimension beside the region, and ILOSTAT's
-- breakdowns. Added with ALTER so that existing warehouses gain them; tidy sources get 'KAZ' and NULLs.
ALTER TABLE _observations ADD COLUMN IF NOT EXISTS country VARCHAR DEFAULT 'KAZ';
ALTER TABLE _observations ADD COLUMN IF NOT EXISTS classif1 VARCHAR;
ALTER TABLE _observations ADD COLUMN IF NOT EXISTS classif2 VARCHAR;

-- Indicator codes a file registered on the fly (ILOSTAT/WDI codes the mapping tables do not cover).
-- The build adds them to _indicators (dwi.readers.registry), so they are never dropped.
CREATE TABLE IF NOT EXISTS _source_indicators (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    name VARCHAR,
    unit VARCHAR,
    ilostat VARCHAR,
    notes VARCHAR
);

-- What a file says about its own indicators beyond code, name and unit (a layout's declared element and
-- definition; the stat.gov.kz reader: the bureau's row label, decent-work tier mark, section, method text, table
-- title and the row it is in); NULL elsewhere.
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS definition VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS element VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS label VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS tier VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS section VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS table_title VARCHAR;
ALTER TABLE _source_indicators ADD COLUMN IF NOT EXISTS source_ref VARCHAR;

-- Sources loaded with `dwi ingest` (not in the manifest); the build adds them to _sources.
CREATE TABLE IF NOT EXISTS _ingested_sources (
    id VARCHAR PRIMARY KEY,
    path VARCHAR,
    format VARCHAR,
    title VARCHAR,
    publisher VARCHAR,
    document VARCHAR,
    table_ref VARCHAR,
    page VARCHAR,
    reference_date VARCHAR,
    coverage VARCHAR,
    notes VARCHAR,
    ingested TIMESTAMPTZ
);


-- What dataset an ingested source holds, read from its content (dwi.formats.identify): every new download of
-- the same dataset is a new vintage of the same source, whatever its file name.
ALTER TABLE _ingested_sources ADD COLUMN IF NOT EXISTS identity VARCHAR;

-- Sources removed from the manifest: retired. They leave the published views (observations, exports); their
-- loads, rows and provenance stay, and the `sources` view lists them with status 'retired'.
CREATE TABLE IF NOT EXISTS _retired_sources (
    id VARCHAR PRIMARY KEY,
    path VARCHAR,
    format VARCHAR,
    title VARCHAR,
    publisher VARCHAR,
    document VARCHAR,
    table_ref VARCHAR,
    page VARCHAR,
    reference_date VARCHAR,
    coverage VARCHAR,
    notes VARCHAR,
    retired_at TIMESTAMPTZ NOT NULL
);

-- The World Bank's metadata companions of a bulk download (formats wb_countries, wb_indicators), all
-- vintages: what the data files describe, not observations.
CREATE TABLE IF NOT EXISTS _wb_countries (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    country_code VARCHAR NOT NULL,  -- ISO3 or World Bank aggregate code (WLD, ECA, HIC ...)
    country_name VARCHAR,           -- TableName
    region VARCHAR,                 -- empty for aggregates
    income_group VARCHAR,           -- empty for aggregates
    special_notes VARCHAR
);
CREATE TABLE IF NOT EXISTS _wb_indicators (
    load_id INTEGER NOT NULL,
    source_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    indicator_code VARCHAR NOT NULL,
    indicator_name VARCHAR,
    source_note VARCHAR,            -- the definition
    source_organization VARCHAR
);

-- railtrack store, schema version 1.
-- Hub metadata is kept per snapshot (model_observations) so that the same model seen in
-- several snapshots builds history; `models` holds the latest observation of each model.

CREATE TABLE snapshots (
    snapshot_id   INTEGER PRIMARY KEY,
    source        VARCHAR NOT NULL,          -- 'hub-sync', 'hub-stats', 'model-cards', 'trees', 'local'
    snapshot_date DATE NOT NULL,
    location      VARCHAR,                   -- file path or endpoint
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE snapshots_seq START 1;

CREATE TABLE import_runs (
    run_id        INTEGER PRIMARY KEY,
    snapshot_id   INTEGER,
    source        VARCHAR NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,          -- 'running', 'done', 'failed'
    rows_read     BIGINT DEFAULT 0,
    rows_imported BIGINT DEFAULT 0,
    rows_rejected BIGINT DEFAULT 0,
    rejections    JSON,                      -- {reason: count}
    cursor        VARCHAR,                   -- resumption point of a live sync
    message       VARCHAR
);
CREATE SEQUENCE import_runs_seq START 1;

CREATE TABLE models (
    model_id           VARCHAR PRIMARY KEY,
    author             VARCHAR,
    created_at         TIMESTAMP,
    last_modified      TIMESTAMP,
    downloads          BIGINT,
    downloads_all_time BIGINT,
    likes              BIGINT,
    pipeline_tag       VARCHAR,
    library_name       VARCHAR,
    gated              VARCHAR,
    tags               VARCHAR[],
    licenses           VARCHAR[],            -- declared license ids after reconciliation (lowercase hub tags)
    license_tags       VARCHAR[],            -- from `license:` tags
    license_card       VARCHAR[],            -- from cardData.license
    license_name       VARCHAR,
    license_link       VARCHAR,
    card_hash          VARCHAR,
    identified_license VARCHAR,              -- what identification found in card / LICENSE text
    identified_score   DOUBLE,
    identified_source  VARCHAR,              -- 'card', 'LICENSE', ...
    behavioral_use     BOOLEAN,              -- declared or identified license carries use restrictions
    files              VARCHAR[],            -- repo file listing when known (LICENSE, NOTICE, USE_POLICY...)
    snapshot_id        INTEGER,
    first_seen         DATE,
    last_seen          DATE
);

CREATE TABLE model_observations (
    snapshot_id   INTEGER NOT NULL,
    model_id      VARCHAR NOT NULL,
    last_modified TIMESTAMP,
    downloads     BIGINT,
    likes         BIGINT,
    licenses      VARCHAR[],
    PRIMARY KEY (snapshot_id, model_id)
);

CREATE TABLE base_models (
    model_id   VARCHAR NOT NULL,              -- the derivative
    base_id    VARCHAR NOT NULL,              -- its parent
    relation   VARCHAR NOT NULL,              -- finetune, adapter, quantized, merge, unknown
    source     VARCHAR NOT NULL,              -- 'card', 'tags', 'api', 'both'
    PRIMARY KEY (model_id, base_id)
);

CREATE TABLE metadata_conflicts (
    model_id VARCHAR NOT NULL,
    field    VARCHAR NOT NULL,                -- 'license', 'base_model', 'relation'
    tags     VARCHAR,                         -- value from tags (JSON)
    card     VARCHAR,                         -- value from card metadata (JSON)
    resolved VARCHAR,                         -- value kept (JSON)
    PRIMARY KEY (model_id, field)
);

CREATE TABLE model_cards (
    model_id  VARCHAR PRIMARY KEY,
    card_hash VARCHAR NOT NULL,
    card      VARCHAR NOT NULL
);

CREATE TABLE license_files (
    model_id   VARCHAR NOT NULL,
    path       VARCHAR NOT NULL,              -- LICENSE, LICENSE.md, USE_POLICY.md, NOTICE ...
    text_hash  VARCHAR,
    identified VARCHAR,
    score      DOUBLE,
    PRIMARY KEY (model_id, path)
);

CREATE TABLE generated_licenses (
    license_id       VARCHAR PRIMARY KEY,     -- rt-xxxxxxxxxxxx
    title            VARCHAR NOT NULL,
    name             VARCHAR NOT NULL,
    licensor         VARCHAR NOT NULL,
    flavor           VARCHAR NOT NULL,        -- open, rail, research
    artifacts        VARCHAR[] NOT NULL,
    restrictions     VARCHAR[] NOT NULL,      -- catalogue clause ids
    custom_count     INTEGER NOT NULL DEFAULT 0,
    domains          VARCHAR[] NOT NULL,
    catalog_version  VARCHAR NOT NULL,
    template_version VARCHAR NOT NULL,
    manifest         JSON NOT NULL,           -- the exact manifest, to re-render byte-identically
    created_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE watchlist (
    model_id  VARCHAR PRIMARY KEY,
    added_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE watch_runs (
    run_id     INTEGER PRIMARY KEY,
    ran_at     TIMESTAMP NOT NULL,
    summary    JSON
);
CREATE SEQUENCE watch_runs_seq START 1;

CREATE TABLE watch_state (
    run_id      INTEGER NOT NULL,
    watched     VARCHAR NOT NULL,             -- the watched root model
    model_id    VARCHAR NOT NULL,             -- a descendant (or the root)
    verdict     VARCHAR NOT NULL,
    rules       JSON,
    PRIMARY KEY (run_id, watched, model_id)
);

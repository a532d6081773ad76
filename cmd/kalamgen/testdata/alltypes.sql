-- Every KalamDB column type, in USER, SHARED and STREAM tables.
CREATE NAMESPACE IF NOT EXISTS app;

CREATE USER TABLE app.all_types (
    id          BIGINT PRIMARY KEY,
    flag        BOOLEAN NOT NULL,
    small       SMALLINT,
    num         INT,
    big         BIGINT,
    ratio       FLOAT,
    score       DOUBLE,
    price       DECIMAL(12, 2),
    title       TEXT NOT NULL,
    payload     BYTES,
    doc         JSON,
    created_at  TIMESTAMP DEFAULT NOW(),
    seen_at     DATETIME,
    birthday    DATE,
    alarm       TIME,
    ext_id      UUID,
    vec         EMBEDDING(3),
    attachment  FILE
);

/* SHARED, readable by every user */
CREATE SHARED TABLE app.products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stock INT NOT NULL
) WITH (ACCESS_LEVEL = 'PUBLIC');

CREATE STREAM TABLE app.events (
    event_id TEXT PRIMARY KEY DEFAULT ULID(),
    kind TEXT NOT NULL,
    body JSON
) WITH (TTL_SECONDS = 3600);

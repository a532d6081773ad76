-- The chat example's schema. kalamgen applies it to an in-process emulator
-- to generate package chat; main.go applies it to the server it talks to.
CREATE NAMESPACE IF NOT EXISTS chat;

CREATE USER TABLE IF NOT EXISTS chat.messages (
    id         BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(),
    room       TEXT NOT NULL,
    body       TEXT NOT NULL,
    price      DECIMAL(10, 2),
    created_at TIMESTAMP DEFAULT NOW()
);

-- The append-only event log: one row per event, leaf_index dense in commit order.
CREATE TABLE event_log (
    leaf_index   bigint PRIMARY KEY CHECK (leaf_index >= 0),
    event_id     text        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    request_id   text        NOT NULL,
    source_topic text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    trace_id     text,
    leaf_data    bytea       NOT NULL,  -- RFC 8785 canonical JSON of the ledger entry
    leaf_hash    bytea       NOT NULL   -- SHA-256(0x00 || leaf_data), RFC 9162
);
CREATE INDEX event_log_request ON event_log (request_id, leaf_index);
CREATE INDEX event_log_type ON event_log (event_type, leaf_index);

-- The database itself refuses to rewrite history.
CREATE FUNCTION refuse_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER event_log_append_only
    BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION refuse_log_change();
CREATE TRIGGER event_log_no_truncate
    BEFORE TRUNCATE ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_log_change();

-- Where the log writer is in the ledger topic, written in the same transaction as the
-- rows it appended (exactly-once into the database).
CREATE TABLE consumer_positions (
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Read side, rebuilt from event_log by `docket audit rebuild`.
CREATE TABLE request_views (
    request_id     text PRIMARY KEY,
    state          text        NOT NULL,
    received_at    timestamptz,
    deadline       timestamptz,
    authority_code text,
    authority_family text,
    risk_level     text,
    country        text,
    view           jsonb       NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX request_views_state ON request_views (state);
CREATE INDEX request_views_received ON request_views (received_at);

-- Signed tree heads, one per published size.
CREATE TABLE tree_heads (
    tree_size  bigint PRIMARY KEY,
    root_hash  text        NOT NULL,
    signed_at  timestamptz NOT NULL,
    signature  text        NOT NULL,
    key_id     text        NOT NULL
);

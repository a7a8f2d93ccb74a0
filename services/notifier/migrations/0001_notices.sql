-- What the notifier knows of each request: the latest verdict and every amendment.
CREATE TABLE requests (
    request_id      text PRIMARY KEY,
    verdict         jsonb,            -- RequestClassified data (latest classified_at wins)
    classified_at   timestamptz,
    amendments      jsonb NOT NULL DEFAULT '[]'::jsonb,
    amendment_ids   text[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (request, account, channel): the notice's whole life. The primary key
-- is the deterministic notice id, so a redelivered verdict cannot create a second one.
CREATE TABLE notices (
    notice_id       text PRIMARY KEY,
    request_id      text NOT NULL REFERENCES requests (request_id),
    account_key     text NOT NULL,
    channel         text NOT NULL,
    target          jsonb NOT NULL,
    state           text NOT NULL CHECK (state IN
                        ('scheduled', 'held', 'sending', 'sent', 'failed', 'cancelled')),
    reason          text NOT NULL,
    not_before      timestamptz,       -- NULL while held (no known end)
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    released_at     timestamptz,       -- when the last check before the send passed
    sent_published  boolean NOT NULL DEFAULT false,
    -- W3C traceparent of the decision, so the send continues the request's trace.
    traceparent     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (request_id, account_key, channel)
);
-- Whatever the channel, one account hears about one request once: the database refuses
-- a second notice to the same account being sent.
CREATE UNIQUE INDEX notices_one_per_account ON notices (request_id, account_key)
    WHERE state IN ('sending', 'sent');
CREATE INDEX notices_due ON notices (next_attempt_at) WHERE state IN ('scheduled', 'failed', 'sending');
CREATE INDEX notices_unpublished ON notices (sent_at) WHERE state = 'sent' AND NOT sent_published;

-- The database refuses to forget that a notice was sent.
CREATE FUNCTION keep_sent_notices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.state = 'sent' THEN
        RAISE EXCEPTION 'a sent notice cannot be deleted';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.state = 'sent' AND NEW.state <> 'sent' THEN
        RAISE EXCEPTION 'a sent notice cannot be unsent';
    END IF;
    RETURN COALESCE(NEW, OLD);
END;
$$;
CREATE TRIGGER notices_keep_sent BEFORE UPDATE OR DELETE ON notices
    FOR EACH ROW EXECUTE FUNCTION keep_sent_notices();

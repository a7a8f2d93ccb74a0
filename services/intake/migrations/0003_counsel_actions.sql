-- Decisions of legal staff about a request (requester verified, verdict overridden,
-- hold ended, notice withheld, production decided, assigned, commented): one row per
-- event on docket.request.counsel, written in the transaction that holds the request's
-- row while the event is published, so a row exists only once Kafka acknowledged it.
-- ``fingerprint`` is the SHA-256 of the decision: the same decision sent again right
-- after (a retry) answers the event already recorded.
CREATE TABLE counsel_actions (
    event_id     uuid PRIMARY KEY,
    request_id   uuid        NOT NULL REFERENCES requests (request_id),
    kind         text        NOT NULL,  -- the event type
    fingerprint  text        NOT NULL,
    author       text        NOT NULL,  -- the API key's client id
    recorded_at  timestamptz NOT NULL
);
CREATE INDEX counsel_actions_request ON counsel_actions (request_id, recorded_at);

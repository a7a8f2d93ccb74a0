-- What the classifier keeps to reclassify a request when it is amended: the submission
-- and every amendment, each with its place in one arrival order (``position``, taken
-- while the request's row is locked). A verdict answers exactly the inputs that had
-- arrived when its cause did, so a redelivered cause yields the same verdict again.
CREATE SEQUENCE arrival;

CREATE TABLE requests (
    request_id        text PRIMARY KEY,
    submission        jsonb,      -- NULL until the RequestReceived arrives
    received_event_id text,
    received_position bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((submission IS NULL) = (received_position IS NULL))
);

CREATE TABLE amendments (
    event_id   text PRIMARY KEY,   -- the RequestAmended event id: kept once
    request_id text NOT NULL REFERENCES requests (request_id),
    position   bigint NOT NULL DEFAULT nextval('arrival'),
    amendment  jsonb NOT NULL,     -- shared.amendments.Amendment
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX amendments_of_request ON amendments (request_id, position);

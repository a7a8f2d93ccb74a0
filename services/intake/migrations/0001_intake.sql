-- Intake's own state: API keys (hashes only), accepted requests with their lifecycle,
-- Idempotency-Key records, and the amendments and decisions accepted for each request.
-- A row exists only once the event it stands for was acknowledged by Kafka (it is
-- written in the transaction that holds the key's lock during the publish).

CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    client_id   text        NOT NULL,
    scopes      text[]      NOT NULL,
    key_sha256  text        NOT NULL UNIQUE,  -- hex SHA-256 of the secret; never the secret
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_client ON api_keys (client_id);

CREATE TABLE requests (
    request_id          uuid PRIMARY KEY,      -- uuid5(agency casefold, external_ref)
    fingerprint         text        NOT NULL,  -- SHA-256 of the canonical submission
    event_id            uuid        NOT NULL,
    submitted_by        text        NOT NULL,
    accepted_at         timestamptz NOT NULL,
    data_requested      text[]      NOT NULL,
    nondisclosure_ordered boolean   NOT NULL,
    withdrawn_at        timestamptz,
    outcome             text                   -- the latest decision, null before one
);

CREATE TABLE idempotency_keys (
    client_id   text        NOT NULL,
    key         text        NOT NULL,
    request_id  uuid        NOT NULL REFERENCES requests (request_id),
    fingerprint text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

CREATE TABLE changes (
    event_id     uuid PRIMARY KEY,             -- derived from request id and fingerprint
    request_id   uuid        NOT NULL REFERENCES requests (request_id),
    kind         text        NOT NULL CHECK (kind IN ('amendment', 'decision')),
    submitted_by text        NOT NULL,
    accepted_at  timestamptz NOT NULL
);
CREATE INDEX changes_request ON changes (request_id, accepted_at);

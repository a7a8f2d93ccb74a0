-- Request ids are random (uuid4) from now on: a re-submission finds its request by the
-- natural key (agency case-folded, external_ref) instead of recomputing the id. Each
-- request records the organisation that owns it (requester.agency; a submitter key may
-- only reach its own) and whether it is national-security process by its form.
-- Requests accepted before this migration have no owner: only legal staff reach them,
-- and a re-submission of one is matched by Idempotency-Key only.
-- API keys moved to schema `auth` (shared/auth/migrations); the old keys are dropped.

ALTER TABLE requests
    ADD COLUMN organisation      text,
    ADD COLUMN agency_key        text,
    ADD COLUMN external_ref      text,
    ADD COLUMN national_security boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX requests_natural_key ON requests (agency_key, external_ref);
COMMENT ON COLUMN requests.request_id IS 'random (uuid4); uuid5 of agency and reference before 0002';

DROP TABLE api_keys;

-- Linking on arrival (services/classifier/domain/links.py): the keys a request is
-- linked by, taken when its submission is stored, and the outcomes recorded for it, so
-- a later request for the same account or from the same requester sees whether this
-- one was withdrawn, challenged or rejected.
ALTER TABLE requests
    ADD COLUMN requester_key  text,    -- the agency, case and spacing folded
    ADD COLUMN account_keys   text[],  -- each target as the account directory resolves it
    ADD COLUMN instrument_key text,    -- the instrument's identity (case number or text)
    -- the links found when the submission arrived (shared.events.RequestLink), kept so
    -- a redelivered request and every reclassification answer with the same ones
    ADD COLUMN links          jsonb,
    ADD COLUMN duplicate_of   text;
CREATE INDEX requests_by_requester ON requests (requester_key);
CREATE INDEX requests_by_account ON requests USING gin (account_keys);

CREATE TABLE decisions (
    event_id   text PRIMARY KEY,   -- the DecisionRecorded event id: kept once
    request_id text NOT NULL,
    outcome    text NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_of_request ON decisions (request_id, stored_at);

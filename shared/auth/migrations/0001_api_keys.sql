-- API keys of every Docket HTTP service (schema `auth`): hashes only, never secrets.
-- Intake and audit look keys up here; `docket keys` creates, lists, rotates and revokes
-- them. A key has one role; a submitter's key names the organisation it submits for.
-- Keys of the former `intake.api_keys` table are not carried over (their scopes gave no
-- organisation): create new ones with `docket keys create`.

CREATE TABLE api_keys (
    key_id            text PRIMARY KEY,
    client_id         text        NOT NULL,
    role              text        NOT NULL
                      CHECK (role IN ('submitter', 'legal', 'reader', 'auditor')),
    organisation      text,
    national_security boolean     NOT NULL DEFAULT false,
    key_sha256        text        NOT NULL UNIQUE,  -- hex SHA-256 of the secret
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    replaced_by       text REFERENCES api_keys (key_id),  -- set by `docket keys rotate`
    CHECK ((role = 'submitter') = (organisation IS NOT NULL))
);
CREATE INDEX api_keys_client ON api_keys (client_id);

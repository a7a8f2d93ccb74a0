-- Keys that act for a signed-in person (the web console, docs/console.md): each call of
-- such a key names the person and is answered in the person's role, never above the
-- key's own (shared/auth/keys.py, acting_for). A submitter's key never delegates.

ALTER TABLE api_keys ADD COLUMN delegates boolean NOT NULL DEFAULT false;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_submitters_do_not_delegate
    CHECK (NOT (delegates AND role = 'submitter'));

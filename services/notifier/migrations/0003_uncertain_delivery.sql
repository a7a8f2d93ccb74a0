-- A notice whose send was started (released to the channel) but never recorded, because
-- the notifier stopped in between, may or may not have reached the user. Sending it
-- again could tell the user twice; not sending it could mean never. Neither is decided
-- by a machine: such a notice is 'uncertain' and held for counsel, never re-sent
-- automatically. A send recorded late (the sender was only cut off from the database)
-- still moves it to 'sent'.
ALTER TABLE notices DROP CONSTRAINT notices_state_check;
ALTER TABLE notices ADD CONSTRAINT notices_state_check CHECK (state IN
    ('scheduled', 'held', 'sending', 'sent', 'failed', 'cancelled', 'uncertain'));

-- One account hears about one request once: an uncertain notice counts as possibly sent.
DROP INDEX notices_one_per_account;
CREATE UNIQUE INDEX notices_one_per_account ON notices (request_id, account_key)
    WHERE state IN ('sending', 'sent', 'uncertain');

-- Why it is held, for counsel (what the notifier knew when it found the expired claim).
ALTER TABLE notices ADD COLUMN uncertain_since timestamptz;
-- Whether the NotificationFailed saying so was published (the audit log's record of it).
ALTER TABLE notices ADD COLUMN uncertain_published boolean NOT NULL DEFAULT false;

-- The demand as received (docket.request.received): from RequestClassified v3 on the
-- verdict carries no personal data, so the notifier keeps the submission itself (the
-- targets it notifies and what a notice says). Verdicts kept before (v1/v2) carry it.
ALTER TABLE requests ADD COLUMN submission jsonb;  -- shared.submission.Submission
UPDATE requests SET submission = verdict->'submission'
    WHERE verdict IS NOT NULL AND jsonb_typeof(verdict->'submission') = 'object';

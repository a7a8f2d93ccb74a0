-- What legal staff decided about each request (docket.request.counsel): the events in
-- the order they were recorded, each once (by event id). Folded into every notice
-- decision (services/notifier/domain/counsel.py).
ALTER TABLE requests
    ADD COLUMN counsel     jsonb  NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN counsel_ids text[] NOT NULL DEFAULT '{}';

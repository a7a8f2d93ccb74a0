-- A request's clocks (services/audit/domain/deadlines.py), projected from its view in
-- the transaction that appends its events, and what the deadline scheduler reported of
-- each: a stage is reported for a due date once, under the row's lock (FOR UPDATE SKIP
-- LOCKED), so several audit instances never report it twice.
CREATE TABLE deadlines (
    request_id               text        NOT NULL,
    kind                     text        NOT NULL,
    due_at                   timestamptz NOT NULL,
    risk_level               text,
    -- false once the clock stopped (decided, withdrawn, gag lifted, notice sent)
    running                  boolean     NOT NULL DEFAULT true,
    -- the request that renewed this preservation (its clock runs on there)
    superseded_by            text,
    -- the due date whose approach / miss was published (a new due date reports afresh)
    approaching_reported_for timestamptz,
    missed_reported_for      timestamptz,
    -- an alert to send to the pager: 'trigger' or 'resolve'; NULL: nothing to send
    alert_pending            text CHECK (alert_pending IN ('trigger', 'resolve')),
    -- an incident is open at the pager for this clock
    alert_open               boolean     NOT NULL DEFAULT false,
    alert_attempts           int         NOT NULL DEFAULT 0,
    alert_retry_at           timestamptz,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, kind)
);
CREATE INDEX deadlines_running ON deadlines (due_at) WHERE running;
CREATE INDEX deadlines_alerts ON deadlines (alert_retry_at) WHERE alert_pending IS NOT NULL;

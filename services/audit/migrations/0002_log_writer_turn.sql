-- The log writer's turn. Appends (and the read side's rebuild) take this table's
-- EXCLUSIVE lock, one at a time, so leaf indexes stay dense and in commit order.
-- A table of its own because locking event_log itself in that mode takes UPDATE,
-- DELETE or TRUNCATE on it, which the service's role must never have.
CREATE TABLE log_writer_turn ();

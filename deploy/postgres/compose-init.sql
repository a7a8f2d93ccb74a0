-- docker compose only: the official image runs this once, as its superuser, on an empty
-- data directory. Docket's database is owned by docket_owner (LOGIN, CREATEROLE, not a
-- superuser), the role `docket migrate` runs as; it creates the service roles itself.
-- Development passwords: compose is not a production deployment.
CREATE ROLE docket_owner LOGIN CREATEROLE PASSWORD 'compose-owner-dev-password';
CREATE DATABASE docket OWNER docket_owner;

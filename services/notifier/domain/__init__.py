"""The notifier's pure domain: when a user may be told about a request, and what the
notice says. No I/O here."""

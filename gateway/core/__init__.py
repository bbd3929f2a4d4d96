"""What every stage shares: models, domain errors, settings, redaction, the outbound HTTP edge, retry config."""

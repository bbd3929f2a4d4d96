"""What every stage shares: models, domain errors, settings, redaction, the outbound HTTP edge and retry config. Imports nothing of the gateway."""

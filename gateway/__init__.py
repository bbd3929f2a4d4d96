"""Data-quality ticketing gateway: anomaly webhooks in, tracker tickets out."""

"""What a message says and how it looks in Slack and Teams, and posting it; no job code."""

"""Code that runs inside other tools (optional extras) and talks to the gateway over HTTP."""

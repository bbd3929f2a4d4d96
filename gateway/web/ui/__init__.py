"""The ops console at /ui: server-rendered pages over the views and operations the API uses."""

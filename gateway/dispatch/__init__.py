"""The transport: execution ids onto RQ (the only RQ import on the web side), and the sweeper."""

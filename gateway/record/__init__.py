"""The mirror: tickets, links, timeline, events, executions and attempts in SQL; rows come back typed."""

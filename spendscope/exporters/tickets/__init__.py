"""Tickets for orphaned resources: one per owner (or account), updated instead of duplicated.

``sync.sync_tickets`` is the entry point; sinks: ``jira`` (Jira Cloud REST v3), ``github`` (GitHub
Issues), ``servicenow`` (Table API: incident or sc_task), ``webhook`` (Slack/Teams-compatible JSON).
This package imports nothing on its own: spendscope.config loads ``settings`` with every command.
"""

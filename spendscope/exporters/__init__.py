"""Exporters publish what the warehouse holds (files, metrics, tickets, reports); never a cloud API."""

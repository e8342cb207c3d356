"""Google Cloud collectors, one module per kind.

- ``billing``: the Cloud Billing export (BigQuery table, or copies in GCS / local files) as billing
  sources, ``gcp_sources(location)``; the mapping to FOCUS is ``sql/collectors/gcp_billing_to_focus.sql``.
- ``catalog`` and ``inventory``: Cloud Billing projects, Catalog SKU prices and Compute inventory.
"""

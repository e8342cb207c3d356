"""Google Cloud collectors: the Cloud Billing export (BigQuery, or copies in GCS / local files).

``spendscope.collectors.gcp.billing.gcp_sources(location)`` returns the billing sources; the mapping
to FOCUS is ``sql/collectors/gcp_billing_to_focus.sql``.
"""

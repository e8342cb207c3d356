-- Azure Cost Management Query API result (ActualCost, Daily, grouped by ResourceId and ServiceName)
-- → FOCUS 1.2 warehouse columns, every row marked x_Estimated.
-- Grain: one (UsageDate, ResourceId, ServiceName, Currency) group of the query → one Usage row.
-- Σ BilledCost = Σ EffectiveCost = Σ the query's cost (actual cost, billing currency). The API gives no
-- list, contracted or pricing-currency figures: those columns stay NULL (reported as deviations).
-- Params: $path (Parquet written by collectors/azure/query.py: usage_date DATE, resource_id,
-- service_name, currency VARCHAR, cost DECIMAL(38, 12)), $billing_period_start and
-- $billing_period_end (the queried calendar month, TIMESTAMPTZ), $billing_account_id (VARCHAR),
-- $sub_account_id (the scope's subscription, for rows whose ResourceId names none; may be NULL).
WITH raw AS (
    SELECT usage_date, NULLIF(resource_id, '') AS rid, service_name, currency, cost FROM read_parquet($path)
), q AS (
    SELECT
        usage_date,
        rid,
        coalesce(NULLIF(service_name, ''), 'Unassigned') AS service,
        currency,
        cost,
        -- a ResourceId names its subscription; rows without one belong to the scope's subscription
        coalesce(NULLIF(regexp_extract(rid, '(?i)^/subscriptions/([^/]+)', 1), ''), CAST($sub_account_id AS VARCHAR))
            AS sub_account_id
    FROM raw
), categories (service, category, subcategory) AS (
    -- Azure meter categories (the ServiceName dimension) → FOCUS 1.2 ServiceCategory / Subcategory,
    -- the same choices as the export collector's reference/azure_service_categories.csv; others: Other.
    VALUES
        ('Virtual Machines', 'Compute', 'Virtual Machines'),
        ('Virtual Machines Licenses', 'Compute', 'Virtual Machines'),
        ('Azure Kubernetes Service', 'Compute', 'Containers'),
        ('Container Instances', 'Compute', 'Containers'),
        ('Container Registry', 'Compute', 'Containers'),
        ('Functions', 'Compute', 'Serverless Compute'),
        ('Azure App Service', 'Web', 'Application Platforms'),
        ('Storage', 'Storage', 'Object Storage'),
        ('Backup', 'Storage', 'Backup Storage'),
        ('Bandwidth', 'Networking', 'Network Connectivity'),
        ('Virtual Network', 'Networking', 'Network Infrastructure'),
        ('Load Balancer', 'Networking', 'Application Networking'),
        ('Application Gateway', 'Networking', 'Application Networking'),
        ('VPN Gateway', 'Networking', 'Network Connectivity'),
        ('Azure DNS', 'Networking', 'Network Routing'),
        ('Azure Firewall', 'Networking', 'Network Security'),
        ('Azure Front Door Service', 'Networking', 'Content Delivery'),
        ('Content Delivery Network', 'Networking', 'Content Delivery'),
        ('SQL Database', 'Databases', 'Relational Databases'),
        ('SQL Managed Instance', 'Databases', 'Relational Databases'),
        ('Azure Database for PostgreSQL', 'Databases', 'Relational Databases'),
        ('Azure Database for MySQL', 'Databases', 'Relational Databases'),
        ('Azure Cosmos DB', 'Databases', 'NoSQL Databases'),
        ('Redis Cache', 'Databases', 'Caching'),
        ('Key Vault', 'Security', 'Secret Management'),
        ('Microsoft Defender for Cloud', 'Security', 'Security Posture Management'),
        ('Log Analytics', 'Management and Governance', 'Observability'),
        ('Azure Monitor', 'Management and Governance', 'Observability'),
        ('Event Hubs', 'Integration', 'Messaging'),
        ('Service Bus', 'Integration', 'Messaging'),
        ('Logic Apps', 'Integration', 'Workflow Orchestration'),
        ('Azure Data Factory v2', 'Integration', 'Workflow Orchestration'),
        ('API Management', 'Integration', 'API Management'),
        ('Azure Synapse Analytics', 'Databases', 'Data Warehouses'),
        ('Cognitive Services', 'AI and Machine Learning', 'AI Platforms'),
        ('Azure Machine Learning', 'AI and Machine Learning', 'Machine Learning')
)
SELECT
    q.cost AS BilledCost,
    CAST($billing_account_id AS VARCHAR) AS BillingAccountId,
    q.currency AS BillingCurrency,
    CAST($billing_period_end AS TIMESTAMPTZ) AS BillingPeriodEnd,
    CAST($billing_period_start AS TIMESTAMPTZ) AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    q.service || ' daily cost, estimated from the Cost Management Query API' AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    timezone('UTC', CAST(q.usage_date + 1 AS TIMESTAMP)) AS ChargePeriodEnd,
    timezone('UTC', CAST(q.usage_date AS TIMESTAMP)) AS ChargePeriodStart,
    q.cost AS EffectiveCost,
    'Microsoft' AS InvoiceIssuerName,
    'Microsoft' AS ProviderName,
    'Microsoft' AS PublisherName,
    q.rid AS ResourceId,
    NULLIF(regexp_extract(q.rid, '([^/]+)/*$', 1), '') AS ResourceName,
    coalesce(c.category, 'Other') AS ServiceCategory,
    q.service AS ServiceName,
    coalesce(c.subcategory, 'Other (Other)') AS ServiceSubcategory,
    q.sub_account_id AS SubAccountId,
    CASE WHEN q.sub_account_id IS NOT NULL THEN 'Subscription' END AS SubAccountType,
    NULLIF(regexp_extract(q.rid, '(?i)/resourcegroups/([^/]+)', 1), '') AS x_ResourceGroupName,
    true AS x_Estimated
FROM q
LEFT JOIN categories c ON lower(c.service) = lower(q.service)

"""Strings of the bill: resource ids in each provider's own format, SKU ids, tags, descriptions.

Rendered per chunk from the world's integer arrays (a loop over the chunk's *entries*, never over
rows), so memory holds only the strings of the rows being written. Every id is derived from the
seed and a serial number, so the same seed names the same resources.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import APPS, SERVICES, TEAM_INDEX, TEAMS, Meter, ResourceTemplate
from spendscope.generator.entries import (
    ENVS,
    FAULT_KEY_CASE,
    FAULT_OWNER,
    FAULT_VALUE_CASE,
    PROVIDERS,
    TEMPLATES,
    UNTAGGED,
)
from spendscope.generator.world import World, uid

ATTR_COLUMNS: Final = (
    "AvailabilityZone",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedUnit",
    "InvoiceId",
    "InvoiceIssuerName",
    "PricingCategory",
    "PricingCurrency",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_ResourceGroupName",
    "x_UsageType",
)
"""Every string-typed column of the output (FOCUS 1.2 string/JSON columns and the two x_ columns)."""

Attr = dict[str, str | None]


def _h(*parts: object) -> str:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def invoice_id(p: int, period: str) -> str:
    """One invoice per billing account and month, in the issuer's style."""
    n = int(_h("invoice", p, period)[:10], 16)
    return (f"{n % 10**10:010d}", f"E0{n % 10**8:08d}", f"{n % 10**10:010d}")[p]


def provider_attr(world: World, p: int, period: str) -> Attr:
    """Columns that are the same on every row of a provider's month."""
    prov = PROVIDERS[p]
    base: Attr = dict.fromkeys(ATTR_COLUMNS)
    base.update(
        BillingAccountId=prov.billing_account_id,
        BillingAccountName=prov.billing_account_name,
        BillingAccountType=prov.billing_account_type,
        BillingCurrency=prov.currency,
        PricingCurrency=prov.currency,
        InvoiceIssuerName=prov.invoice_issuer,
        ProviderName=prov.provider_name,
        PublisherName=prov.publisher_name,
        InvoiceId=invoice_id(p, period),
    )
    return base


def account_attr(p: int, account: int) -> Attr:
    acct = PROVIDERS[p].accounts[account]
    return {"SubAccountId": acct.id, "SubAccountName": acct.name, "SubAccountType": acct.type}


def service_attr(service: str) -> Attr:
    category, sub = SERVICES[service]
    return {"ServiceName": service, "ServiceCategory": category, "ServiceSubcategory": sub}


def money_text(units: int, scale: int = 6) -> str:
    """An exact decimal string of integer micro-units (no exponent): 17 → '0.000017'."""
    return format(Decimal(units).scaleb(-scale).normalize(), "f")


def sku_id(p: int, template: ResourceTemplate, meter: int, region: str) -> str:
    """A SKU id in the provider's format; a catalogue fact, so it does not depend on the seed."""
    h = _h("sku", p, template.key, template.meters[meter].usage_type, template.meters[meter].sku_meter, region)
    if p == 0:
        return "".join(c for c in h.upper() if c.isalnum())[:16]
    if p == 1:
        return f"DZH3{h[:8].upper()}/{h[8:12].upper()}"
    return f"{h[:4]}-{h[4:8]}-{h[8:12]}".upper()


def sku_price_id(p: int, sku: str, committed: bool) -> str:
    if p == 0:
        return f"{sku}.{'6QCMYABX3D' if committed else 'JRTCKXETXF'}.6YS6EN2CT7"
    if p == 1:
        return f"{sku}/{'RESERVED-1Y' if committed else 'ONDEMAND'}"
    return f"{sku}/CUD-1Y" if committed else sku


def usage_type(p: int, template: ResourceTemplate, m: Meter, region_code: str) -> str:
    if p == 0 and template.regional:
        return f"{region_code}-{m.usage_type}"
    return m.usage_type


def resource_names(world: World, e: int) -> tuple[str | None, str | None, str | None]:
    """(ResourceId, ResourceName, x_ResourceGroupName) of the resource an entry belongs to."""
    c = world.entries.cols
    p, tmpl = int(c["provider"][e]), int(c["tmpl"][e])
    template = TEMPLATES[tmpl][1]
    if template.resource_type is None:
        return None, None, None
    prov = PROVIDERS[p]
    acct = prov.accounts[int(c["account"][e])].id
    reg = prov.regions[int(c["region"][e])]
    zone = reg.zones[int(c["zone"][e])] if int(c["zone"][e]) >= 0 else reg.id
    app, env = APPS[int(c["app"][e])].name, ENVS[int(c["env"][e])]
    h = uid(world.seed, "resource", int(c["resource"][e]))
    style = template.id_style
    if style.startswith("arm:"):
        return _arm(acct, app, env, style[4:], h)
    name = f"{app}-{env}-{h[:4]}"
    arn = f"arn:aws:{{}}:{reg.id}:{acct}:"
    rid = {
        "ec2": f"i-0{h[:16]}",
        "ebs": f"vol-0{h[:16]}",
        "snap": f"snap-0{h[:16]}",
        "nat": f"nat-0{h[:16]}",
        "s3": f"acme-{name}",
        "rds": arn.format("rds") + f"db:{name}",
        "elasticache": arn.format("elasticache") + f"cluster:{name}",
        "dynamodb": arn.format("dynamodb") + f"table/{name}",
        "lambda": arn.format("lambda") + f"function:{name}",
        "ecs": arn.format("ecs") + f"service/{env}/{name}",
        "elb": arn.format("elasticloadbalancing") + f"loadbalancer/app/{name}/{h[4:20]}",
        "cloudfront": f"arn:aws:cloudfront::{acct}:distribution/E{h[:13].upper()}",
        "loggroup": arn.format("logs") + f"log-group:/{env}/{app}/{h[:4]}",
        "opensearch": arn.format("es") + f"domain/{name}",
        "eks": arn.format("eks") + f"cluster/{name}",
        "sagemaker": arn.format("sagemaker") + f"endpoint/{name}",
        "glue": arn.format("glue") + f"job/{name}",
        "bedrock": arn.format("bedrock") + f"application-inference-profile/{h[:12]}",
        "redshift": arn.format("redshift") + f"cluster:{name}",
        "kinesis": arn.format("kinesis") + f"stream/{name}",
        "gce": f"//compute.googleapis.com/projects/{acct}/zones/{zone}/instances/{name}",
        "gce-disk": f"//compute.googleapis.com/projects/{acct}/zones/{zone}/disks/{name}",
        "gcs": f"//storage.googleapis.com/projects/_/buckets/acme-{name}",
        "bq-dataset": f"//bigquery.googleapis.com/projects/{acct}/datasets/{app.replace('-', '_')}_{h[:4]}",
        "cloudsql": f"//cloudsql.googleapis.com/projects/{acct}/instances/{name}",
        "gke-workload": f"//container.googleapis.com/projects/{acct}/locations/{reg.id}/clusters/autopilot-{env}"
        f"/k8s/namespaces/{app}/apps/deployments/{name}",
        "gke-cluster": f"//container.googleapis.com/projects/{acct}/locations/{reg.id}/clusters/{name}",
        "run": f"//run.googleapis.com/projects/{acct}/locations/{reg.id}/services/{name}",
        "gclb": f"//compute.googleapis.com/projects/{acct}/regions/{reg.id}/forwardingRules/{name}",
        "log-bucket": f"//logging.googleapis.com/projects/{acct}/locations/{reg.id}/buckets/{name}",
        "vertex": f"//aiplatform.googleapis.com/projects/{acct}/locations/{reg.id}/endpoints/{int(h[:12], 16)}",
        "dataflow": f"//dataflow.googleapis.com/projects/{acct}/locations/{reg.id}/jobs/{name}",
        "pubsub": f"//pubsub.googleapis.com/projects/{acct}/topics/{name}",
        "spanner": f"//spanner.googleapis.com/projects/{acct}/instances/{name}",
    }[style]
    return rid, name, None


_ARM_PREFIX: Final = {  # Microsoft's recommended resource-name abbreviations
    "Microsoft.Compute/virtualMachines": "vm",
    "Microsoft.Compute/disks": "disk",
    "Microsoft.Cache/Redis": "redis",
    "Microsoft.ContainerService/managedClusters": "aks",
    "Microsoft.Network/publicIPAddresses": "pip",
    "Microsoft.Network/loadBalancers": "lbi",
    "Microsoft.OperationalInsights/workspaces": "log",
    "Microsoft.Web/sites": "func",
    "Microsoft.CognitiveServices/accounts": "oai",
    "Microsoft.Databricks/workspaces": "dbw",
    "Microsoft.DocumentDB/databaseAccounts": "cosmos",
    "Microsoft.Search/searchServices": "srch",
    "Microsoft.EventHub/namespaces": "evhns",
}


def _arm(sub: str, app: str, env: str, arm_type: str, h: str) -> tuple[str, str, str]:
    rg = f"rg-{app}-{env}"
    short = f"{_ARM_PREFIX.get(arm_type, 'res')}-{app}-{env}-{h[:4]}"
    if arm_type == "Microsoft.Storage/storageAccounts":  # 3-24 lower-case letters and digits
        short = f"st{app.replace('-', '')[:12]}{h[:8]}"
    if arm_type == "Microsoft.Sql/servers/databases":
        path = f"Microsoft.Sql/servers/sql-{app}-{env}/databases/{app}db-{h[:4]}"
        short = f"{app}db-{h[:4]}"
    else:
        path = f"{arm_type}/{short}"
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{path}", short, rg


def tags_json(p: int, state: int, empty_obj: bool, app_i: int, env_i: int) -> str | None:
    """The Tags column: team/env/app/cost-center, or untagged, or one of the tag-hygiene faults."""
    if state == UNTAGGED:
        return "{}" if empty_obj else None
    app = APPS[app_i]
    team = TEAMS[TEAM_INDEX[app.team]]
    env = ENVS[env_i]
    cc = team.cost_center if PROVIDERS[p].upper_case_faults else team.cost_center.lower()
    tags: dict[str, str] = {"app": app.name, "cost-center": cc, "env": env, "team": team.name}
    if state == FAULT_KEY_CASE:
        tags["Team"] = tags.pop("team")
    elif state == FAULT_OWNER:
        tags["owner"] = tags.pop("team")
    elif state == FAULT_VALUE_CASE:
        tags["env"] = env.capitalize()
    return json.dumps(tags, separators=(",", ":"))


def usage_attrs(world: World, p: int, period: str, idx: npt.NDArray[np.int64]) -> list[Attr]:
    """One attribute row per entry of a usage chunk (covered entries carry their commitment)."""
    prov = PROVIDERS[p]
    c = world.entries.cols
    const = provider_attr(world, p, period)
    commitment = world.commitments.get(p)
    cache: dict[int, tuple[str | None, str | None, str | None]] = {}
    out: list[Attr] = []
    for e in idx.tolist():
        template = TEMPLATES[int(c["tmpl"][e])][1]
        mi = int(c["meter"][e])
        m = template.meters[mi]
        reg = prov.regions[int(c["region"][e])]
        serial = int(c["resource"][e])
        if serial not in cache:
            cache[serial] = resource_names(world, e)
        rid, rname, rg = cache[serial]
        covered = int(c["commit"][e]) >= 0 and commitment is not None
        sku = sku_id(p, template, mi, reg.id)
        ut = usage_type(p, template, m, reg.code)
        loc = reg.code if p == 2 else reg.name
        desc = m.description.format(price=money_text(int(c["list_u"][e])), loc=loc)
        attr = dict(const)
        attr.update(account_attr(p, int(c["account"][e])))
        attr.update(service_attr(m.service))
        attr.update(
            AvailabilityZone=reg.zones[int(c["zone"][e])] if int(c["zone"][e]) >= 0 else None,
            ChargeCategory="Usage",
            ChargeFrequency="Usage-Based",
            ConsumedUnit=m.consumed_unit,
            PricingUnit=m.pricing_unit,
            PricingCategory="Committed" if covered else "Standard",
            RegionId=reg.id if template.regional else None,
            RegionName=reg.name if template.regional else None,
            ResourceId=rid,
            ResourceName=rname,
            ResourceType=template.resource_type if rid else None,
            SkuId=sku,
            SkuPriceId=sku_price_id(p, sku, covered),
            SkuMeter=ut if p == 0 else m.sku_meter.format(loc=loc),
            SkuPriceDetails=m.details,
            x_ResourceGroupName=rg,
            x_UsageType=ut,
            Tags=tags_json(p, int(c["tag_state"][e]), bool(c["empty_obj"][e]), int(c["app"][e]), int(c["env"][e])),
            ChargeDescription=desc,
        )
        if covered and commitment is not None:
            attr.update(commitment_attr(p, commitment.cid, commitment.name, m.pricing_unit, "Used"))
            attr["ChargeDescription"] = f"{desc} (covered by {prov.commitment.type} {commitment.name})"
        out.append(attr)
    return out


def commitment_attr(p: int, cid: str, name: str, unit: str, status: str | None) -> Attr:
    return {
        "CommitmentDiscountId": cid,
        "CommitmentDiscountName": name,
        "CommitmentDiscountType": PROVIDERS[p].commitment.type,
        "CommitmentDiscountCategory": "Usage",
        "CommitmentDiscountStatus": status,
        "CommitmentDiscountUnit": unit,
    }

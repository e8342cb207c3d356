"""The month-end rows of an invoice: commitment purchase and unused hours, support, credits, tax.

Written after a provider's usage rows for the month because they depend on them (tax and support
are a share of what was billed; unused commitment hours are what the covered VMs did not use).
FOCUS rules followed here, from the FOCUS 1.2 spec and ../shared/FOCUS-NOTES.md:

- commitment Purchase: PricingCategory Standard, EffectiveCost 0, ResourceId = CommitmentDiscountId,
  no status, BilledCost = the Used + Unused EffectiveCost of the month (exact, integer arithmetic);
- Unused rows: ChargeCategory Usage, PricingCategory Committed, status Unused, BilledCost 0,
  ConsumedQuantity null, ResourceId = the commitment (AWS monthly, Azure/GCP daily, as exported);
- Credit: negative, List = Contracted = Effective = Billed, no quantities, prices or SKUs;
- Tax: no quantities, prices, SKUs or PricingCategory; EffectiveCost = BilledCost.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from spendscope.generator.entries import PROVIDERS, TEMPLATES
from spendscope.generator.focus import Lines
from spendscope.generator.names import (
    Attr,
    account_attr,
    commitment_attr,
    money_text,
    provider_attr,
    service_attr,
    sku_id,
    sku_price_id,
    usage_type,
)
from spendscope.generator.shapes import Month
from spendscope.generator.world import Commitment, World

MICRO = 1_000_000
Pairs = dict[tuple[str, str], list[int]]
"""(SubAccountId, ServiceName) → [billed, effective, list, contracted] in 1e-12 units."""
_SUPPORT_TIERS = (
    (10_000, Decimal("0.10")),
    (80_000, Decimal("0.07")),
    (250_000, Decimal("0.05")),
    (None, Decimal("0.03")),
)


def cents(units12: Decimal) -> int:
    """Round an amount in 1e-12 units to whole cents (half up), as invoices do."""
    return int((units12 / 10**10).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * 10**10


def special_lines(world: World, p: int, month: Month, pairs: Pairs) -> tuple[Lines, dict[str, Any]]:
    """Month-end rows of provider ``p``, plus the commitment summary for ground truth."""
    pairs = {k: list(v) for k, v in pairs.items()}
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    cm = world.commitments.get(p)
    if cm is not None:
        summary = _commitment_rows(world, p, month, cm, rows, pairs)
    prov = PROVIDERS[p]
    const = provider_attr(world, p, month.period)
    whole = {"start_us": month.start_us, "end_us": month.end_us}
    if prov.support is not None:
        base = sum(v[0] for v in pairs.values())
        fee = _support_fee(Decimal(base) / 10**12)
        # A recurring fee for a service consumed in the month (not a prepayment covering future
        # charges), so Usage with a Recurring frequency: EffectiveCost = BilledCost.
        attr = {
            **const,
            **account_attr(p, 0),
            **service_attr(prov.support),
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Recurring",
            "PricingCategory": "Standard",
            "PricingUnit": "Month",
            "SkuId": "AWSSupportBusiness",
            "SkuPriceId": "AWSSupportBusiness.JRTCKXETXF.MONTHLY",
            "SkuMeter": "Dollar",
            "x_UsageType": "Dollar",
            "ChargeDescription": "AWS Support (Business): 10% of the first $10K of monthly AWS charges, "
            "7% to $80K, 5% to $250K, 3% above",
        }
        _add(rows, pairs, attr, whole, fee, fee, quantity=MICRO, unit=fee // MICRO)
    if prov.credit is not None:
        service, description, share = prov.credit
        billed = {k: v[0] for k, v in pairs.items() if k[1] == service and k[0] != prov.accounts[0].id}
        if billed:
            account = max(billed, key=lambda k: (billed[k], k))[0]
            amount = -cents(Decimal(sum(billed.values())) * Decimal(str(share)))
            if amount < 0:
                idx = [a.id for a in prov.accounts].index(account)
                attr = {
                    **const,
                    **account_attr(p, idx),
                    **service_attr(service),
                    "ChargeCategory": "Credit",
                    "ChargeFrequency": "One-Time",
                    "ChargeDescription": description,
                }
                _add(rows, pairs, attr, whole, amount, amount, list_cost=amount, contracted=amount)
    if prov.tax_rate > 0:
        rate = Decimal(str(prov.tax_rate))
        for (account, service), (billed_base, _eff, list_base, contracted_base) in sorted(pairs.items()):
            if billed_base <= 0:
                continue
            tax = cents(Decimal(billed_base) * rate)
            idx = [a.id for a in prov.accounts].index(account)
            attr = {
                **const,
                **account_attr(p, idx),
                **service_attr(service),
                "ChargeCategory": "Tax",
                "ChargeFrequency": "Recurring",
                "ChargeDescription": f"US sales tax ({prov.tax_rate:.2%}) on {service}",
            }
            _add(
                rows,
                pairs,
                attr,
                whole,
                tax,
                tax,
                list_cost=max(cents(Decimal(list_base) * rate), tax),
                contracted=max(cents(Decimal(contracted_base) * rate), tax),
            )
    return _to_lines(rows), summary


def _support_fee(usage: Decimal) -> int:
    fee, low = Decimal(0), 0
    for high, pct in _SUPPORT_TIERS:
        top = usage if high is None else min(usage, Decimal(high))
        if top > low:
            fee += (top - low) * pct
        if high is None or usage <= high:
            break
        low = high
    return cents(max(fee, Decimal(100)) * 10**12)


def _commitment_rows(
    world: World, p: int, month: Month, cm: Commitment, rows: list[dict[str, Any]], pairs: Pairs
) -> dict[str, Any]:
    prov, c, cal = PROVIDERS[p], world.entries.cols, world.cal
    template = TEMPLATES[cm.tmpl][1]
    m = template.meters[0]
    reg = prov.regions[cm.region]
    hours = np.arange(month.hour0, month.hour0 + month.hours)
    used = np.zeros(month.hours, dtype=np.int64)
    for e in cm.covered.tolist():
        live = (hours >= c["start_h"][e]) & (hours < c["end_h"][e]) & cal.running[int(c["schedule"][e]), hours]
        used += live * round(float(c["base"][e]) * MICRO)
    unused = cm.capacity_u - used
    sku = sku_id(p, template, 0, reg.id)
    loc = reg.code if p == 2 else reg.name
    list_u, contracted_u = int(c["list_u"][cm.covered[0]]), int(c["contracted_u"][cm.covered[0]])
    base: Attr = {
        **provider_attr(world, p, month.period),
        **account_attr(p, cm.account),
        **service_attr(m.service),
        "RegionId": reg.id,
        "RegionName": reg.name,
        "ResourceId": cm.cid,
        "ResourceName": cm.name,
        "ResourceType": prov.commitment.type,
        "SkuId": sku,
        "SkuPriceId": sku_price_id(p, sku, True),
        "PricingUnit": m.pricing_unit,
    }
    purchase_meter = prov.commitment.purchase_meter.format(loc=loc)
    quantity = cm.capacity_u * month.hours
    billed = quantity * cm.rate_u
    attr = {
        **base,
        **commitment_attr(p, cm.cid, cm.name, m.pricing_unit, None),
        "ChargeCategory": "Purchase",
        "ChargeFrequency": "Recurring",
        "PricingCategory": "Standard",
        "SkuMeter": purchase_meter,
        "x_UsageType": purchase_meter,
        "ChargeDescription": f"{cm.name}: recurring fee, {money_text(cm.rate_u)} {prov.currency} per "
        f"{m.pricing_unit.rstrip('s').lower()}",
    }
    _add(
        rows,
        pairs,
        attr,
        {"start_us": month.start_us, "end_us": month.end_us},
        billed,
        0,
        quantity=quantity,
        unit=cm.rate_u,
        commit=quantity,
    )
    periods = [(0, month.hours)] if p == 0 else [(d * 24, d * 24 + 24) for d in range(month.days)]
    unused_total = 0
    for lo, hi in periods:
        q = int(unused[lo:hi].sum())
        if q <= 0:
            continue
        unused_total += q * cm.rate_u
        attr = {
            **base,
            **commitment_attr(p, cm.cid, cm.name, m.pricing_unit, "Unused"),
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "PricingCategory": "Committed",
            "SkuMeter": usage_type(p, template, m, reg.code) if p == 0 else m.sku_meter.format(loc=loc),
            "x_UsageType": usage_type(p, template, m, reg.code),
            "ChargeDescription": f"Unused {prov.commitment.type} hours: {cm.name}",
        }
        span = {"start_us": month.start_us + lo * 3_600_000_000, "end_us": month.start_us + hi * 3_600_000_000}
        _add(
            rows,
            pairs,
            attr,
            span,
            0,
            q * cm.rate_u,
            list_cost=q * list_u,
            contracted=q * contracted_u,
            quantity=q,
            unit=list_u,
            unit_contracted=contracted_u,
            commit=q,
        )
    return {
        "provider": prov.key,
        "CommitmentDiscountId": cm.cid,
        "CommitmentDiscountName": cm.name,
        "CommitmentDiscountType": prov.commitment.type,
        "period": month.period,
        "purchase_billed_cost": money_text(billed, 12),
        "used_effective_cost": money_text(billed - unused_total, 12),
        "unused_effective_cost": money_text(unused_total, 12),
        "utilization": round(1 - unused_total / billed, 6) if billed else None,
    }


def _add(
    rows: list[dict[str, Any]],
    pairs: Pairs,
    attr: Attr,
    span: dict[str, int],
    billed: int,
    effective: int,
    *,
    list_cost: int | None = None,
    contracted: int | None = None,
    quantity: int | None = None,
    unit: int | None = None,
    unit_contracted: int | None = None,
    commit: int | None = None,
) -> None:
    row: dict[str, Any] = {
        "attr": attr,
        **span,
        "billed": billed,
        "effective": effective,
        "list": billed if list_cost is None else list_cost,
        "contracted": billed if contracted is None else contracted,
        "quantity": quantity,
        "unit": unit,
        "unit_contracted": unit if unit_contracted is None else unit_contracted,
        "commit": commit,
    }
    rows.append(row)
    key = (str(attr["SubAccountId"]), str(attr["ServiceName"]))
    totals = pairs.setdefault(key, [0, 0, 0, 0])
    for i, name in enumerate(("billed", "effective", "list", "contracted")):
        totals[i] += int(row[name])


def _to_lines(rows: list[dict[str, Any]]) -> Lines:
    def ints(name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.array([r[name] or 0 for r in rows], dtype=np.int64)

    def valid(name: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.array([r[name] is not None for r in rows], dtype=bool)

    n = len(rows)
    return Lines(
        attrs=[r["attr"] for r in rows],
        unit_list=ints("unit"),
        unit_contracted=ints("unit_contracted"),
        unit_valid=valid("unit"),
        attr=np.arange(n, dtype=np.int64),
        start_us=ints("start_us"),
        end_us=ints("end_us"),
        billed=ints("billed"),
        effective=ints("effective"),
        list_cost=ints("list"),
        contracted=ints("contracted"),
        quantity=ints("quantity"),
        quantity_valid=valid("quantity"),
        consumed=np.zeros(n, dtype=np.int64),
        consumed_valid=np.zeros(n, dtype=bool),
        commit_quantity=ints("commit"),
        commit_valid=valid("commit"),
    )

"""The seeded world: which resources exist, where, for whom, from when to when.

Built once per ``generate`` call for the whole range of months, so resources, teams and trends
are continuous from one month to the next (resources may start and end inside the range). Its
size is chosen so the bill has about the requested number of rows: a fixed core (commitment
coverage, a storage seed per provider, orphaned untagged storage, the new services of the
``new_spend`` anomalies) and then resources drawn from each provider's templates until the
provider's share of rows is reached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import APPS, ResourceTemplate
from spendscope.generator.entries import (
    CORE,
    ENVS,
    FILLER,
    NEW_SPEND,
    PROVIDERS,
    TEMPLATE_INDEX,
    TEMPLATES,
    UNTAGGED,
    UNTAGGED_FILLER,
    Entries,
    EntryBuilder,
    template_rows,
)
from spendscope.generator.shapes import ALWAYS, NIGHTLY_STOP, OFFICE_HOURS, Calendar

MIN_ROWS_PER_MONTH = 1000
REGION_WEIGHTS = (0.6, 0.25, 0.15)
SEED_TEMPLATES = {"aws": "s3-bucket", "azure": "storage-account", "gcp": "gcs-bucket"}
ORPHAN_TEMPLATES = {"aws": "ebs-snapshot", "azure": "managed-disk", "gcp": "pd-balanced"}
COMMITMENT_MIN_ROWS_PER_MONTH = 4000
"""Below this, only AWS carries a commitment (its covered VM alone is ~280 rows a month)."""


class NewService(NamedTuple):
    """A service first used mid-month (a ``new_spend`` anomaly), planned before the world is sized."""

    month: int
    provider: int
    tmpl: int
    account: int
    region: int
    start_h: int


@dataclass
class Commitment:
    provider: int
    covered: npt.NDArray[np.int64]
    """Entries whose every row is covered (PricingCategory Committed, status Used)."""
    capacity_u: int
    """Covered quantity per hour at full use, micro-units of the covered meter's PricingUnit."""
    rate_u: int
    """Amortized price per PricingUnit, micro-units: Purchase BilledCost = capacity × hours × rate."""
    account: int
    region: int
    tmpl: int
    cid: str
    name: str


@dataclass
class World:
    seed: int
    cal: Calendar
    entries: Entries
    commitments: dict[int, Commitment]
    orphan_gb: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)
    """Per provider: GB of each orphaned untagged disk/snapshot per month (keeps untagged ≈ 12.5 %)."""
    expected_rows: int = 0
    """Rows the world will write (planned exactly, up to a few tax rows)."""
    core_rows: tuple[int, ...] = ()
    """Per provider: rows of the fixed core alone (commitments, seeds, orphans, new services, month-end rows)."""


def uid(seed: int, *parts: object) -> str:
    """A stable 32-hex-digit id from the seed and a name (deterministic, no global RNG)."""
    text = ":".join(str(p) for p in (seed, *parts))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def guid(h: str) -> str:
    """8-4-4-4-12 GUID spelling of a 32-hex-digit id."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def apps_for(teams: tuple[str, ...]) -> list[int]:
    return [i for i, a in enumerate(APPS) if a.team in teams]


def _compatible(template: ResourceTemplate, account_teams: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in account_teams if not template.teams or t in template.teams)


class _Sizer:
    """Adds resources to one provider and counts the rows they will write (tax rows included)."""

    def __init__(self, builder: EntryBuilder, cal: Calendar, p: int, rng: np.random.Generator) -> None:
        self.b, self.cal, self.p, self.rng = builder, cal, p, rng
        self.rows = 0
        self.months = len(cal.months)
        self.taxed = PROVIDERS[p].tax_rate > 0
        self.pairs: set[tuple[int, str]] = set()
        self._cache: dict[tuple[int, int, int, int], int] = {}

    def add(
        self,
        tmpl: int,
        account: int,
        region: int,
        app: int,
        *,
        schedule: int = 0,
        start: int = 0,
        end: int | None = None,
        role: int = CORE,
    ) -> list[int]:
        end = self.cal.total_hours if end is None else end
        env = ENVS.index(PROVIDERS[self.p].accounts[account].env)
        added = self.b.add_resource(
            self.rng,
            provider=self.p,
            tmpl=tmpl,
            account=account,
            region=region,
            app=app,
            env=env,
            schedule=schedule,
            start_h=start,
            end_h=end,
            role=role,
        )
        self.rows += self.rows_of(tmpl, schedule, start, end) + self.months * len(self._new_pairs(tmpl, account))
        self.pairs.update(self._new_pairs(tmpl, account))
        return added

    def _new_pairs(self, tmpl: int, account: int) -> set[tuple[int, str]]:
        if not self.taxed:
            return set()
        return {(account, m.service) for m in TEMPLATES[tmpl][1].meters} - self.pairs

    def rows_of(self, tmpl: int, schedule: int, start: int, end: int) -> int:
        key = (tmpl, schedule, start, end)
        if key not in self._cache:
            self._cache[key] = template_rows(self.cal, TEMPLATES[tmpl][1], schedule, start, end)
        return self._cache[key]

    def fill(self, budget: int) -> None:
        """Draw resources from the provider's templates (weighted) while they fit in the budget."""
        prov = PROVIDERS[self.p]
        tmpls = [TEMPLATE_INDEX[(self.p, t.key)] for t in prov.templates]
        cum_w = np.cumsum([t.weight for t in prov.templates])
        region_w = np.cumsum(REGION_WEIGHTS[: len(prov.regions)])
        total_days = self.cal.total_hours // 24
        skips = 0
        while budget - self.rows > total_days // 2 and skips < 3000:
            u = self.rng.random(8)
            tmpl = tmpls[int(np.searchsorted(cum_w, u[0] * cum_w[-1], side="right"))]
            template = TEMPLATES[tmpl][1]
            accounts = [i for i, a in enumerate(prov.accounts) if _compatible(template, a.teams)]
            acc_w = np.cumsum([prov.accounts[i].weight for i in accounts])
            account = accounts[int(np.searchsorted(acc_w, u[1] * acc_w[-1], side="right"))]
            acct = prov.accounts[account]
            apps = apps_for(_compatible(template, acct.teams))
            app = apps[int(u[2] * len(apps))]
            region = int(np.searchsorted(region_w, u[3] * region_w[-1], side="right"))
            schedule = OFFICE_HOURS if acct.env != "prod" and template.office_ok and u[4] < 0.5 else ALWAYS
            start, end = 0, self.cal.total_hours
            if u[5] < 0.1:
                start = int(u[6] * (total_days - 2)) * 24
            elif u[5] < 0.18:
                end = max(2, int(u[6] * total_days)) * 24
            cost = self.rows_of(tmpl, schedule, start, end) + self.months * len(self._new_pairs(tmpl, account))
            if self.rows + cost > budget:
                skips += 1
                continue
            skips = 0
            self.add(tmpl, account, region, app, schedule=schedule, start=start, end=end, role=FILLER)


def build_world(seed: int, cal: Calendar, rows: int, new_spend: list[NewService]) -> World:
    """The world for ``rows`` billing rows, with the planned new services as resources.

    Two passes: every provider's fixed core first, then each provider is filled up to its core
    plus its share (``Provider.row_share``) of the rows left. At realistic sizes the core is
    negligible and the shares hold; at small sizes every provider still fits its core.
    """
    months = len(cal.months)
    builder = EntryBuilder()
    covered: dict[int, list[int]] = {}
    orphans: list[int] = []
    sizers, specials = [], []
    for p, prov in enumerate(PROVIDERS):
        sizer = _Sizer(builder, cal, p, np.random.default_rng([seed, 21, p]))
        share = int(rows * prov.row_share)
        prod = [i for i, a in enumerate(prov.accounts) if a.env == "prod" and a.weight >= 1]
        nonprod = [i for i, a in enumerate(prov.accounts) if a.env != "prod"]
        special = months * (int(prov.support is not None) + int(prov.credit is not None))
        if p == 0 or rows / months >= COMMITMENT_MIN_ROWS_PER_MONTH:
            spec = prov.commitment
            tmpl = TEMPLATE_INDEX[(p, spec.template)]
            region = [r.id for r in prov.regions].index(spec.region)
            k = 1 + min(3, int(share / months // 6000))
            covered[p] = []
            for j in range(k):  # the last covered VM is stopped every night: the commitment is partly unused
                last = j == k - 1
                account = nonprod[0] if last else prod[j % len(prod)]
                app = apps_for(prov.accounts[account].teams)[0]
                covered[p].append(sizer.add(tmpl, account, region, app, schedule=NIGHTLY_STOP if last else ALWAYS)[0])
            special += months + (cal.total_hours // 24 if p else months)  # purchase + unused rows
        seed_account = prod[0]
        sizer.add(
            TEMPLATE_INDEX[(p, SEED_TEMPLATES[prov.key])],
            seed_account,
            0,
            apps_for(prov.accounts[seed_account].teams)[0],
        )
        orphan_tmpl = TEMPLATE_INDEX[(p, ORPHAN_TEMPLATES[prov.key])]
        for j in range(1 + min(9, share // 200_000)):
            account = (prod + nonprod)[j % len(prod + nonprod)]
            orphans += sizer.add(
                orphan_tmpl, account, 0, apps_for(prov.accounts[account].teams)[0], role=UNTAGGED_FILLER
            )
        for ns in new_spend:
            if ns.provider == p:
                template = TEMPLATES[ns.tmpl][1]
                teams = _compatible(template, prov.accounts[ns.account].teams) or template.teams
                sizer.add(ns.tmpl, ns.account, ns.region, apps_for(teams)[0], start=ns.start_h, role=NEW_SPEND)
        sizers.append(sizer)
        specials.append(special)
    core = tuple(s.rows + x for s, x in zip(sizers, specials, strict=True))
    spare = max(rows - sum(core), 0)
    for sizer, prov in zip(sizers, PROVIDERS, strict=True):
        sizer.fill(sizer.rows + int(spare * prov.row_share))
    expected = sum(s.rows + x for s, x in zip(sizers, specials, strict=True))
    entries = builder.freeze()
    entries.cols["tag_state"][np.asarray(orphans, dtype=np.int64)] = UNTAGGED
    world = World(seed, cal, entries, {}, expected_rows=expected, core_rows=core)
    for p, ids in covered.items():
        world.commitments[p] = _commitment(world, p, np.asarray(ids, dtype=np.int64))
    return world


def _commitment(world: World, p: int, covered: npt.NDArray[np.int64]) -> Commitment:
    prov = PROVIDERS[p]
    spec = prov.commitment
    e = world.entries
    list_u = int(e.cols["list_u"][covered[0]])
    rate_u = round(list_u * spec.rate_factor)
    e.cols["commit"][covered] = 0
    e.cols["rate_u"][covered] = rate_u
    capacity_u = int(sum(round(float(b) * 1e6) for b in e.cols["base"][covered]))
    region = int(e.cols["region"][covered[0]])
    acct = prov.accounts[spec.owner_account].id
    cid = spec.id_format.format(
        acct=acct,
        region=prov.regions[region].id,
        uid=guid(uid(world.seed, "order", p)),
        uid2=guid(uid(world.seed, "reservation", p)),
        name=spec.name,
    )
    return Commitment(
        p, covered, capacity_u, rate_u, spec.owner_account, region, int(e.cols["tmpl"][covered[0]]), cid, spec.name
    )

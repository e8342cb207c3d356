"""Cost allocation: hand-computed bills through the warehouse, invariants with hypothesis, the generated bill."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from spendscope.analysis.allocation import (
    AllocationRules,
    Dimension,
    ResourceRule,
    RuleSet,
    SharedCost,
    allocate,
    run_allocation,
)
from spendscope.collectors.focus import FocusFiles
from spendscope.generator import generate
from spendscope.pipeline import ingest

from ..conftest import rows, write_csv

D = Decimal
SUPPORT = {"ServiceName": "AWS Support (Business)", "ServiceCategory": "Management and Governance"}


def _row(i: int, cost: str, tags: str | None, *, effective: str | None = None, **over: Any) -> dict[str, Any]:
    row = rows(1, ResourceId=f"r-{i}", BilledCost=cost, EffectiveCost=effective or cost, Tags=tags)[0]
    row.update(over)
    return row


def _month(data: list[dict[str, Any]], month: int) -> list[dict[str, Any]]:
    """The same rows, billed in 2026-`month` (charge on the 5th)."""
    nxt = f"2026-{month + 1:02d}" if month < 12 else "2027-01"
    out = []
    for r in data:
        r = dict(r)
        r.update(
            BillingPeriodStart=f"2026-{month:02d}-01T00:00:00Z",
            BillingPeriodEnd=f"{nxt}-01T00:00:00Z",
            ChargePeriodStart=f"2026-{month:02d}-05T00:00:00Z",
            ChargePeriodEnd=f"2026-{month:02d}-05T01:00:00Z",
        )
        out.append(r)
    return out


# The hand-written bill (USD, one day, 2026-10-05). EffectiveCost = BilledCost except r4.
HAND_BILL = [
    _row(1, "10.00", '{"team": "payments", "env": "prod"}'),  # tags, clean
    _row(2, "2.00", '{"Team": "Payments", "env": "Prod"}'),  # key case and value case → payments / prod
    _row(3, "4.00", '{"owner": "search", "env": "staging"}'),  # owner is an alias of team
    _row(4, "6.00", None, effective="5.00", SubAccountId="999"),  # untagged, account 999 → data
    _row(5, "3.00", "{}", ResourceName="ml-train-7"),  # regex ^ml- → ml / dev
    _row(6, "1.00", None, ResourceName="mystery"),  # nothing matches → unallocated
    _row(7, "6.00", None, **SUPPORT, ServiceSubcategory="Support"),  # shared, split proportionally
]


def _hand_rules(**over: Any) -> RuleSet:
    base: dict[str, Any] = {
        "team": Dimension(tag_keys=["team", "owner"]),
        "environment": Dimension(tag_keys=["env"], value_aliases={"production": "prod"}),
        "account_teams": {"999": "data"},
        "resource_rules": [ResourceRule(pattern="^ml-", team="ml", environment="dev")],
        "shared": [SharedCost(name="support", service_names=["AWS Support (Business)"])],
    }
    base.update(over)
    return RuleSet(**base)


def _load(wh: duckdb.DuckDBPyConnection, tmp_path: Path, data: list[dict[str, Any]], name: str = "bill") -> None:
    ingest(wh, FocusFiles([str(write_csv(tmp_path / f"{name}.csv", data))], source=name))


def _by_team(frame: pl.DataFrame, column: str = "EffectiveCost") -> dict[str, Decimal]:
    agg = frame.group_by("team").agg(pl.col(column).sum())
    return {team: value.normalize() for team, value in agg.iter_rows()}


def test_hand_bill_aliases_account_map_regex_and_proportional_support(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    _load(wh, tmp_path, HAND_BILL)
    result = run_allocation(wh, AllocationRules(rule_sets=[_hand_rules()]))
    # Direct EffectiveCost: payments 10 + 2 = 12, search 4, data 5 (r4 amortized), ml 3, unallocated 1.
    # Support 6.00 split on direct EffectiveCost of allocated teams (12 + 4 + 5 + 3 = 24):
    #   payments 6 × 12/24 = 3.00, search 6 × 4/24 = 1.00, data 6 × 5/24 = 1.25, ml 6 × 3/24 = 0.75.
    assert _by_team(result.rows) == {
        "payments": D("15"),  # 12 + 3
        "search": D("5"),  # 4 + 1
        "data": D("6.25"),  # 5 + 1.25
        "ml": D("3.75"),  # 3 + 0.75
        "unallocated": D("1"),
    }
    # BilledCost: r4 bills 6.00, the split uses the same weights: data 6 + 1.25 = 7.25.
    assert _by_team(result.rows, "BilledCost") == {
        "payments": D("15"),
        "search": D("5"),
        "data": D("7.25"),
        "ml": D("3.75"),
        "unallocated": D("1"),
    }
    env = result.rows.group_by("environment").agg(pl.col("EffectiveCost").sum())
    assert {e: v.normalize() for e, v in env.iter_rows()} == {
        "prod": D("12"),  # r1 10 + r2 2 ('Prod' folded)
        "staging": D("4"),
        "dev": D("3"),  # regex rule
        "unallocated": D("12"),  # r4 5 + r6 1 + support 6 (untagged, its split keeps the charge's env)
    }
    shared = result.rows.filter(pl.col("shared"))
    assert shared["EffectiveCost"].sum() == D("6")
    assert set(shared["service"]) == {"AWS Support (Business)"}
    assert result.totals == {"USD": (D("32"), D("31"))}  # billed 10+2+4+6+3+1+6, effective 10+2+4+5+3+1+6
    assert result.unallocated_share == {"USD": pytest.approx(1 / 31)}
    stored = wh.execute(
        "SELECT team, sum(EffectiveCost) FROM allocated_daily WHERE run_id = $r GROUP BY 1", {"r": result.run_id}
    ).fetchall()
    assert {t: v.normalize() for t, v in stored} == _by_team(result.rows)
    assert wh.execute("SELECT status FROM analysis_runs WHERE run_id = $r", {"r": result.run_id}).fetchone() == (
        "succeeded",
    )


@pytest.mark.parametrize(
    ("shared", "expected"),
    [
        # even over the teams with direct cost (payments, search, data, ml): 6 / 4 = 1.50 each.
        (
            SharedCost(name="s", service_names=["AWS Support (Business)"], method="even"),
            {"payments": D("13.5"), "search": D("5.5"), "data": D("6.5"), "ml": D("4.5")},
        ),
        # fixed weights payments 1, platform 2: 6 × 1/3 = 2, 6 × 2/3 = 4 (platform has no direct cost).
        (
            SharedCost(
                name="s",
                service_names=["AWS Support (Business)"],
                method="fixed",
                weights={"payments": 1, "platform": 2},
            ),
            {"payments": D("14"), "search": D("4"), "data": D("5"), "ml": D("3"), "platform": D("4")},
        ),
        # proportional among the listed teams only (search 4, ml 3 of 7): 6 × 4/7 and 6 × 3/7.
        # 24/7 = 3.428571428571|43 → 3.428571428571; 18/7 = 2.571428571428|57 → 2.571428571429 (rounded) or
        # …428 (truncated); the remainder goes to the largest weight (search), so the two add up to 6.
        (
            SharedCost(name="s", service_names=["AWS Support (Business)"], teams=["search", "ml"]),
            None,
        ),
    ],
)
def test_each_split_method_by_hand(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, shared: SharedCost, expected: dict[str, Decimal] | None
) -> None:
    _load(wh, tmp_path, HAND_BILL)
    got = _by_team(run_allocation(wh, AllocationRules(rule_sets=[_hand_rules(shared=[shared])])).rows)
    if expected is None:
        assert got["payments"] == D("12") and got["data"] == D("5")
        assert got["search"] + got["ml"] == D("4") + D("3") + D("6")
        assert abs(got["ml"] - (D("3") + D("18") / D("7"))) <= D("1e-12")
        assert abs(got["search"] - (D("4") + D("24") / D("7"))) <= D("2e-12")
    else:
        assert got == {**expected, "unallocated": D("1")}


def test_even_split_remainder_goes_to_one_team(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = [
        _row(1, "1.00", '{"team": "a"}'),
        _row(2, "1.00", '{"team": "b"}'),
        _row(3, "1.00", '{"team": "c"}'),
        _row(4, "1.00", None, **SUPPORT),
    ]
    _load(wh, tmp_path, data)
    rules = AllocationRules(
        rule_sets=[RuleSet(shared=[SharedCost(name="s", service_names=[SUPPORT["ServiceName"]], method="even")])]
    )
    shared = run_allocation(wh, rules).rows.filter(pl.col("shared"))
    # 1.00 / 3 = 0.333333333333 each to 12 places; 1.00 − 3 × 0.333333333333 = 0.000000000001 goes to the
    # first team by (weight desc, name): a.
    assert dict(shared.select("team", "EffectiveCost").iter_rows()) == {
        "a": D("0.333333333334"),
        "b": D("0.333333333333"),
        "c": D("0.333333333333"),
    }


def test_effective_dated_rules_two_months(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    bill = HAND_BILL[:6]  # no support charge
    _load(wh, tmp_path, _month(bill, 10), "oct")
    _load(wh, tmp_path, _month(bill, 11), "nov")
    october = _hand_rules(
        valid_to=date(2026, 11, 1), team=Dimension(tag_keys=["team"]), account_teams={"999": "data"}, shared=[]
    )
    november = _hand_rules(valid_from=date(2026, 11, 1), account_teams={"999": "platform"}, shared=[])
    rules = AllocationRules(rule_sets=[november, october])
    oct_result = run_allocation(wh, rules, period="2026-10")
    nov_result = run_allocation(wh, rules, period="2026-11")
    # October: owner is not a team key yet, so r3 (4.00) is unallocated with r6 (1.00); 999 → data.
    assert _by_team(oct_result.rows) == {"payments": D("12"), "data": D("5"), "ml": D("3"), "unallocated": D("5")}
    # November: owner → search; 999 → platform.
    assert _by_team(nov_result.rows) == {
        "payments": D("12"),
        "search": D("4"),
        "platform": D("5"),
        "ml": D("3"),
        "unallocated": D("1"),
    }
    # Re-running October replaces only October's rows, with the same figures, under the new run.
    again = run_allocation(wh, rules, period="2026-10")
    stored = wh.execute(
        "SELECT strftime(billing_period_start, '%Y-%m'), run_id, count(*), sum(EffectiveCost) "
        "FROM allocated_daily GROUP BY 1, 2 ORDER BY 1"
    ).fetchall()
    assert stored == [
        ("2026-10", again.run_id, oct_result.rows.height, D("25")),  # 10+2+4+5+3+1
        ("2026-11", nov_result.run_id, nov_result.rows.height, D("25")),
    ]
    # A full run (period None) replaces everything, each month under its own rules.
    full = run_allocation(wh, rules)
    assert _by_team(full.rows.filter(pl.col("day") >= date(2026, 11, 1))) == _by_team(nov_result.rows)
    assert wh.execute("SELECT DISTINCT run_id FROM allocated_daily").fetchall() == [(full.run_id,)]


def test_days_outside_every_rule_set_are_kept_unallocated(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    rules = AllocationRules(rule_sets=[_hand_rules(valid_from=date(2027, 1, 1))])
    result = run_allocation(wh, rules)
    assert _by_team(result.rows) == {"unallocated": D("31")}
    assert result.unallocated_share == {"USD": 1.0}


def test_failed_run_is_recorded_and_keeps_previous_rows(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    first = run_allocation(wh, AllocationRules(rule_sets=[_hand_rules()]))
    # A pattern Python accepts but RE2 refuses (lookahead) fails in DuckDB.
    bad = AllocationRules(rule_sets=[_hand_rules(resource_rules=[ResourceRule(pattern="^(?=ml)", team="ml")])])
    with pytest.raises(Exception, match="resource rule"):
        run_allocation(wh, bad)
    runs = wh.execute("SELECT run_id, status FROM analysis_runs ORDER BY 1").fetchall()
    assert runs == [(first.run_id, "succeeded"), (first.run_id + 1, "failed")]
    assert wh.execute("SELECT DISTINCT run_id FROM allocated_daily").fetchall() == [(first.run_id,)]


def test_rule_validation() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        AllocationRules(rule_sets=[RuleSet(valid_to=date(2026, 11, 1)), RuleSet(valid_from=date(2026, 10, 1))])
    with pytest.raises(ValidationError, match="positive weights"):
        SharedCost(name="s", service_names=["x"], method="fixed")
    with pytest.raises(ValidationError, match="selects nothing"):
        SharedCost(name="s")
    with pytest.raises(ValidationError, match="not a regular expression"):
        ResourceRule(pattern="(", team="x")


EXAMPLE_TOML = """
[allocation]
unallocated = "unallocated"

[[allocation.rule_sets]]
valid_from = 2026-01-01
valid_to = 2026-11-01            # exclusive; omit for open-ended
account_teams = { "503912847765" = "payments", "acme-data-prod" = "data" }
account_environments = { "146820395172" = "dev" }

[allocation.rule_sets.team]
tag_keys = ["team", "owner"]     # matched case-insensitively: Team works too; first non-empty wins
value_aliases = { pay = "payments" }

[allocation.rule_sets.environment]
tag_keys = ["env", "environment"]
fold_case = true                 # Prod -> prod
value_aliases = { production = "prod" }

[[allocation.rule_sets.resource_rules]]
field = "ResourceName"           # or ResourceId
pattern = "^search-"
team = "search"

[[allocation.rule_sets.shared]]
name = "support"
service_subcategories = ["Support"]
method = "proportional"          # proportional | even | fixed
basis = "EffectiveCost"
scope = "provider"               # provider | all

[[allocation.rule_sets.shared]]
name = "shared-network"
service_names = ["Networking"]
method = "fixed"
weights = { platform = 3, data = 1 }

[[allocation.rule_sets]]
valid_from = 2026-11-01
"""


def test_example_toml_parses() -> None:
    rules = AllocationRules.model_validate(tomllib.loads(EXAMPLE_TOML)["allocation"])
    assert [rs.valid_from for rs in rules.rule_sets] == [date(2026, 1, 1), date(2026, 11, 1)]
    assert rules.rule_sets[0].shared[1].weights == {"platform": D(3), "data": D(1)}
    assert rules.tag_keys() == ["team", "owner", "env", "environment"]


# ---- invariants (pure: allocate over hand-built daily frames) ----

DAYS = [date(2026, 10, 1), date(2026, 10, 2), date(2026, 11, 1)]
MONEY = pl.Decimal(38, 12)
amounts = st.decimals(min_value=D("-50"), max_value=D("1000"), places=4, allow_nan=False, allow_infinity=False)
daily_row = st.fixed_dictionaries(
    {
        "day": st.sampled_from(DAYS),
        "provider": st.sampled_from(["AWS", "Microsoft"]),
        "sub_account": st.sampled_from(["1", "2", None]),
        "service": st.sampled_from(["EC2", "S3", "Support"]),
        "currency": st.sampled_from(["USD", "EUR", None]),
        "tag:team": st.sampled_from([None, "", "payments", "Payments ", "search", "ml"]),
        "tag:owner": st.sampled_from([None, "data", "search"]),
        "tag:env": st.sampled_from([None, "prod", "Prod", "dev"]),
        "resource_rule": st.sampled_from([None, 0]),
        "BilledCost": amounts,
        "EffectiveCost": amounts,
    }
)
shared_rules = st.sampled_from(
    [
        SharedCost(name="s", service_names=["Support"], method="proportional"),
        SharedCost(name="s", service_names=["Support"], method="proportional", basis="BilledCost", scope="all"),
        SharedCost(name="s", service_names=["Support"], method="even"),
        SharedCost(name="s", service_names=["Support"], method="even", teams=["ml", "nobody"], scope="all"),
        SharedCost(name="s", service_names=["Support"], method="fixed", weights={"a": 1, "b": D("2.5"), "c": 7}),
    ]
)


def _daily(data: list[dict[str, Any]]) -> pl.LazyFrame:
    frame = pl.DataFrame(
        data,
        schema={
            "day": pl.Date,
            "provider": pl.String,
            "sub_account": pl.String,
            "service": pl.String,
            "currency": pl.String,
            "tag:team": pl.String,
            "tag:owner": pl.String,
            "tag:env": pl.String,
            "resource_rule": pl.Int32,
            "BilledCost": MONEY,
            "EffectiveCost": MONEY,
        },
    )
    return frame.lazy().with_columns(
        billing_period_start=pl.col("day").dt.month_start().cast(pl.Datetime("us", "UTC")),
        account=pl.lit("payer"),
        service_category=pl.lit("Compute"),
        service_subcategory=pl.lit(None, pl.String),
        charge_category=pl.lit("Usage"),
        region=pl.lit("r1"),
    )


def _sums(frame: pl.DataFrame, *keys: str) -> dict[tuple[Any, ...], tuple[Decimal, Decimal]]:
    agg = frame.group_by(list(keys)).agg(pl.col("BilledCost").sum(), pl.col("EffectiveCost").sum())
    return {tuple(r[: len(keys)]): (r[-2], r[-1]) for r in agg.iter_rows()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(daily_row, min_size=1, max_size=25),
    shared=shared_rules,
    split_month=st.booleans(),
)
def test_allocation_conserves_money_and_leaves_nothing_nowhere(
    data: list[dict[str, Any]], shared: SharedCost, split_month: bool
) -> None:
    common: dict[str, Any] = {
        "team": Dimension(tag_keys=["team", "owner"]),
        "environment": Dimension(tag_keys=["env"]),
        "account_teams": {"1": "search"},
        "resource_rules": [ResourceRule(pattern="x", team="ml", environment="dev")],
        "shared": [shared],
    }
    if split_month:  # two rule sets, the second without the owner alias; resource rule 0 belongs to the first
        rule_sets = [
            RuleSet(valid_to=date(2026, 10, 2), **common),
            RuleSet(
                **{
                    **common,
                    "valid_from": date(2026, 10, 2),
                    "team": Dimension(tag_keys=["team"]),
                    "resource_rules": [],
                }
            ),
        ]
    else:
        rule_sets = [RuleSet(**common)]
    rules = AllocationRules(rule_sets=rule_sets)
    daily = _daily(data)
    out = allocate(daily, rules).collect()
    source = daily.collect()
    # Money per currency and per (currency, day) is conserved exactly, for both cost columns.
    assert _sums(out, "currency") == _sums(source, "currency")
    assert _sums(out, "currency", "day") == _sums(source, "currency", "day")
    # The shared split conserves the shared charges (per currency and day).
    support = source.filter(pl.col("service") == "Support")
    assert _sums(out.filter(pl.col("shared")), "currency", "day") == _sums(support, "currency", "day")
    # Nothing lands nowhere: every row has a team and an environment.
    assert out["team"].null_count() == 0 and out["environment"].null_count() == 0
    assert "" not in set(out["team"])
    # Values are folded: no 'Payments ' or 'Prod' survives.
    assert not {"Payments ", "Payments", "Prod"} & (set(out["team"]) | set(out["environment"]))
    if shared.method == "fixed":
        assert set(out.filter(pl.col("shared"))["team"]) <= {"a", "b", "c"}


@settings(max_examples=40, deadline=None)
@given(
    amount=st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2),
    weights=st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3),
        min_size=1,
    ),
)
def test_fixed_split_is_proportional_to_weights(amount: Decimal, weights: dict[str, Decimal]) -> None:
    row = {"day": DAYS[0], "provider": "AWS", "sub_account": None, "service": "Support", "currency": "USD"}
    row |= {"tag:team": None, "tag:owner": None, "tag:env": None, "resource_rule": None}
    daily = _daily([{**row, "BilledCost": amount, "EffectiveCost": amount}])
    rules = AllocationRules(
        rule_sets=[
            RuleSet(
                environment=Dimension(tag_keys=["env"]),
                shared=[SharedCost(name="s", service_names=["Support"], method="fixed", weights=weights)],
            )
        ]
    )
    out = allocate(daily, rules).collect()
    got = dict(out.select("team", "EffectiveCost").iter_rows())
    assert sum(got.values()) == amount
    total = sum(weights.values())
    for team, w in weights.items():
        assert abs(got[team] - amount * w / total) <= D("1e-11")


# ---- the generated bill ----


def test_generated_bill_totals_match_billing(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    gen = generate(tmp_path / "gen", rows=20000, seed=11)
    for f in gen.files:
        ingest(wh, FocusFiles([str(f)], source=str(f)))
    rules = AllocationRules(
        rule_sets=[
            RuleSet(
                team=Dimension(tag_keys=["team", "owner"]),
                shared=[SharedCost(name="support", service_subcategories=["Support"])],
            )
        ]
    )
    result = run_allocation(wh, rules)
    expected = {
        cur: (billed, effective)
        for cur, billed, effective in wh.execute(
            "SELECT BillingCurrency, sum(BilledCost), sum(EffectiveCost) FROM billing GROUP BY 1"
        ).fetchall()
    }
    assert result.totals == expected
    stored = dict(
        (
            (cur, (b, e))
            for cur, b, e in wh.execute(
                "SELECT currency, sum(BilledCost), sum(EffectiveCost) FROM allocated_daily GROUP BY 1"
            ).fetchall()
        )
    )
    assert stored == expected
    # Untagged share: EffectiveCost without any team-ish key (team, Team, owner) over the total.
    untagged = dict(
        wh.execute(
            "SELECT BillingCurrency, sum(EffectiveCost) FILTER (WHERE coalesce(json_extract_string(Tags, '/team'), "
            "json_extract_string(Tags, '/Team'), json_extract_string(Tags, '/owner')) IS NULL) / sum(EffectiveCost) "
            "FROM billing GROUP BY 1"
        ).fetchall()
    )
    assert set(result.unallocated_share) == set(untagged) == {"USD", "EUR"}
    for cur, share in result.unallocated_share.items():
        assert 0 < share <= float(untagged[cur]) + 1e-12, (cur, share, untagged[cur])
    # The support charge (USD, untagged) was split, so USD's unallocated share is below its untagged share.
    assert result.unallocated_share["USD"] < float(untagged["USD"])
    assert result.rows.filter(pl.col("shared"))["EffectiveCost"].sum() > 0
    assert result.rows["team"].null_count() == 0
    assert result.periods == [datetime(2026, 10, 1, tzinfo=UTC)]

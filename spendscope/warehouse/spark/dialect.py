"""The warehouse SQL in Spark's dialect: translated from the DuckDB text by sqlglot, or a hand-written twin.

``spark_sql(name, **format_args)`` returns the Spark SQL for ``spendscope/sql/<name>.sql``. Where a
``<name>.spark.sql`` file sits beside it, that file is used (the statements sqlglot cannot translate
faithfully; each twin has a test proving it agrees with its DuckDB original). Otherwise the DuckDB text
is translated with ``sqlglot.transpile(read="duckdb", write="spark")`` plus the rewrites below, which
carry DuckDB's *meaning* where the two engines' functions share a name but not their semantics:

- ``a / b`` is IEEE DOUBLE division in DuckDB (x/0 is ±inf, 0/0 NaN), where Spark's ANSI ``/`` keeps
  decimals (with another scale) and fails on zero: both sides are cast to DOUBLE and a zero divisor gives
  ``a * Infinity``.
- ``list[i]`` (1-based, NULL past the end) → ``try_element_at(list, i)`` (Spark's ``[]`` is 0-based and
  fails past the end under ANSI); ``map_extract_value(m, k)`` → ``try_element_at(m, k)``.
- ``CAST(x AS JSON)`` keeps the JSON text as a string; ``json_merge_patch('{}', json_object(k, v, …))``
  (an object without its null members) → ``to_json(named_struct(k, v, …))`` (Spark drops null fields).
- ``json_valid(x)`` → ``try_parse_json(x) IS NOT NULL``; ``json_type(x)`` → the leading word of
  ``schema_of_variant`` (``OBJECT``/``ARRAY`` agree with DuckDB; scalar type names do not).
- A table function over a bound file (``read_csv($categories, …)``, ``read_parquet($path)``) becomes the
  table named after the parameter (``categories``): the caller registers that temp view.
- ``WITH x AS [NOT] MATERIALIZED`` (a DuckDB plan hint, no effect on results) loses the hint.
- ``$name`` parameters become Spark's named parameter markers ``:name`` (``spark.sql(text, args=...)``).
- ``regexp_replace`` without the ``'g'`` flag replaces the first match in DuckDB and every match in Spark:
  accepted only for a pattern anchored with ``^`` (one match at most), refused otherwise.

DuckDB functions with no faithful rewrite here (``list_sum``, ``len`` of a list, a bare ``json_object``
that keeps null members, ``strptime`` with ``%z``…) raise ``SparkTranslationError`` naming the file: such
a statement needs a ``.spark.sql`` twin. ``{name}`` format arguments are DuckDB SQL too (the subqueries
collectors build from a file's columns) and are translated the same way.
"""

from __future__ import annotations

from typing import Final

import sqlglot
from sqlglot import exp

from spendscope import sql
from spendscope.errors import SchemaMismatch

__all__ = ["SparkTranslationError", "spark_sql", "translate"]

_TABLE_FUNCTIONS: Final = frozenset({"read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto"})
_UNSUPPORTED: Final = frozenset(
    {"list_sum", "list_aggregate", "list_reduce", "json_merge_patch", "json_extract", "json_extract_string", "epoch"}
)


class SparkTranslationError(SchemaMismatch):
    """A DuckDB statement that cannot be translated to Spark faithfully: it needs a ``.spark.sql`` twin."""


def spark_sql(name: str, **format_args: str) -> str:
    """Spark SQL for ``spendscope/sql/<name>.sql``: its ``.spark.sql`` twin, else the translated DuckDB text.

    ``format_args`` fill ``{key}`` slots (DuckDB SQL, translated here); parameters stay named markers.
    """
    override = sql.spark_override(name)
    if override is not None:
        text = override
        for key, value in format_args.items():
            text = text.replace("{" + key + "}", translate(value, source=f"{name}.sql {{{key}}}"))
        return text
    text = sql.load(name)
    for key, value in format_args.items():
        text = text.replace("{" + key + "}", value)
    return translate(text, source=f"sql/{name}.sql")


def translate(duckdb_sql: str, *, source: str = "query") -> str:
    """One DuckDB statement in Spark's dialect (see module doc); SparkTranslationError naming ``source``."""
    try:
        tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise SparkTranslationError(f"sqlglot cannot parse it: {str(exc).splitlines()[0]}", source=source) from exc
    for _ in range(8):  # a rewrite can expose another inside the arguments it moved: repeat to a fixed point
        before = tree.sql("duckdb")
        tree = tree.transform(_rewrite, copy=False)
        if tree.sql("duckdb") == before:
            break
    if tree.find(exp.ReadCSV) is not None:
        raise SparkTranslationError("read_csv() of a literal path: bind it as a $parameter table", source=source)
    for node in tree.find_all(exp.Anonymous):
        fn = str(node.this).lower()
        if fn in _UNSUPPORTED or fn in _TABLE_FUNCTIONS:
            raise SparkTranslationError(f"{fn}() has no faithful Spark translation: write a .spark.sql", source=source)
    for rr in tree.find_all(exp.RegexpReplace):
        flags, pattern = rr.args.get("modifiers"), rr.args.get("expression")
        global_flag = isinstance(flags, exp.Literal) and "g" in str(flags.this)
        anchored = isinstance(pattern, exp.Literal) and str(pattern.this).startswith("^")
        if not global_flag and not anchored:  # DuckDB replaces the first match only, Spark every match
            raise SparkTranslationError(
                f"{rr.sql('duckdb')[:60]!r} replaces the first match only: write a .spark.sql", source=source
            )
    for kind in (exp.Length, exp.StrToTime, exp.JSONObject):
        found = tree.find(kind)
        if isinstance(found, exp.StrToTime) and "%z" not in found.args["format"].sql("duckdb"):
            continue  # strptime without a UTC offset: to_timestamp with the same pattern
        if found is not None:
            raise SparkTranslationError(
                f"{found.sql('duckdb')[:60]!r} has no faithful Spark translation: write a .spark.sql", source=source
            )
    return tree.sql(dialect="spark", pretty=True)


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _double(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build("DOUBLE"))


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
        fn = node.this
        first = fn.this if isinstance(fn.this, exp.Expression) else (fn.expressions[0] if fn.expressions else None)
        if isinstance(first, exp.Placeholder):
            table = exp.to_table(str(first.this))
            alias = node.args.get("alias")
            if alias is not None:
                table.set("alias", alias)
            return table
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # DuckDB's [NOT] MATERIALIZED is a plan hint Spark has no syntax for
        return node
    if isinstance(node, exp.Div):  # IEEE division, as DuckDB's: x/0 = ±inf, 0/0 = NaN (Spark ANSI would fail)
        a, b = _double(node.this), _double(node.expression)
        inf = exp.Cast(this=exp.Literal.string("Infinity"), to=exp.DataType.build("DOUBLE"))
        by_zero = exp.EQ(this=b.copy(), expression=exp.Literal.number(0))
        plain = _call("try_divide", a.copy(), b)  # not a Div: the fixed-point loop leaves it alone
        return exp.Case(ifs=[exp.If(this=by_zero, true=exp.Mul(this=a, expression=inf))], default=plain)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and not index.is_string:
            return _call("try_element_at", node.this, exp.Literal.number(int(index.this) + 1))
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        args = node.expressions
        if name == "map_extract_value" and len(args) == 2:
            return _call("try_element_at", *args)
        if name == "json_valid" and len(args) == 1:
            return exp.Not(this=exp.Is(this=_call("try_parse_json", args[0]), expression=exp.Null()))
        if name == "json_merge_patch" and len(args) == 2 and isinstance(args[1], exp.JSONObject):
            base = args[0]
            if isinstance(base, exp.Literal) and base.is_string and base.this == "{}":
                pairs: list[exp.Expression] = []
                for kv in args[1].expressions:
                    pairs += [kv.this, kv.expression]
                return _call("to_json", _call("named_struct", *pairs))
    if isinstance(node, exp.JSONType):
        schema = _call("schema_of_variant", _call("try_parse_json", node.this))
        word = _call("regexp_extract", schema, exp.Literal.string("^([A-Za-z]+)"), exp.Literal.number(1))
        return exp.Upper(this=word)
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
        return exp.Cast(this=node.this, to=exp.DataType.build("STRING"))
    return node

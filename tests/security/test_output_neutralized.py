"""Text from a bill is inert in every output: HTML/JS escaped in the report, spreadsheet formulas neutralized
(a leading ') in the report's CSV and XLSX and in `costs --format csv`."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from spendscope.cli import app

from ..conftest import rows, write_csv

runner = CliRunner()

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
CMD = "@SUM(1+1)*cmd|' /C calc'!A0"


def test_hostile_text_is_inert_in_report_csv_and_xlsx(tmp_path: Path, figures: dict[str, str]) -> None:
    data = rows(
        3,
        Tags=lambda i: json.dumps({"team": [SCRIPT, FORMULA, CMD][i], "env": "prod"}),
        ServiceName=lambda i: [FORMULA, SCRIPT, "Amazon EC2"][i],
        BilledCost=lambda i: f"{i + 1}.00",
        EffectiveCost=lambda i: f"{i + 1}.00",
    )
    bill = write_csv(tmp_path / "oct.csv", data)
    wh = ["--warehouse", str(tmp_path / "wh.duckdb")]
    for args in (["ingest", "focus", str(bill), "--source", "s"], ["analyze", "--jobs", "allocation"]):
        result = runner.invoke(app, [*wh, *args])
        assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = runner.invoke(app, [*wh, "report", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    def cells(text: str) -> list[str]:
        return [c for row in csv.reader(io.StringIO(text)) for c in row]

    result = runner.invoke(app, [*wh, "costs", "--by", "tag:team,ServiceName", "--format", "csv"])
    assert result.exit_code == 0, result.output
    for name, found in {
        "costs --format csv": cells(result.stdout),
        "costs_by_team.csv": cells((out / "costs_by_team.csv").read_text(encoding="utf-8")),
    }.items():
        hostile = [c for c in found if FORMULA.lower() in c.lower() or CMD.lower() in c.lower()]  # teams fold case
        assert hostile, name  # the hostile values are there …
        assert all(c.startswith("'") for c in hostile), (name, hostile)  # … and inert
    with zipfile.ZipFile(out / "report.xlsx") as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
    assert "<f>" not in xml  # no cell is a formula
    assert "'=hyperlink" in xml.replace("&quot;", '"').lower()
    figures["hostile text outputs checked"] = "report.html, report.xlsx, costs_by_team.csv, costs --format csv"

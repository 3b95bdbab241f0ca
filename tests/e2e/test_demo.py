"""The demo's own pieces: the sandbox it starts by CLI, and its closing table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from scripts.demo import intercom_sandbox, print_kpis, print_tables
from testbed.intercom import SandboxClient
from testbed.pipeline import RunResult, TableCount


def test_the_demo_sandbox_serves_on_loopback_and_stops_even_when_the_demo_fails(
    tmp_path: Path,
):
    with (
        pytest.raises(RuntimeError, match="demo failed here"),
        intercom_sandbox(tmp_path / "sandbox.log") as url,
    ):
        assert url.startswith("http://127.0.0.1:")
        assert SandboxClient(url, timeout=10).health()["ok"] is True
        raise RuntimeError("demo failed here")
    with pytest.raises(requests.ConnectionError):
        SandboxClient(url, timeout=10).health()


def test_the_closing_table_shows_rows_per_run_new_rows_deletions_and_records_read(capsys):
    before = {"CONTACTS": TableCount(rows=100, deleted=0), "CONVERSATIONS": TableCount(20, 1)}
    after = {
        "CONTACTS": TableCount(rows=103, deleted=0),
        "CONVERSATIONS": TableCount(22, 3),
        "TICKETS": TableCount(5, 0),
    }
    second = RunResult(returncode=0)
    second.records.update({"contacts": 7, "conversations": 6, "tickets": 5})

    print_tables(before, after, second)

    rows = {
        line.split()[0]: [figure.strip() for figure in re.split(r" {2,}", line.strip())[1:]]
        for line in capsys.readouterr().out.splitlines()
    }
    assert rows["CONTACTS"] == ["100", "103", "+3", "+0", "7"]
    assert rows["CONVERSATIONS"] == ["20 (1 del)", "22 (3 del)", "+2", "+2", "6"]
    assert rows["TICKETS"] == ["0", "5", "+5", "+0", "5"]


def test_the_kpi_table_shows_each_teams_figures_and_their_change(capsys):
    before = {"Support": (10, 12.0, 300.0, 4.5, 2, 3), "no team": (4, None, None, None, 0, 4)}
    after = {"Support": (12, 11.5, 300.0, 4.0, 3, 5), "no team": (4, None, None, None, 0, 4)}

    print_kpis("KPIs", after, before)

    lines = capsys.readouterr().out.splitlines()[2:]  # the title and the header
    rows = {
        cells[0]: cells[1:] for line in lines[1:] if (cells := re.split(r" {2,}", line.strip()))
    }
    assert rows["Support"] == ["12 (+2)", "11.5 (-0.5)", "300", "4 (-0.5)", "3 (+1)", "5 (+2)"]
    assert rows["no team"] == ["4", "-", "-", "-", "0", "4"]

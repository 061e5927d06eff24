"""`rtcheck audit` (issue #14): a generated archive gives the designed counts per verdict,
broken plans are recorded with their errors, a re-run skips everything, a run killed with
kill -9 and resumed holds the same rows as an uninterrupted one, and a Dask LocalCluster
gives the same ledger as --jobs 1."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_audit_archive import EXPECTED, SPINE, make_archive

from rtcheck.audit import Ledger, read_summary, run_audit
from rtcheck.cli import main

#: The designed archive: 3 passing plans, 2 failing, and one of each broken kind.
KINDS = ["pass", "fail", "pass", "seven_fractions", "no_dose", "pass", "truncated_dose", "fail"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The designed archive (built once for the module)."""
    root = tmp_path_factory.mktemp("audit") / "archive"
    make_archive(root, KINDS)
    return root


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory) -> Path:
    """The ledger of one uninterrupted run with --jobs 1."""
    ledger = tmp_path_factory.mktemp("reference") / "ledger.sqlite"
    outcome = run_audit(archive, ledger, jobs=1)
    assert outcome.found == len(KINDS) and outcome.skipped == 0
    return ledger


def ledger_rows(ledger: Path) -> dict[str, list[tuple]]:
    """Every row of a ledger, sorted, without what differs between runs (time taken, when)."""
    db = sqlite3.connect(ledger)
    try:
        plans = db.execute("SELECT * FROM plan_checks").fetchall()
        columns = [d[0] for d in db.execute("SELECT * FROM plan_checks LIMIT 0").description]
        keep = [i for i, c in enumerate(columns) if c not in ("seconds", "recorded_at")]
        return {
            "plan_checks": sorted(tuple(row[i] for i in keep) for row in plans),
            "plan_inputs": sorted(db.execute("SELECT * FROM plan_inputs").fetchall()),
            "constraint_results": sorted(db.execute("SELECT * FROM constraint_results").fetchall()),
        }
    finally:
        db.close()


def test_designed_counts_per_verdict(reference):
    expected = Counter(EXPECTED[kind][0] for kind in KINDS)
    summary = read_summary(reference)
    assert {c.verdict: c.plans for c in summary.by_verdict} == dict(expected)
    assert summary.plans == len(KINDS)
    # the SABR plans fail on the oesophagus, as sample_dicom/expected.yaml says
    assert {(d.organ, d.level) for d in summary.deviations} == {("Esophagus", "FAIL")}
    assert all(d.plans == KINDS.count("fail") for d in summary.deviations)


def test_broken_plans_are_recorded_with_their_errors(reference):
    db = sqlite3.connect(reference)
    rows = db.execute("SELECT plan_label, verdict, exit_code, error FROM plans WHERE verdict = 'NOT_CHECKED'").fetchall()
    by_kind = {label.split()[-1][:2]: (code, error) for label, _, code, error in rows}
    assert by_kind["se"][0] == 2 and "no constraint table for 7 fraction(s)" in by_kind["se"][1]
    assert by_kind["no"][0] == 3 and "no RTDOSE" in by_kind["no"][1] and "RP." in by_kind["no"][1]
    assert by_kind["tr"][0] == 3 and "truncated or corrupt" in by_kind["tr"][1] and "RD." in by_kind["tr"][1]
    checked = db.execute("SELECT count(*) FROM plans WHERE error IS NULL").fetchone()[0]
    assert checked == KINDS.count("pass") + KINDS.count("fail")
    # each checked plan has every row of its table; the broken ones have none
    per_plan = dict(db.execute("SELECT plan_key, count(*) FROM constraint_results GROUP BY plan_key").fetchall())
    assert len(per_plan) == checked and min(per_plan.values()) > 40
    review = {r.plan_label.split()[-1][:2] for r in read_summary(reference).review}
    assert review == {"se", "no", "tr", "fa"}


def test_rerun_skips_everything_and_changes_nothing(archive, reference, tmp_path):
    ledger = tmp_path / "copy.sqlite"
    with sqlite3.connect(reference) as source, sqlite3.connect(ledger) as target:
        source.backup(target)
    before = sqlite3.connect(ledger).execute("SELECT plan_key, recorded_at FROM plan_checks").fetchall()
    outcome = run_audit(archive, ledger, jobs=2)
    assert (outcome.found, outcome.skipped, outcome.checked, outcome.not_checked) == (len(KINDS), len(KINDS), 0, 0)
    assert outcome.exit_code == 3  # the same exit code as the first run: the plans recorded count
    assert sqlite3.connect(ledger).execute("SELECT plan_key, recorded_at FROM plan_checks").fetchall() == before


def test_parallel_run_gives_the_same_ledger(archive, reference, tmp_path):
    outcome = run_audit(archive, tmp_path / "jobs2.sqlite", jobs=2)
    assert outcome.exit_code == 3 and outcome.checked == 5 and outcome.not_checked == 3
    assert ledger_rows(tmp_path / "jobs2.sqlite") == ledger_rows(reference)


def test_a_changed_file_is_checked_again(tmp_path):
    root = tmp_path / "archive"
    made = make_archive(root, ["pass", "pass"])
    ledger = tmp_path / "ledger.sqlite"
    run_audit(root, ledger, jobs=1)
    dose = next(made[1][1].glob("RD.*"))
    dose.write_bytes(dose.read_bytes()[:-2])  # cut inside the pixel data
    outcome = run_audit(root, ledger, jobs=1)
    assert (outcome.skipped, outcome.not_checked, outcome.exit_code) == (1, 1, 3)
    assert read_summary(ledger).plans == 2  # replaced, never duplicated


def test_kill_9_mid_run_then_resume_gives_the_rows_of_an_uninterrupted_run(archive, reference, tmp_path):
    ledger = tmp_path / "killed.sqlite"
    command = [sys.executable, "-c", "from rtcheck.cli import main; main()", "audit", str(archive),
               "--ledger", str(ledger), "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recorded = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if ledger.exists():
                try:
                    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
                        recorded = db.execute("SELECT count(*) FROM plan_checks").fetchone()[0]
                except sqlite3.OperationalError:
                    recorded = 0  # the schema is being created
                if recorded >= 2:
                    break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert 2 <= recorded < len(KINDS), "the audit was not killed mid-run"
    with Ledger(ledger) as book:  # what the killed run left: whole plans only
        partial = book.stored_keys()
    assert 2 <= len(partial) < len(KINDS)
    outcome = run_audit(archive, ledger, jobs=2)
    assert outcome.skipped == len(partial) and outcome.skipped + outcome.checked + outcome.not_checked == len(KINDS)
    assert ledger_rows(ledger) == ledger_rows(reference)


def test_dask_local_cluster_gives_the_ledger_of_jobs_1(archive, reference, tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install 'rtcheck[dask]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        outcome = run_audit(archive, tmp_path / "dask.sqlite", scheduler=cluster.scheduler_address)
    assert outcome.exit_code == 3 and outcome.found == len(KINDS)
    assert ledger_rows(tmp_path / "dask.sqlite") == ledger_rows(reference)


def test_command_line_audit_and_report(archive, tmp_path):
    runner = CliRunner()
    ledger = tmp_path / "cli.sqlite"
    result = runner.invoke(main, ["audit", str(archive), "--ledger", str(ledger), "--jobs", "2"])
    assert result.exit_code == 3, result.output
    assert f"{len(KINDS)} plans found" in result.stderr and "0/8 checked" in result.stderr
    assert "8/8 checked (2 not passed, 3 not checked)" in result.stderr
    text = runner.invoke(main, ["audit-report", str(ledger)])
    assert text.exit_code == 0 and "NOT CHECKED    3" in text.stdout and "Esophagus D0.035cc: FAIL" in text.stdout
    document = json.loads(runner.invoke(main, ["audit-report", str(ledger), "--format", "json"]).stdout)
    assert {c["verdict"]: c["plans"] for c in document["by_verdict"]}["PASS"] == 3
    csv_text = runner.invoke(main, ["audit-report", str(ledger), "--format", "csv"]).stdout
    assert csv_text.startswith("section,verdict,organ") and csv_text.count("\nreview,") == 5
    page = runner.invoke(main, ["audit-report", str(ledger), "--format", "html"]).stdout
    assert page.startswith("<!DOCTYPE html>") and "Plans needing review" in page


def test_an_archive_of_passing_plans_exits_0_and_one_failing_plan_1(tmp_path):
    root = tmp_path / "archive"
    make_archive(root, ["pass"])
    assert run_audit(root, tmp_path / "a.sqlite", jobs=1).exit_code == 0
    make_archive(tmp_path / "more", ["pass", "fail"])
    assert run_audit(tmp_path / "more", tmp_path / "b.sqlite", jobs=1).exit_code == 1


def test_a_ledger_of_another_schema_or_another_file_is_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    result = CliRunner().invoke(main, ["audit", str(SPINE), "--ledger", str(other)])
    assert result.exit_code == 3 and "not an audit ledger" in result.stderr
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    result = CliRunner().invoke(main, ["audit-report", str(newer)])
    assert result.exit_code == 3 and "schema version 99" in result.stderr


def test_a_plan_is_recorded_whole_or_not_at_all(tmp_path, reference):
    """A failure in the middle of recording a plan (here a duplicate row) leaves nothing of it."""
    import dataclasses

    from rtcheck.audit.fingerprint import Fingerprint

    with Ledger(reference) as book:
        keys = book.stored_keys()
    ledger = tmp_path / "atomic.sqlite"
    from rtcheck.audit.worker import ConstraintRecord, PlanRecord

    row = ConstraintRecord(position=0, organ="SpinalCord", structure="Cord", metric="D0.035cc", comparison="<",
                           limit=14.0, unit="Gy", kind="hard", value=8.1, uncertainty=0.1, margin=5.9, level="PASS",
                           reason="")
    record = PlanRecord(
        key="1.2.3", plan_uid="1.2.3", plan_label="x", patient_id="p", fractions=1,
        fingerprint=Fingerprint(inputs=(), inputs_sha256="0" * 64, rtcheck_version="0", table_sha256=None),
        table_name="t", table_sha256="s", selected_table_sha256=None, verdict="PASS", exit_code=0, error=None,
        seconds=0.1, constraints=(row, row),
    )
    with Ledger(ledger) as book:
        with pytest.raises(sqlite3.IntegrityError):
            book.record(record)
        assert book.stored_keys() == {}
        book.record(dataclasses.replace(record, constraints=(row,)))
        assert list(book.stored_keys()) == ["1.2.3"]
    assert keys  # the reference ledger was not touched


def test_the_command_line_offers_every_summary_format():
    from rtcheck.cli import audit as audit_cli
    from rtcheck.report import audit as audit_report

    assert set(audit_cli.FORMATS) == set(audit_report.FORMATS)

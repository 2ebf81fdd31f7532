"""The matrix spread over several machines through pytest-xdist's gateways, by the README's
recipe: its own command line, with two directories of this machine as the hosts, reached
through a stand-in for ssh that runs the command in the host's directory; its report holds the
verdicts the same cases get here. Each worker collects the test files of the checkout it was
sent, and pytest fails the collection ("import file mismatch") if their modules came from
anywhere else, so a green run shows the copy was used."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from parity_tests.engine import report
from parity_tests.engine.judge import judge_case
from parity_tests.engine.registry import cases
from parity_tests.suite.pairs import PAIRS

ROOT = Path(__file__).resolve().parents[2]
TERMS = ("Linear-float", "N4", "seed0")  # a few cases of both dtypes: the gateways are the subject
SELECTION = " and ".join(TERMS)

FAKE_SSH = """#!/bin/sh
# ssh -C HOST COMMAND: COMMAND run in HOST's directory of this machine
shift; host=$1; shift
cd "{hosts}/$host" && exec sh -c "$*"
"""


def recipe() -> list[str]:
    text = (ROOT / "README.md").read_text()
    command = next(block for block in re.findall(r"^```\w*\n(.*?)^```", text, re.S | re.M) if "--tx ssh=" in block)
    return shlex.split(command.replace("\\\n", " "))


def on_hosts(argv: list[str], hosts: Path) -> list[str]:
    """The recipe's command on this machine: user@hostA is the directory hosts/hostA, the remote
    environment this one's Python, $PWD this checkout."""
    resolved = []
    for arg in argv:
        arg = arg.replace("$PWD", str(ROOT))
        if arg.startswith("ssh="):
            host = arg.split("//")[0].split("@")[-1]
            (hosts / host).mkdir(parents=True)
            arg = f"ssh={host}//python={sys.executable}"
        resolved.append(arg)
    assert resolved[0] == "pytest", resolved
    return [sys.executable, "-m", *resolved]


def verdicts(report: Path) -> dict[str, dict]:
    return {case["case"]: case for case in json.loads((report / "parity.json").read_text())}


def run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_recipe_spreads_the_matrix_over_two_hosts_with_a_local_run_s_verdicts(tmp_path):
    hosts, ssh = tmp_path / "hosts", tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text(FAKE_SSH.format(hosts=hosts))
    ssh.chmod(0o755)
    env = os.environ | {"PATH": f"{ssh.parent}{os.pathsep}{os.environ['PATH']}"}
    options = ["-k", SELECTION, "-p", "no:randomly", "-p", "no:cacheprovider"]

    run(on_hosts(recipe(), hosts) + options + ["--parity-report", str(tmp_path / "distributed")], env)

    sent = sorted(p.name for p in (hosts / "hostA" / "pyexecnetcache").iterdir())
    assert {"conftest.py", "parity_tests", "pyproject.toml", "reference", "torch_impl"} <= set(sent), sent
    # the same cases judged here, in this process, as the report keeps them (a JSON round trip)
    local = {case.id: json.loads(json.dumps(report.case_row(case, judge_case(case))))
             for case in cases(PAIRS) if all(term in case.id for term in TERMS)}
    assert len(local) >= 8 and all(case["passed"] for case in local.values())
    assert verdicts(tmp_path / "distributed") == local

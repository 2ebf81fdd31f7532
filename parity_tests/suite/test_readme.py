"""The README is the front door: short, its first code block the install, its examples run
and print what it says they print, every link it gives leads somewhere, and no date."""

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)


def numbers_blurred(text: str) -> str:
    """Headroom figures are rounding; what is printed otherwise must be the same."""
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)


def test_the_readme_is_short_and_carries_no_date():
    assert len(README.encode()) <= 15_000
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", README)


def test_the_first_code_block_is_the_install_and_the_next_the_five_line_example():
    (shell, install), (python, example), (_, printed) = BLOCKS[:3]
    assert shell == "sh" and install.startswith("pip install ")
    assert python == "python" and len(example.strip().splitlines()) == 5


def test_the_examples_run_and_print_what_the_readme_shows():
    (_, example), (_, printed), (_, matrix) = [block for block in BLOCKS[1:4]]
    namespace = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(example, namespace)
    assert numbers_blurred(out.getvalue()) == numbers_blurred(printed)
    exec(matrix, namespace)  # the matrix example, after the first: it declares a pair of the same layer
    from parity_tests import assert_pair

    # 4 configurations x 2 dtypes x 3 seeds, one seed of the wide inputs each, 4 after a float64 use
    assert assert_pair(namespace["TANH"]) == 4 * 2 * 3 + 4 * 2 + 4
    assert [p.name for p in namespace["test_tanh"].pairs] == ["tanh"]


def test_the_engine_example_runs_and_prints_what_the_readme_shows():
    index = next(i for i, (_, code) in enumerate(BLOCKS) if "Engine(" in code)
    (python, example), (_, printed) = BLOCKS[index:index + 2]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(example, {})
    assert python == "python" and numbers_blurred(out.getvalue()) == numbers_blurred(printed)


def test_every_link_leads_to_a_file():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target
    for doc in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name}: {target}"

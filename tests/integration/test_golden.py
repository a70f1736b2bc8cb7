"""The outputs recorded before the engine was rebuilt (tests/golden/record.py) still come out: every view after a
run on raw/, the loads, issues and rows of every bad-input and reader fixture, and a 1M-row ILOSTAT file clean
and with 1% broken rows. A deliberate change of behaviour is recorded again (`python tests/golden/record.py`)
in the commit that makes it, saying why."""

from __future__ import annotations

import pytest

from tests.golden import record


@pytest.mark.parametrize("group", ["run", "inputs", "big"])
def test_outputs_match_the_recording(group):
    produced = record.record([group])
    expected = {
        str(p.relative_to(record.EXPECTED)): p.read_text(encoding="utf-8")
        for p in record.EXPECTED.rglob("*.csv")
        if p.relative_to(record.EXPECTED).parts[0] == group
    }
    assert sorted(produced) == sorted(expected)
    for name, text in sorted(produced.items()):
        assert text == expected[name], f"{name} differs: run `python tests/golden/record.py --check --group {group}`"

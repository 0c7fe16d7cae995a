from __future__ import annotations

import pytest
import json
from pathlib import Path

from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.readme_block import END, START, replace_block, update_readme
from bench.record import RunRecord

pytestmark = pytest.mark.usefixtures("synthetic_main")

RECORDS = Path(__file__).parent / "data" / "leaderboard_records.jsonl"


def _records() -> list[RunRecord]:
    return [RunRecord.from_json_dict(json.loads(line))
            for line in RECORDS.read_text().splitlines() if line.strip()]


def test_replace_block_swaps_only_the_marked_text():
    text = f"intro\n{START}\nold table\n{END}\noutro\n"
    assert replace_block(text, "new table\n") == f"intro\n{START}\nnew table\n{END}\noutro\n"


def test_replace_block_leaves_text_without_markers_alone():
    assert replace_block("no markers here\n", "table\n") == "no markers here\n"


def test_update_readme_writes_the_main_protocol_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\n{END}\n")
    records = _records()
    catalog = MethodCatalog.from_registry()
    assert update_readme(readme, records, catalog, "leaderboards")
    text = readme.read_text()
    assert "| " in text and "acc_conflicting" in text and "leaderboards/README.md" in text
    assert not update_readme(readme, records, catalog, "leaderboards")  # idempotent

"""Golden files: fixed synthetic records -> the exact committed markdown, byte for byte.

When a change to the pages is intended, regenerate the golden files and review the diff:

    BENCH_REGENERATE_GOLDEN=1 python -m pytest tests/test_leaderboard_golden.py

The records come from tests/data/make_leaderboard_records.py (synthetic, not results).
"""
import pytest
import os
from pathlib import Path

from bench.leaderboard import pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.sources import failures, merge, read_jsonl

pytestmark = pytest.mark.usefixtures("synthetic_main")

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
COMMAND = "bench leaderboard --no-store --records leaderboards/records --out leaderboards"
ERM = {"epochs": 10, "batch_size": 16, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}
# Fixed, so that golden files do not move when a registered method's defaults change;
# kmeans, groupdro and dfr are left out on purpose (unknown defaults: every --set is shown).
CATALOG = MethodCatalog({"erm": ERM, "greyscale": ERM, "group-balanced": ERM,
                         "jtt": {**ERM, "id_epochs": 1, "upweight": 20.0, "epochs": 20}},
                        frozenset({"greyscale", "group-balanced"}))


def render():
    everything = read_jsonl(DATA / "leaderboard_records.jsonl")
    records = merge(everything, []) + failures(everything, [])
    return pages.render(records, CATALOG, COMMAND)


def test_pages_match_the_golden_files():
    rendered, _ = render()
    if os.environ.get("BENCH_REGENERATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.glob("*.md"):
            old.unlink()
        for name, text in rendered.items():
            (GOLDEN / name).write_bytes(text.encode("utf-8"))
    assert sorted(rendered) == sorted(p.name for p in GOLDEN.glob("*.md"))
    for name, text in rendered.items():
        assert text.encode("utf-8") == (GOLDEN / name).read_bytes(), (
            f"{name} differs from tests/data/golden/{name}; if intended, regenerate (see the "
            f"module docstring)")


def test_regenerating_twice_gives_identical_bytes_including_figures(tmp_path):
    outputs = []
    for attempt in ("a", "b"):
        rendered, planned = render()
        written = pages.write(tmp_path / attempt, rendered, planned, draw_figures=True)
        outputs.append({p.relative_to(tmp_path / attempt).as_posix(): p.read_bytes()
                        for p in written})
    assert outputs[0] == outputs[1]
    pngs = [name for name in outputs[0] if name.endswith(".png")]
    assert len(pngs) == 6 and all(outputs[0][n].startswith(b"\x89PNG") for n in pngs)
    assert all(b"Matplotlib" not in outputs[0][n] for n in pngs)   # no version metadata
    # every linked figure is drawn
    for name, text in outputs[0].items():
        if name.endswith(".md"):
            for png in pngs:
                if f"({png})" in text.decode():
                    assert png in outputs[0]


def _as_fashion(record):
    """The same synthetic record, as if run with --source fashion-mnist."""
    import dataclasses
    spec = dataclasses.replace(record.spec, data={**record.spec.data, "source": "fashion-mnist"})
    return dataclasses.replace(record, spec=spec)


def test_a_second_dataset_gets_its_own_page_and_leaves_the_mnist_pages_byte_for_byte():
    """Fashion records are paged exactly like MNIST ones (same table, same sections), the
    MNIST pages do not move, and the index lists both datasets."""
    everything = read_jsonl(DATA / "leaderboard_records.jsonl")
    mnist = [r for r in everything if r.spec.data["source"] == "mnist"
             and r.spec.data["conflict_ratio"] == 0.05]
    fashion = [_as_fashion(r) for r in mnist]
    before, _ = render()
    records = everything + fashion
    after, _ = pages.render(merge(records, []) + failures(records, []), CATALOG, COMMAND)
    assert set(after) - set(before) == {"fashion-mnist-background-r0.05-baseline.md"}
    for name in before:
        if name != "README.md":
            assert after[name] == before[name], name
    page = after["fashion-mnist-background-r0.05-baseline.md"]
    mnist_page = after["mnist-background-r0.05-baseline.md"]
    table = lambda text: text.split("## Results")[1].split("Group:")[0]   # noqa: E731
    assert table(page) == table(mnist_page)
    assert "--source fashion-mnist" in page and "fashion-mnist · background" in page
    index = after["README.md"].split("## Datasets")[1].split("## Protocols")[0]
    assert "`colored-fashion-mnist`: 10 classes (T-shirt/top, Trouser" in index
    assert "`colored-mnist`: 10 classes (0, 1" in index
    assert "(fashion-mnist-background-r0.05-baseline.md)" in index
    assert "conflicting (headline)" in index


def test_the_committed_protocol_pages_regenerate_byte_for_byte_from_the_committed_records():
    """What ``bench leaderboard --no-store`` writes from leaderboards/records is exactly what
    is committed (the index aside: it gained the dataset list). Figures are not drawn."""
    repo = Path(__file__).parents[1]
    from bench.leaderboard import protocol
    from bench.leaderboard.sources import read_records_dir
    committed = repo / "leaderboards"
    everything = read_records_dir(committed / "records")
    records = merge(everything, []) + failures(everything, [])
    real = "bench leaderboard --no-store --records leaderboards/records --out leaderboards"
    with pytest.MonkeyPatch.context() as patch:   # the real headline backbone, not the fixture's
        patch.setitem(protocol.MAIN, "backbone", protocol.BASELINE.name)
        from bench.leaderboard import code_versions
        from bench.zoo_export import kept_keys
        from bench.cli.leaderboard_cmd import committed_llcs
        rendered, _ = pages.render(records, MethodCatalog.from_registry(), real,
                                   figures_in=committed,
                                   code_versions=code_versions.load(committed / "records"),
                                   zoo_keys=kept_keys(committed / "models"),
                                   llc_remeasured=committed_llcs(committed / "records"))
    protocol_pages = [name for name in rendered if name != "README.md"]
    # every committed page, MNIST's and the other datasets', and no page without records
    committed_pages = sorted(p.name for p in committed.glob("*.md") if p.name != "README.md")
    assert sorted(protocol_pages) == committed_pages
    assert any(name.startswith("mnist-") for name in protocol_pages)
    for name in protocol_pages:
        assert rendered[name].encode("utf-8") == (committed / name).read_bytes(), name

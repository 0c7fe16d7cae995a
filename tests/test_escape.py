"""Record fields cannot be turned against the reader: escaped for markdown, rich and the shell,
file names confined to the output folder, and a headline table never emptied by a typo."""
from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.escape import confined, markdown_text, shell_word, slug_part, terminal_text
from bench.leaderboard.protocol import protocol_of
from bench.leaderboard.readme_block import END, START
from bench.leaderboard.sources import export, record_line
from bench.record import RunRecord

DATA = Path(__file__).parent / "data" / "leaderboard_records.jsonl"
ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "a|b <script>alert(1)</script> `x` $y$ [link](javascript:alert(1)) \\ \n# Injected"


def _template() -> RunRecord:
    return RunRecord.from_json_dict(json.loads(DATA.read_text().splitlines()[0]))


def _crafted(seed: int, status: str = "completed", **spec_changes) -> RunRecord:
    record = _template()
    spec = dataclasses.replace(record.spec, **spec_changes)
    return dataclasses.replace(record, spec=spec, seed=seed, status=status, id=None,
                               supervision=HOSTILE,
                               error=HOSTILE if status == "failed" else None,
                               versions={"torch": "<img src=x onerror=alert(1)>"})


def test_markdown_text_leaves_names_alone_and_defuses_the_rest():
    for name in ("erm (epochs=20)", "jtt (upweight=50) [0a1b2c3d]", "k3-4-16-16-pool-end",
                 "median 1.0, IQR [0.5, 2.0]; per seed 1.0, 2.0"):
        assert markdown_text(name) == name
    text = markdown_text(HOSTILE)
    assert "<" not in text and ">" not in text and "\n" not in text
    assert "](" not in text and re.search(r"(?<!\\)[|`$]", text) is None


def test_terminal_text_escapes_markup_and_control_sequences():
    assert terminal_text("[bold red]x\x1b]0;title\x07") == "\\[bold red]x?]0;title?"


@pytest.mark.parametrize("value", ["plain", "$(touch /tmp/pwned)", "a b; rm -rf ~", "it's",
                                   "line\nbreak", "tab\tand\x1b[31m"])
def test_a_shell_word_reads_back_as_itself(value):
    word = shell_word(value)
    assert "\n" not in word
    if "$'" not in word:                      # shlex does not read bash's $'...' form
        assert shlex.split(word) == [value]


def test_slug_parts_and_confined_paths_stay_in_the_folder(tmp_path):
    assert slug_part("mnist@unofficial-0a1b") == "mnist@unofficial-0a1b"
    assert "/" not in slug_part("../../etc/passwd") and not slug_part("..").startswith(".")
    assert confined(tmp_path, "figures/x.png") == tmp_path / "figures" / "x.png"
    for name in ("../x.md", "/etc/x", "a/../../x", "a\\..\\x", ""):
        with pytest.raises(ConfigError, match="refused"):
            confined(tmp_path, name)


def test_a_record_made_in_code_with_a_path_for_a_source_gets_a_page_inside_out(tmp_path):
    record = _crafted(0)
    record.spec.data["source"] = "../../outside"
    slug = protocol_of(record).slug
    assert "/" not in slug and not slug.startswith(".")
    with pytest.raises(ConfigError, match="refused"):
        export([_template()], tmp_path / "records", lambda r: "../escaped")
    assert list(tmp_path.rglob("*")) == []


def _write_records(folder: Path, records: list[RunRecord]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crafted.jsonl").write_text("".join(record_line(r) for r in records))


def test_hostile_record_text_is_escaped_on_every_page(tmp_path, capsys):
    hparams = {"p": "$(touch /tmp/pwned)", "q": HOSTILE}
    records = [_crafted(0, method="evil-method", hparams=hparams),
               _crafted(1, method="evil-method", hparams=hparams),
               _crafted(2, "failed", method="evil-method", hparams={"p": "other"})]
    _write_records(tmp_path / "records", records)
    out = tmp_path / "pages"
    assert main(["leaderboard", "--no-store", "--records", str(tmp_path / "records"),
                 "--out", str(out), "--no-figures"]) == 0
    pages = {p.name: p.read_text() for p in out.glob("*.md")}
    assert sorted(pages) == ["README.md", "mnist-background-r0.05-baseline.md"]
    for page in pages.values():
        # a fenced code block shows its text raw (the shell words below are checked apart)
        assert all(line == "```" or not line.startswith("```") or line == "```sh"
                   for line in page.splitlines())
        text = re.sub(r"^```sh\n.*?^```$", "", page, flags=re.M | re.S)
        assert "<script" not in text and "<img" not in text and "](javascript" not in text
        assert not any(line.startswith("# Injected") for line in text.splitlines())
        for table in re.findall(r"(?:^\|.*\n)+", text, flags=re.M):   # no row grows a cell
            cells = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
            assert len(cells) == 1, table
    page = pages["mnist-background-r0.05-baseline.md"]
    [command] = [line for line in page.splitlines() if line.startswith("bench run")]
    words = shlex.split(command)
    assert "p=$(touch /tmp/pwned)" in words and "--method" in words
    assert words[words.index("--method") + 1] == "evil-method"


def _readme(tmp_path: Path) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\n| rank | method |\n|---|---|\n| 1 | jtt |\n{END}\n")
    return readme


def test_a_mistyped_records_folder_never_empties_the_headline(tmp_path, capsys):
    readme = _readme(tmp_path)
    before = readme.read_text()
    args = ["leaderboard", "--no-store", "--no-figures", "--out", str(tmp_path / "out"),
            "--readme", str(readme)]
    assert main([*args, "--records", str(tmp_path / "recordz")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*args, "--records", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "would be replaced by an empty one" in err and len(err.strip().splitlines()) == 1
    assert readme.read_text() == before and not (tmp_path / "out").exists()
    assert main([*args, "--records", str(tmp_path / "empty"), "--allow-empty-headline"]) == 0
    assert "No runs for the main protocol" in readme.read_text()


def test_cli_tables_show_cells_as_text_not_markup(capsys):
    from bench.cli.tables import new_table, print_table
    table = new_table("t", ("method", "note"))
    table.add_row("[bold red]evil[/]", "x\x1b]0;retitled\x07")
    print_table(table)
    out = capsys.readouterr().out
    assert "[bold red]evil[/]" in out and "\x1b" not in out and "\x07" not in out

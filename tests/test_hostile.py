"""Hostile input: every bad file gets exit code 1 and a message naming the file and the problem.

Each case is made in ``tmp_path`` (no binaries in the repository) and given to the real CLI:
in-process for all of them, and as a subprocess for a few, to prove that no traceback reaches
the user. Nothing may be written to ``--out``, and nothing may hang: the time each case takes
is bounded.
"""

import codecs
import importlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import themesift as ts
from themesift.cli import main
from themesift.ingest._common import MAX_TURN_CHARS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TXT = ROOT / "data" / "sample" / "fg1_act_team.txt"
TEN_MB = 10_000_000
SECONDS_PER_CASE = 20  # generous for 2 busy cores; a hang would take minutes

TWO_TURNS = "Moderator: What helps?\nP1: Being listened to, week after week, by the same person.\n"


def _docx_of_junk(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "not xml at all")
        z.writestr("word/document.xml", "<w:document>junk<<<")
    return path


def _yaml_bomb(levels=9):
    """A "billion laughs" YAML: nine levels of nine aliases, 9**9 items if expanded."""
    names = "abcdefghij"[: levels + 1]
    lines = ["name: bomb", "version: 1", "description: d", "themes:",
             "  - id: t0", "    name: T0", "    description: d",
             '    indicators: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i, (inner, outer) in enumerate(zip(names, names[1:]), start=1):
        lines += [f"  - id: t{i}", f"    name: T{i}", "    description: d",
                  f"    examples: &{outer} [" + ", ".join([f"*{inner}"] * 9) + "]"]
    return "\n".join(lines) + "\n"


def _top_level_bomb():
    """The classic form: anchors under keys of their own, the bomb as the theme list."""
    lines = ["name: bomb", "version: 1", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for inner, outer in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{outer}: &{outer} [" + ", ".join([f"*{inner}"] * 9) + "]")
    return "\n".join(lines + ["themes: *i"]) + "\n"


UNKNOWN_KEY_YAML = """\
name: typo
version: 1
description: A framework with a misspelt key.
themes:
  - id: hope
    name: Hope
    descripton: Talk of a future worth working towards.
"""

# name -> (file name, content as bytes or str, extra CLI arguments, words the message must have)
TRANSCRIPTS = {
    "empty": ("empty.txt", b"", [], "The file is empty"),
    "only whitespace": ("blank.txt", b" \n\t\n", [], "The file is empty"),
    "binary": ("photo.txt", bytes(range(256)) * 64, [], "binary file"),
    "huge single line with a label": ("huge.txt", "P1: " + "word " * (TEN_MB // 5), [],
                                      "more than the 100,000 a speaker turn can have"),
    "huge single line without labels": ("blob.txt", "x" * TEN_MB, [], "No speaker turns found"),
    "damaged utf-16": ("cut.txt", codecs.BOM_UTF16_LE + TWO_TURNS.encode("utf-16-le") + b"\x00",
                       [], "cannot be read as UTF-16"),
    "docx that is a zip of junk": ("junk.docx", None, [], "not a readable Word .docx file"),
    "docx that is not a zip": ("fake.docx", b"PK\x03\x04" + os.urandom(2000), [],
                               "not a readable Word .docx file"),
    "vtt cue ending before it starts": (
        "backwards.vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:01.000\n<v P1>We trust each other.\n",
        [], "line 3: The cue '00:00:05.000 --> 00:00:01.000' ends before it starts"),
    "vtt minutes past 59": (
        "minutes.vtt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n<v P1>Fine.\n\n"
        "2\n00:75:01.000 --> 00:75:09.000\n<v P2>Not fine.\n", [],
        "line 8: Cannot read the cue timing '00:75:01.000 --> 00:75:09.000': '00:75:01.000' is not a time"),
    "vtt with one speaker for hours": (
        "monologue.vtt", "WEBVTT\n\n" + "".join(
            f"00:{i // 60 % 60:02d}:{i % 60:02d}.000 --> 00:{i // 60 % 60:02d}:{i % 60:02d}.900\n"
            f"<v P1>{'and then we talked about housing again ' * 3}\n\n" for i in range(1000)),
        [], "line 3: The turn of 'P1' is 116,999 characters long"),
    "vtt without readable timings": ("garbled.vtt", "WEBVTT\n\n00:0x:01.000 --> soon\n<v P1>Hello.\n",
                                     [], "No caption cues found"),
    "srt seconds past 59": ("late.srt", "1\n00:00:61,000 --> 00:01:02,000\nP1: Hello there.\n", [],
                            "'00:00:61,000' is not a time"),
}

# An --encoding that does not fit: same shape as TRANSCRIPTS.
ENCODINGS = {
    "cp1252 read as utf-8": ("cafe.txt", ("P1: Le caf\xe9 du coin.\n" * 2).encode("cp1252"),
                             ["--encoding", "utf-8"], "cannot be read as utf-8"),
    "unknown encoding": ("plain.txt", TWO_TURNS, ["--encoding", "klingon"], "cannot be read as klingon"),
}

FRAMEWORKS = {
    "yaml bomb in the themes": (_yaml_bomb(), "is a list, not text"),
    "yaml bomb under unknown keys": (_top_level_bomb(), "line 3: Unknown key 'a'"),
    "unknown key": (UNKNOWN_KEY_YAML, "line 7: Unknown key 'descripton' in theme 'hope'. "
                                      "Did you mean 'description'?"),
    "yaml merge key": ("name: m\nversion: 1\nbase: &b {id: x}\nthemes:\n  - <<: *b\n    name: X\n",
                       "line 3: Unknown key 'base'"),
}


def _write(path: Path, content) -> Path:
    if content is None:
        return _docx_of_junk(path)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _expect_refusal(capsys, argv, path, words, out=None):
    """Run the CLI in-process: exit 1 within the time budget, a message naming file and problem."""
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 1, err
    assert elapsed < SECONDS_PER_CASE, f"took {elapsed:.1f} s"
    assert err.startswith(f"themesift {argv[0]}: error: {path}"), err
    assert words in err
    # one message; a file with several mistakes lists them below it, one "  line N:" each
    first, *listed = err.strip().splitlines()
    assert "Traceback" not in err and all(line.startswith("  line ") for line in listed)
    if out is not None:
        assert not out.exists(), "a refused run must write nothing"
    return err


@pytest.mark.parametrize("case", TRANSCRIPTS, ids=str)
def test_a_hostile_transcript_exits_1_names_the_file_and_writes_nothing(case, tmp_path, capsys):
    name, content, extra, words = TRANSCRIPTS[case]
    path = _write(tmp_path / name, content)
    out = tmp_path / "out"
    _expect_refusal(capsys, ["run", str(path), "--out", str(out), "--quiet", *extra], path, words, out)


@pytest.mark.parametrize("case", ENCODINGS, ids=str)
def test_an_encoding_that_does_not_fit_exits_1_and_writes_nothing(case, tmp_path, capsys):
    name, content, extra, words = ENCODINGS[case]
    path = _write(tmp_path / name, content)
    out = tmp_path / "units.csv"
    _expect_refusal(capsys, ["segment", str(path), "--out", str(out), *extra], path, words, out)


def test_run_reads_transcripts_in_the_given_encoding(tmp_path, capsys, monkeypatch):
    def stages(*args, **kwargs):  # reached only when the bad encoding went unnoticed
        raise ts.InputError("The pipeline ran on a file that does not fit its --encoding")

    monkeypatch.setattr(importlib.import_module("themesift.segment"), "segment", stages)
    monkeypatch.setattr("themesift.embed.Embedder", lambda *args, **kwargs: None)
    name, content, extra, words = ENCODINGS["cp1252 read as utf-8"]
    path = _write(tmp_path / name, content)
    _expect_refusal(capsys, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *extra],
                    path, words, tmp_path / "out")


@pytest.mark.parametrize("case", FRAMEWORKS, ids=str)
def test_a_hostile_framework_exits_1_fast_with_file_and_line(case, tmp_path, capsys):
    content, words = FRAMEWORKS[case]
    path = _write(tmp_path / "framework.yaml", content)
    out = tmp_path / "out"
    _expect_refusal(capsys, ["check-framework", str(path)], path, words)
    _expect_refusal(capsys, ["run", str(SAMPLE_TXT), "--framework", str(path), "--out", str(out),
                             "--quiet"], path, words, out)


def test_a_refused_run_leaves_the_study_without_a_run(tmp_path, capsys):
    bad = _write(tmp_path / "junk.docx", None)
    study = tmp_path / "study"
    _expect_refusal(capsys, ["run", str(SAMPLE_TXT), str(bad), "--study", str(study),
                             "--out", str(tmp_path / "out"), "--quiet"], bad,
                    "not a readable Word .docx file", tmp_path / "out")
    with ts.Study.open(study) as s:
        assert s.runs.empty


def test_one_bad_file_in_a_folder_stops_the_run_and_is_named(tmp_path, capsys):
    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "a_good.txt").write_bytes(SAMPLE_TXT.read_bytes())
    bad = _write(folder / "b_bad.vtt", TRANSCRIPTS["vtt cue ending before it starts"][1])
    _expect_refusal(capsys, ["run", str(folder), "--out", str(tmp_path / "out"), "--quiet"], bad,
                    "ends before it starts", tmp_path / "out")


@pytest.mark.parametrize("case", ["huge single line with a label", "docx that is a zip of junk",
                                  "damaged utf-16"], ids=str)
def test_as_a_subprocess_no_traceback_reaches_the_user(case, tmp_path):
    name, content, extra, words = TRANSCRIPTS[case]
    path = _write(tmp_path / name, content)
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("themesift")
    result = subprocess.run([str(exe), "run", str(path), "--out", str(out), "--quiet", *extra],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"themesift run: error: {path}") and words in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not out.exists()


def test_a_bomb_of_aliased_themes_stops_the_reading_fast(tmp_path):
    # each level's subthemes are nine aliases of the level below: 9**8 themes if walked
    lines = ["name: x", "themes:", "  - &t0 {id: t0, name: T0, description: d}"]
    for i in range(1, 9):
        lines.append(f"  - &t{i} {{id: t{i}, name: T{i}, description: d, subthemes: ["
                     + ", ".join([f"*t{i - 1}"] * 9) + "]}")
    path = _write(tmp_path / "aliases.yaml", "\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(ts.FrameworkError, match="reading stopped there") as info:
        ts.load_framework(path)
    assert time.perf_counter() - started < 2
    assert "is already used on line 3" in str(info.value)


def test_the_yaml_bomb_is_refused_fast_as_a_subprocess(tmp_path):
    path = _write(tmp_path / "bomb.yaml", _yaml_bomb())
    exe = Path(sys.executable).with_name("themesift")
    started = time.perf_counter()
    result = subprocess.run([str(exe), "check-framework", str(path)], capture_output=True,
                            text=True, timeout=30, cwd=ROOT)
    assert time.perf_counter() - started < 10
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}, line " in result.stderr or f"{path}: " in result.stderr and "\n  line " in result.stderr


def test_a_hand_made_transcript_with_a_huge_turn_is_refused_by_segment():
    words = "word " * (MAX_TURN_CHARS // 5 + 10)
    huge = ts.Transcript("huge", "P1: " + words, (ts.Turn(0, "P1", "participant", 4, 4 + len(words), words, line=1),))
    started = time.perf_counter()
    with pytest.raises(ts.InputError, match=r"transcript 'huge', line 1: The turn of 'P1' is [\d,]+ characters"):
        ts.segment(huge)
    assert time.perf_counter() - started < 5


def test_utf16_without_a_byte_order_mark_is_read(tmp_path):
    path = _write(tmp_path / "notepad.txt", TWO_TURNS.encode("utf-16-le"))
    transcript = ts.read_corpus(path)[0]
    assert transcript.meta["encoding"] == "utf-16-le"
    assert [t.speaker for t in transcript.turns] == ["Moderator", "P1"]


# --------------------------------------------------------------------------------------------
# Tables: embedded newlines are data; formula-like cells are text, never formulas


FORMULAS = ["=CMD()", "+SUM(1,2)", "-2+3", "@evil", '=HYPERLINK("http://x","click")']


def test_a_csv_with_embedded_newlines_and_formula_cells_is_read_verbatim(tmp_path):
    path = tmp_path / "quotes.csv"
    texts = ["It took months,\nthen he opened the door.", *FORMULAS]
    pd.DataFrame({"id": [f"q{i}" for i in range(len(texts))], "text": texts}).to_csv(path, index=False)
    table = ts.read_table(path, id_column="id")
    assert table["text"].tolist() == texts


@pytest.mark.parametrize("content, words", [
    (b'id,text\nq1,"never closed\nq2,fine\n', "line 2: A quote (\") opened here is never closed"),
    (bytes(range(256)) * 8, "binary file"),
    (b"", "The file is empty"),
])
def test_a_hostile_table_exits_1_and_writes_nothing(tmp_path, capsys, content, words):
    path = _write(tmp_path / "table.csv", content)
    out = tmp_path / "preds.csv"
    _expect_refusal(capsys, ["suggest", str(path), "--text-column", "text", "--out", str(out)],
                    path, words, out)


@pytest.fixture
def formula_outputs(tmp_path):
    """The run's files for units whose words look like spreadsheet formulas."""
    from fakes import fake_result, make_corpus

    result = fake_result(make_corpus(), ts.load_framework("recovery"),
                         scores=[(0.9, 0.1)] * len(FORMULAS), codes={"c0": [0, 1, 2], "c1": [3, 4]})
    result.units["text"] = FORMULAS
    ts.write_outputs(result, tmp_path / "out")
    return tmp_path / "out"


def test_data_csvs_keep_the_words_exactly(formula_outputs):
    units = pd.read_csv(formula_outputs / "units.csv")
    assert units["text"].tolist() == FORMULAS  # the offset invariant needs the exact words


def test_review_sheets_never_hold_a_live_formula(formula_outputs):
    sheet = openpyxl.load_workbook(formula_outputs / "review.xlsx")["review"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert {c.value for c in cells} >= set(FORMULAS)  # kept as text, word for word
    review = pd.read_csv(formula_outputs / "review.csv", dtype=str, keep_default_na=False)
    texts = review.loc[review["level"] == "unit", "text"]
    assert not texts.str.match(r"[=+\-@\t\r]").any()
    assert sorted(texts.str.lstrip("'")) == sorted(FORMULAS)

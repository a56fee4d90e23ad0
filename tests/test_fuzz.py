"""Fuzzing the readers and the segmenter with hypothesis.

Properties, whatever the bytes: a reader returns a transcript whose turns are exact slices of
its text, or raises a ThemesiftError (which the CLI turns into a message); nothing else
escapes. Units cut from whatever a reader returns are exact slices of the transcript too.
(tests/test_segment.py fuzzes segment() on hand-made turns; here it gets what the readers make.)
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import themesift as ts
from themesift.errors import ThemesiftError
from themesift.ingest import read_table
from themesift.ingest.captions import read_captions
from themesift.ingest.text import read_text

FAST = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

LABELS = ["P1:", "P2: ", "Moderator:", "**P3:**", "[Nurse 2]", "Speaker 1  0:03", "Note:", "P1 (00:01:02):",
          "INTERVIEWER:", "Date: 3 May", ":", "P1", "[00:00:12] P2:"]
WORDS = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)
LINE = st.one_of(WORDS, st.builds(lambda label, words: f"{label} {words}", st.sampled_from(LABELS), WORDS))
ENDINGS = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\u2028", "\x0c"])
TRANSCRIPT_TEXT = st.lists(st.tuples(LINE, ENDINGS), max_size=25).map(
    lambda pairs: "".join(line + end for line, end in pairs))
ENCODED = st.one_of(
    TRANSCRIPT_TEXT.map(lambda t: t.encode("utf-8")),
    TRANSCRIPT_TEXT.map(lambda t: "\ufeff".encode("utf-8") + t.encode("utf-8")),
    TRANSCRIPT_TEXT.map(lambda t: t.encode("utf-16")),
    TRANSCRIPT_TEXT.map(lambda t: t.encode("utf-16-le")),
    TRANSCRIPT_TEXT.map(lambda t: t.encode("cp1252", errors="replace")),
    st.binary(max_size=400),
)

TIMINGS = ["00:00:01.000 --> 00:00:04.000", "00:01.500 --> 00:02.000", "00:00:05,000 --> 00:00:06,000",
           "01:02:03.004 --> 01:02:03.004", "00:00:09.000 --> 00:00:02.000", "00:99:00.000 --> 01:00:00.000",
           "00:00:01.000-->00:00:02.000", "--> 00:00:01.000"]
CUE_LINES = st.one_of(
    st.sampled_from(TIMINGS), WORDS, st.sampled_from(["", "WEBVTT", "NOTE something", "1", "42"]),
    st.builds(lambda name, words: f"<v {name}>{words}</v>", st.sampled_from(["Nurse 2", "P1", "", ">"]), WORDS),
    st.builds(lambda label, words: f"{label} {words}", st.sampled_from(LABELS), WORDS),
)
CAPTION_TEXT = st.lists(CUE_LINES, max_size=30).map("\n".join)

CELLS = st.one_of(WORDS, st.sampled_from(["=CMD()", "+1", "@x", '"', '""', ",", "\n", "\t", ";", ""]))
CSV_TEXT = st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=8).map(
    lambda rows: "text,id\n" + "\n".join(",".join(row) for row in rows))


def _assert_turns_are_slices(transcript):
    for turn in transcript.turns:
        assert transcript.text[turn.start:turn.end] == turn.text
        assert turn.text.strip() == turn.text and turn.text


def _read_or_refuse(reader, path):
    """The reader's transcript, or None when it refused the file with a ThemesiftError."""
    try:
        transcript = reader(path)
    except ThemesiftError as exc:
        assert str(path) in str(exc)  # every refusal names the file
        return None
    _assert_turns_are_slices(transcript)
    return transcript


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FAST
@given(data=ENCODED)
def test_text_reader_returns_slices_or_refuses(data, scratch):
    path = scratch / "t.txt"
    path.write_bytes(data)
    _read_or_refuse(read_text, path)


@FAST
@given(text=CAPTION_TEXT, suffix=st.sampled_from([".vtt", ".srt"]))
def test_captions_reader_returns_slices_or_refuses(text, suffix, scratch):
    path = scratch / f"c{suffix}"
    path.write_text(text, encoding="utf-8")
    transcript = _read_or_refuse(read_captions, path)
    if transcript is not None:
        times = [(t.time_start, t.time_end) for t in transcript.turns]
        assert all(start <= end for start, end in times)


@FAST
@given(text=CSV_TEXT, id_column=st.sampled_from([None, "id"]))
def test_table_reader_returns_rows_or_refuses(text, id_column, scratch):
    path = scratch / "table.csv"
    path.write_text(text, encoding="utf-8")
    try:
        table = read_table(path, id_column=id_column)
    except ThemesiftError as exc:
        assert str(path) in str(exc)
        return
    assert list(table.columns[:2]) == ["unit_id", "text"]
    assert table["unit_id"].is_unique
    assert all(isinstance(t, str) and t.strip() for t in table["text"])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=ENCODED, min_words=st.integers(1, 6))
def test_units_of_whatever_the_reader_returns_are_slices(data, min_words, scratch):
    path = scratch / "s.txt"
    path.write_bytes(data)
    transcript = _read_or_refuse(read_text, path)
    if transcript is None:
        return
    units = ts.segment(transcript, min_words=min_words, max_words=max(2 * min_words, 20),
                       include_moderator=True, include_backchannels=True)
    for u in units.itertuples():
        assert transcript.text[u.start:u.end] == u.text
    assert units["unit_id"].is_unique

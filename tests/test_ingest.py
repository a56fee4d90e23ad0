"""Reading transcripts: every reader, every encoding, every kind of bad input."""


from pathlib import Path

import pandas as pd
import pytest

import themesift as ts
from themesift.ingest.table import read_table_chunks
from themesift import InputError


def _speakers_and_roles(transcript):
    return [(t.speaker, t.role) for t in transcript.turns]


def _read_text(tmp_path, text, name="t.txt"):
    """``text`` saved as a UTF-8 file and read back as a transcript."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return ts.read_transcript(path)


def _assert_offsets(transcript):
    for turn in transcript.turns:
        assert transcript.text[turn.start:turn.end] == turn.text
        assert turn.text == turn.text.strip() and turn.text


# --- plain text -----------------------------------------------------------------------------

def test_text_reader_finds_turns_roles_and_header(fixtures):
    t = ts.read_transcript(fixtures / "basic.txt")
    assert t.id == "basic"
    assert _speakers_and_roles(t) == [
        ("Moderator", "moderator"), ("P1", "participant"), ("P2", "participant"),
        ("P1", "participant"), ("P3", "participant"), ("Moderator", "moderator"),
    ]
    assert t.meta["header"].startswith("Focus group - pilot")
    assert "Date: 3 March" in t.meta["header"]  # one-off labels in a header are not speakers
    assert t.turns[1].line == 7
    _assert_offsets(t)


@pytest.mark.parametrize("given, message", [
    (pd.DataFrame({"unit_id": ["u1"], "text": ["Trust takes months."]}), "given a table"),
    (123, "123 \\(int\\) is not a path"),
    (None, "None \\(NoneType\\) is not a path"),
    (["data/sample", 7], "7 \\(int\\) is not a path"),
])
def test_what_is_not_a_path_is_refused_with_what_to_give(given, message):
    with pytest.raises(ts.InputError, match=message):
        ts.read_corpus(given)


def test_paths_may_come_from_a_generator():
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    assert len(ts.read_corpus(p for p in [sample])) == 4


def test_unlabelled_paragraph_continues_the_previous_turn(fixtures):
    t = ts.read_transcript(fixtures / "basic.txt")
    assert t.turns[1].text.endswith("even when they shut the door.")


def test_bom_and_crlf_give_the_same_transcript(fixtures):
    plain = ts.read_transcript(fixtures / "basic.txt")
    windows = ts.read_transcript(fixtures / "bom_crlf.txt")
    assert windows.text == plain.text
    assert windows.turns == plain.turns
    assert windows.meta["encoding"] == "utf-8-sig"


@pytest.mark.parametrize("name, encoding", [("cp1252.txt", "cp1252"), ("utf16.txt", "utf-16")])
def test_word_encodings_are_detected(fixtures, name, encoding):
    t = ts.read_transcript(fixtures / name)
    assert t.meta["encoding"] == encoding
    assert "Håb – it's the café on Tuesday, “the small things”" in t.turns[1].text
    assert [x.speaker for x in t.turns] == ["Interviewer", "Nurse 1", "Nurse 2"]
    assert t.turns[0].role == "moderator"


def test_explicit_encoding_that_does_not_fit_is_an_input_error(fixtures):
    with pytest.raises(InputError, match=r"cp1252\.txt: The file cannot be read as utf-8"):
        ts.read_transcript(fixtures / "cp1252.txt", encoding="utf-8")


def test_markdown_bold_and_bracket_labels(fixtures):
    t = ts.read_transcript(fixtures / "bold_labels.md")
    assert _speakers_and_roles(t) == [
        ("Interviewer", "moderator"), ("Peer worker", "participant"),
        ("Nurse 2", "participant"), ("Nurse 2", "participant"),
    ]
    assert t.turns[1].text.startswith("Honestly?")
    assert t.turns[3].text.startswith("Sorry, and one more thing: the rules")
    assert t.meta["header"] == "# Pilot interview"
    _assert_offsets(t)


def test_moderator_can_be_named(fixtures):
    t = ts.read_transcript(fixtures / "basic.txt", moderator="P3")
    roles = {x.speaker: x.role for x in t.turns}
    assert roles == {"Moderator": "participant", "P1": "participant", "P2": "participant",
                     "P3": "moderator"}


@pytest.mark.parametrize("label", ["P3", "Nurse 2", "INTERVIEWER", "[Moderator]", "**P3:**",
                                   "[00:01:02] P3", "P3 (00:01:02)", "Support worker 1"])
def test_common_label_forms(tmp_path, label):
    sep = "" if label.endswith(("]", ":**")) else ":"
    t = _read_text(tmp_path, f"{label}{sep} First words here.\n\nP9: Other words.\n\n"
                             f"{label}{sep} Again.\n")
    assert len(t.turns) == 3
    assert t.turns[0].text == "First words here."
    assert t.turns[0].speaker == t.turns[2].speaker
    _assert_offsets(t)


def test_timestamps_in_labels_are_kept(tmp_path):
    t = _read_text(tmp_path, "[00:01:02] P3: Words.\nP4 (1:05:00.5): More words.\n")
    assert [x.time_start for x in t.turns] == [62.0, 3900.5]


def test_sentence_with_a_colon_is_not_a_label(tmp_path):
    t = _read_text(tmp_path,
                   "P1: I told her this: it will be fine.\nWhat we said was: no.\nP2: Right.\n")
    assert [x.speaker for x in t.turns] == ["P1", "P2"]
    assert "What we said was: no." in t.turns[0].text


def test_bracketed_sounds_are_not_speakers(tmp_path):
    path = tmp_path / "t.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\nNURSE 2: Mine's usually dogs.\n\n"
                    "2\n00:00:02,500 --> 00:00:04,000\n[laughs] Honestly, the dog gets them up.\n\n"
                    "3\n00:00:04,500 --> 00:00:05,000\n[Speaker 3] Same here.\n\n"
                    "4\n00:00:05,500 --> 00:00:06,000\n[inaudible] and then.\n")
    t = ts.read_transcript(path)
    assert [x.speaker for x in t.turns] == ["NURSE 2", "Speaker 3"]
    assert "[laughs] Honestly" in t.turns[0].text and "[inaudible] and then." in t.turns[1].text


# --- docx -----------------------------------------------------------------------------------

@pytest.fixture
def docx_file(tmp_path):
    from docx import Document

    doc = Document()
    doc.add_heading("Focus group 2", level=1)
    for label, words, bold, colon in [
        ("Facilitator", "What does a good day at work look like?", True, True),
        ("Nurse 1", "When someone tells me about their daughter again.", True, False),
        ("Nurse 2", "For me, when the team agrees.", False, True),
    ]:
        p = doc.add_paragraph()
        p.add_run(label + (":" if colon else "")).bold = bold
        p.add_run(" " + words)
    doc.add_paragraph("And that doesn't happen often, to be honest.")
    table = doc.add_table(rows=3, cols=2)
    for row, (a, b) in zip(table.rows, [("Speaker", "Text"), ("Nurse 1", "From a table."),
                                       ("Facilitator", "Thank you.")]):
        row.cells[0].text, row.cells[1].text = a, b
    path = tmp_path / "group.docx"
    doc.save(path)
    return path


def test_docx_reader_bold_and_prefix_labels_and_tables(docx_file):
    t = ts.read_transcript(docx_file)
    assert _speakers_and_roles(t) == [
        ("Facilitator", "moderator"), ("Nurse 1", "participant"), ("Nurse 2", "participant"),
        ("Nurse 1", "participant"), ("Facilitator", "moderator"),
    ]
    assert t.turns[1].text == "When someone tells me about their daughter again."
    assert t.turns[2].text.endswith("to be honest.")  # the unlabelled paragraph continues
    assert t.turns[3].text == "From a table."
    assert t.meta["header"] == "Focus group 2"
    _assert_offsets(t)


def test_a_corrupt_docx_is_an_input_error(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match=r"broken\.docx: This is not a readable Word \.docx file.*Save as"):
        ts.read_transcript(path)


# --- captions -------------------------------------------------------------------------------

def test_teams_vtt_voice_tags_merge_cues_into_turns(fixtures):
    t = ts.read_transcript(fixtures / "teams.vtt")
    assert _speakers_and_roles(t) == [
        ("Moderator", "moderator"), ("Nurse A", "participant"), ("OT Ben", "participant"),
    ]
    nurse = t.turns[1]
    assert nurse.text == "So on the ward we try to give people a say in their own plan & their day."
    assert (nurse.time_start, nurse.time_end) == (5.0, 13.0)
    assert t.turns[2].text == "Mm. But the locked door says something else."
    assert "NOTE" not in t.text
    assert t.text.startswith("Moderator: Welcome, everyone.")
    assert t.turns[1].line == 8
    _assert_offsets(t)


def test_srt_label_only_on_first_cue_of_a_turn(fixtures):
    t = ts.read_transcript(fixtures / "labelled.srt")
    assert _speakers_and_roles(t) == [
        ("INTERVIEWER", "moderator"), ("SOCIAL WORKER", "participant"), ("NURSE 1", "participant"),
    ]
    assert t.turns[1].text == "Money, mostly. The budget is cut every year. And the waiting lists."
    assert t.turns[1].time_end == 8.0
    _assert_offsets(t)


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.txt", r"empty\.txt: The file is empty\. Check that the transcript was saved"),
        ("blank.txt", r"blank\.txt: The file is empty"),
        ("binary.txt", r"binary\.txt: This looks like a binary file, not a transcript\. Save"),
        ("no_turns.txt", r"no_turns\.txt: No speaker turns found\. Start each turn on a new line"),
        ("notes.pdf", r"notes\.pdf: Unsupported file type '\.pdf'\. Save the transcript as one of"),
        ("no_speakers.srt", r"no_speakers\.srt, line 2: No cue names a speaker.*Export the captions"),
        ("no_cues.vtt", r"no_cues\.vtt: No caption cues found"),
    ],
)
def test_bad_files_raise_input_errors_that_say_what_to_do(fixtures, name, message):
    with pytest.raises(InputError, match=message) as info:
        ts.read_corpus(fixtures / name)
    assert info.value.path.endswith(name)


def test_otter_export_speaker_and_time_on_their_own_line_words_below(fixtures):
    # Otter.ai's .txt export: "Speaker 1  0:03" (or a name) alone on a line, the words below
    t = ts.read_corpus(fixtures / "otter.txt", moderator="Speaker 1")["otter"]
    assert t.meta["header"] == "Team meeting about recovery - Otter.ai"
    assert [(turn.speaker, turn.role, turn.time_start) for turn in t.turns] == [
        ("Speaker 1", "moderator", 3.0), ("Speaker 2", "participant", 11.0),
        ("Speaker 3", "participant", 3765.0), ("Speaker 2", "participant", 3790.0)]
    assert t.turns[2].text == ("The municipality wants a new care plan every three months, and "
                               "the goals in the plan are their goals, not the person's.\nThey "
                               "never ask him what he wants.")
    for turn in t.turns:
        assert t.text[turn.start:turn.end] == turn.text
    units = ts.segment(t)
    assert list(units["speaker"]) == ["Speaker 2", "Speaker 3"]  # moderator and "Mm." left out


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.txt: No such file or folder\. Check the path"):
        ts.read_corpus(tmp_path / "nowhere.txt")


def test_folder_without_transcripts_is_an_input_error(tmp_path):
    (tmp_path / "README.md").write_text("P1: not a transcript\n")
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"The folder has no transcript files \(skipped: data\.csv\)"):
        ts.read_corpus(tmp_path)


def test_input_errors_are_value_errors():
    assert issubclass(InputError, ValueError)


# --- corpus ---------------------------------------------------------------------------------

def test_folder_read_skips_readme_hidden_and_other_files(tmp_path, fixtures):
    for name in ("basic.txt", "teams.vtt", "labelled.srt"):
        (tmp_path / name).write_bytes((fixtures / name).read_bytes())
    (tmp_path / "README.md").write_text("# About\n")
    (tmp_path / ".hidden.txt").write_text("P1: x\n")
    (tmp_path / "~$basic.docx").write_bytes(b"lock")
    (tmp_path / "table.csv").write_text("a\n")
    for name in ("study.sqlite", "study.sqlite-wal", "study.sqlite-shm"):  # a study kept here
        (tmp_path / name).write_bytes(b"SQLite format 3\x00")
    corpus = ts.read_corpus(tmp_path)
    assert corpus.ids == ["basic", "labelled", "teams"]
    assert corpus["teams"].meta["format"] == "vtt"
    assert "basic" in corpus and len(corpus) == 3
    assert corpus.skipped == (str(tmp_path / "table.csv"),)


def test_every_skipped_file_in_a_folder_is_named_with_what_to_do(tmp_path, fixtures, caplog):
    (tmp_path / "basic.txt").write_bytes((fixtures / "basic.txt").read_bytes())
    (tmp_path / "notes.pdf").write_bytes((fixtures / "notes.pdf").read_bytes())
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf")
    (tmp_path / "NOTES").write_text("P1: no extension\n")
    (tmp_path / "README.md").write_text("# About\n")  # not a transcript: passed over quietly
    with caplog.at_level("WARNING", logger="themesift"):
        corpus = ts.read_corpus(tmp_path)
    assert corpus.ids == ["basic"]
    assert [Path(p).name for p in corpus.skipped] == ["NOTES", "notes.pdf", "old.doc"]
    assert "3 files skipped" in repr(corpus)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 3
    assert warned[1].startswith(f"{tmp_path / 'notes.pdf'}: skipped: themesift does not read "
                                "'.pdf' files. Save the transcript as .docx or .txt")
    assert "Open it in Word and save it as .docx" in warned[2]
    assert "files without an extension" in warned[0] and ".txt, .md, .docx" in warned[0]
    assert all(w.endswith("or move it out of the folder.") for w in warned)


def test_same_file_name_in_two_formats_gets_distinct_ids_and_a_warning(tmp_path, fixtures, caplog):
    (tmp_path / "g1.txt").write_bytes((fixtures / "basic.txt").read_bytes())
    (tmp_path / "g1.md").write_bytes((fixtures / "bold_labels.md").read_bytes())
    (tmp_path / "g2.txt").write_bytes((fixtures / "basic.txt").read_bytes())
    assert ts.read_corpus(tmp_path).ids == ["g1_md", "g1_txt", "g2"]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1  # g2, alone with its name, keeps its id quietly
    assert warned[0].startswith(f"{tmp_path / 'g1.md'} and {tmp_path / 'g1.txt'} share the name "
                                "'g1', so their ids get the extension: g1_md, g1_txt")
    assert "Keep one format of each transcript, or rename the files." in warned[0]


def test_unknown_transcript_id_lists_the_known_ones(fixtures):
    corpus = ts.read_corpus([fixtures / "basic.txt"])
    with pytest.raises(KeyError, match="Available: basic"):
        corpus["nope"]


def test_turns_table(fixtures):
    turns = ts.read_corpus(fixtures / "basic.txt").turns()
    assert list(turns.columns[:4]) == ["doc_id", "index", "speaker", "role"]
    assert len(turns) == 6


# --- the sample data ------------------------------------------------------------------------

def test_sample_data_has_four_formats_and_real_group_talk(sample_corpus):
    formats = {t.meta["format"] for t in sample_corpus}
    assert {"txt", "docx", "vtt"} <= formats and len(sample_corpus) >= 4
    for t in sample_corpus:
        _assert_offsets(t)
        words = sum(len(turn.text.split()) for turn in t.turns)
        assert 1500 <= words <= 3000, (t.id, words)
        participants = {x.speaker for x in t.turns if x.role == "participant"}
        moderators = {x.speaker for x in t.turns if x.role == "moderator"}
        assert 4 <= len(participants) <= 8, (t.id, participants)
        assert len(moderators) == 1, (t.id, moderators)


# --- tables of pre-segmented text ----------------------------------------------------------

def test_table_reader_csv_with_ids_keeps_other_columns(tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text("qid;quote;group\nq1;First quote;A\nq2;Second quote;B\n")
    units = ts.read_table(path, text_column="quote", id_column="qid")
    assert list(units.columns[:2]) == ["unit_id", "text"]
    assert list(units["unit_id"]) == ["q1", "q2"]
    assert list(units["group"]) == ["A", "B"]


def test_table_reader_xlsx_and_row_number_ids(tmp_path):
    import pandas as pd

    path = tmp_path / "quotes.xlsx"
    pd.DataFrame({"text": ["One.", "Two."]}).to_excel(path, index=False)
    assert list(ts.read_table(path)["unit_id"]) == ["row2", "row3"]


@pytest.mark.parametrize("content, kwargs, message", [
    ("a,b\n1,2\n", {}, r"t\.csv, line 1: No column 'text'\. Columns in the file: a, b"),
    ("id,text\nx,hello\ny,\n", {}, r"t\.csv, line 3: Empty 'text' cell in row\(s\) 3"),
    ("id,text\nx,hello\nx,again\n", {"id_column": "id"}, r"line 3: The id 'x' in row 3 repeats row 2"),
    ("", {}, r"t\.csv: The file is empty"),
    ("PK\x03\x04\x14\x00\x06\x00", {}, r"t\.csv: This is a workbook \(\.xlsx\) saved under a \.csv name"),
])
def test_table_reader_bad_input(tmp_path, content, kwargs, message):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        ts.read_table(path, **kwargs)


# --- speakers the readers used to miss ------------------------------------------------------

def _read(tmp_path, name, content, **kwargs):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    t = ts.read_transcript(path, **kwargs)
    _assert_offsets(t)
    return t


def test_a_named_speaker_who_speaks_once_starts_a_turn(tmp_path):
    t = _read(tmp_path, "g.txt",
              "Title: Ward staff group\nTranscriber: J. Patel\n\n"
              "Moderator: What gets in the way?\n"
              "Siobhan: Staffing, mostly. We're always two down on nights.\n"
              "Tomasz: And the paperwork.\n"
              "Note: the fire alarm went off here.\n"
              "Siobhan: The risk forms have doubled.\n"
              "Moderator: Anyone else?\n"
              "Aoife: For me it's the culture. Some staff think recovery is a fad.\n"
              "Tomasz: I'd agree with that.\n")
    assert [x.speaker for x in t.turns] == ["Moderator", "Siobhan", "Tomasz", "Siobhan",
                                            "Moderator", "Aoife", "Tomasz"]
    assert t.turns[5].text == "For me it's the culture. Some staff think recovery is a fad."
    assert t.turns[2].text == "And the paperwork.\nNote: the fire alarm went off here."
    assert t.meta["header"] == "Title: Ward staff group\nTranscriber: J. Patel"


def test_a_one_off_word_is_no_speaker_where_the_labels_are_roles(tmp_path):
    t = _read(tmp_path, "g.txt", "Moderator: What helps?\nP1: Time.\nHonestly: the time.\n"
                                 "P2: Yes.\nP1: Right.\n")
    assert [x.speaker for x in t.turns] == ["Moderator", "P1", "P2", "P1"]


def test_a_single_voice_tag_cue_is_a_turn(tmp_path):
    t = _read(tmp_path, "g.vtt",
              "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Facilitator>What helped?</v>\n\n"
              "00:00:04.500 --> 00:00:12.000\n<v Liam Byrne>She told me her own story.</v>\n\n"
              "00:00:12.500 --> 00:00:19.000\n<v Chioma Eze>Mine helped me with the forms.</v>\n\n"
              "00:00:19.500 --> 00:00:22.000\n<v Liam Byrne>Yes, the forms.</v>\n")
    assert [(x.speaker, x.text) for x in t.turns][1:3] == [
        ("Liam Byrne", "She told me her own story."), ("Chioma Eze", "Mine helped me with the forms.")]


def test_otter_speaker_heard_once_starts_a_turn(tmp_path):
    t = _read(tmp_path, "o.txt",
              "Carers group 3\n\nSpeaker 1  0:03\nWhat has helped?\n\n"
              "Speaker 2  0:15\nThe peer group.\n\nUnknown Speaker  0:31\n(laughs) Same for us.\n\n"
              "Speaker 1  0:35\nThank you.\n")
    assert [(x.speaker, x.time_start) for x in t.turns] == [
        ("Speaker 1", 3.0), ("Speaker 2", 15.0), ("Unknown Speaker", 31.0), ("Speaker 1", 35.0)]
    assert t.turns[2].text == "(laughs) Same for us."


def test_labels_with_a_role_in_parentheses_or_surname_first(tmp_path):
    t = _read(tmp_path, "c.txt",
              "INTERVIEWER: Tell me about the first contact.\n"
              "PARTICIPANT 4 (carer): It was a nightmare.\n"
              "Anna (Moderator): And after that?\n"
              "PARTICIPANT 4 (carer): A nurse came.\n"
              "Zoë: Can I add something?\n"
              "Yes, exactly: that nurse.\n")
    assert _speakers_and_roles(t) == [
        ("INTERVIEWER", "moderator"), ("PARTICIPANT 4 (carer)", "participant"),
        ("Anna (Moderator)", "moderator"), ("PARTICIPANT 4 (carer)", "participant"),
        ("Zoë", "participant")]
    assert t.turns[-1].text == "Can I add something?\nYes, exactly: that nurse."


def test_caption_labels_with_a_role_in_parentheses_or_surname_first(tmp_path):
    cue = "{n}\n00:00:0{n}.000 --> 00:00:0{n}.900\n{words}\n\n"
    zoom = "WEBVTT\n\n" + "".join(cue.format(n=n, words=w) for n, w in enumerate([
        "Anna Lindqvist (Host): Hi everyone.", "Sam Okafor (he/him): Hello.",
        "Lindqvist, Anna: Let me ask.", "Anna Lindqvist (Host): What helps?",
        "Sam Okafor (he/him): The tenancy.", "Lindqvist, Anna: Thanks."], start=1))
    t = _read(tmp_path, "z.vtt", zoom)
    assert _speakers_and_roles(t) == [
        ("Anna Lindqvist (Host)", "moderator"), ("Sam Okafor (he/him)", "participant"),
        ("Lindqvist, Anna", "participant"), ("Anna Lindqvist (Host)", "moderator"),
        ("Sam Okafor (he/him)", "participant"), ("Lindqvist, Anna", "participant")]
    named = ts.read_transcript(tmp_path / "z.vtt", moderator=["Anna Lindqvist", "Lindqvist, Anna"])
    assert {x.role for x in named.turns if "Anna" in x.speaker} == {"moderator"}

    t = _read(tmp_path, "t.vtt",
              "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Dr. Siobhán O'Connor (Facilitator)>Hello.</v>\n\n"
              "00:00:02.000 --> 00:00:03.000\n<v Jürgen Müller>Hi.</v>\n")
    assert _speakers_and_roles(t) == [("Dr. Siobhán O'Connor (Facilitator)", "moderator"),
                                      ("Jürgen Müller", "participant")]


def test_a_cue_with_two_voices_is_two_turns(tmp_path):
    t = _read(tmp_path, "m.vtt",
              "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n"
              "<v Facilitator>Did the team involve you?</v>\n<v Priya Raman>No, not at all.</v>\n\n"
              "00:00:04.500 --> 00:00:12.000\n<v Priya Raman>They phoned the day before.</v>\n\n"
              "00:00:12.500 --> 00:00:14.000\n<v Facilitator>That must have been hard.</v> "
              "<v Priya Raman>It was.</v>\n")
    assert [(x.speaker, x.text) for x in t.turns] == [
        ("Facilitator", "Did the team involve you?"),
        ("Priya Raman", "No, not at all. They phoned the day before."),
        ("Facilitator", "That must have been hard."), ("Priya Raman", "It was.")]
    assert (t.turns[1].time_start, t.turns[1].time_end) == (1.0, 12.0)


def test_bracketed_annotations_at_the_start_of_a_line_are_not_speakers(tmp_path):
    t = _read(tmp_path, "o.txt",
              "Speaker 1  0:03\nWhat helped?\n\n"
              "Speaker 2  0:15\nThe peer group. [inaudible 00:00:19] nobody judged us.\n"
              "[inaudible 00:00:24] and then the coordinator came.\n\n"
              "Speaker 3  0:35\nThe crisis line.\n[crosstalk 00:00:52]\n[Phone rings] Sorry.\n\n"
              "Speaker 1  0:55\nThanks.\n")
    assert [x.speaker for x in t.turns] == ["Speaker 1", "Speaker 2", "Speaker 3", "Speaker 1"]
    assert t.turns[1].text.endswith("[inaudible 00:00:24] and then the coordinator came.")
    assert t.turns[2].text.endswith("[crosstalk 00:00:52]\n[Phone rings] Sorry.")
    t = _read(tmp_path, "b.txt", "[Moderator] What helps?\n[Music Therapist] Songs.\n"
                                 "[Crosstalk 00:00:52]\n[Moderator] Thanks.\n[Music Therapist] Yes.\n")
    assert [x.speaker for x in t.turns] == ["Moderator", "Music Therapist"] * 2
    assert t.turns[1].text == "Songs.\n[Crosstalk 00:00:52]"


def test_a_title_line_with_a_colon_is_header(tmp_path):
    t = _read(tmp_path, "h.txt",
              "Focus Group 2: Carers of people with psychosis, Leeds site\nTranscriber: J. Patel\n\n"
              "Moderator: Welcome everyone.\nP1: Thanks for having us.\nModerator: What has helped?\n")
    assert [x.speaker for x in t.turns] == ["Moderator", "P1", "Moderator"]
    assert t.meta["header"].startswith("Focus Group 2: Carers")


def test_names_typed_with_combining_accents_are_labels(tmp_path):
    nfd = "Jose\u0301"
    t = _read(tmp_path, "n.txt", f"Moderator: What helped?\n{nfd}: The nurse.\nRene\u0301e: Me too.\n"
                                 f"{nfd}: Every week.\n")
    assert [x.speaker for x in t.turns] == ["Moderator", "José", "Renée", "José"]
    assert t.text.count(nfd) == 2  # the text keeps its own spelling


def test_docx_bold_emphasis_headings_and_quotes_are_not_speakers(tmp_path):
    from docx import Document

    doc = Document()
    doc.add_heading("Focus group 4: inpatient nurses", 1)
    doc.add_paragraph("Date: 12/06/2024")

    def para(*runs):
        p = doc.add_paragraph()
        for words, bold in runs:
            p.add_run(words).bold = bold

    para(("Facilitator:", True), (" What does a good shift look like?", False))
    para(("Nurse 2", True), (" One where I talk to people.", False))
    para(("Never", True), (" did anyone ask us what we needed.", False))
    para(("Facilitator:", True), (" Why is that?", False))
    para(("Nurse 2:", True), (" A patient said to me last week:", False))
    para(('Patient: "You lot only come when something\'s gone wrong."', False))
    para(("And she was right.", False))
    doc.save(tmp_path / "g.docx")
    t = ts.read_transcript(tmp_path / "g.docx")
    _assert_offsets(t)
    assert [x.speaker for x in t.turns] == ["Facilitator", "Nurse 2", "Facilitator", "Nurse 2"]
    assert t.turns[1].text == "One where I talk to people.\nNever did anyone ask us what we needed."
    assert t.turns[3].text.endswith('Patient: "You lot only come when something\'s gone wrong."\n'
                                    "And she was right.")
    assert t.meta["header"] == "Focus group 4: inpatient nurses\nDate: 12/06/2024"


def test_a_moderator_name_that_is_nobody_warns_with_the_speakers(tmp_path, caplog):
    # Names given replace the role words, so a name that is nobody's makes the moderator's
    # questions participants' talk: say so, with the speakers there are.
    path = tmp_path / "fg.txt"
    path.write_text("Moderator: What helps?\nP1: Being listened to.\nModerator: Anyone else?\n"
                    "P2: Time.\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        t = ts.read_transcript(path, moderator="Nobody")
    assert {turn.role for turn in t.turns} == {"participant"}
    assert "no speaker is named 'Nobody'" in caplog.text and "Moderator, P1, P2" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        ts.read_transcript(path, moderator="Moderator")
        ts.read_transcript(path)
    assert "no speaker is named" not in caplog.text


def test_the_readme_shows_the_turn_the_sample_really_has():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text().splitlines()
    at = next(i for i, line in enumerate(readme) if line.startswith('corpus["fg1_act_team"].turns[1]'))
    shown = []
    for line in readme[at + 1:]:
        if not line.startswith("#"):
            break
        shown.append(line.lstrip("# "))
    turn = ts.read_corpus(root / "data" / "sample")["fg1_act_team"].turns[1]
    assert " ".join(shown) == repr(turn)


@pytest.mark.parametrize("reader", ["read_table", "chunks"])
def test_a_text_with_an_unquoted_comma_is_refused_at_its_line(tmp_path, reader):
    # Every row one field too long: pandas took the id as the row's index and the first half
    # of the text as its id, without a word.
    path = tmp_path / "quotes.csv"
    path.write_text("id,text\nq1,The staff were kind, and they listened to me\n"
                    "q2,The ward was clean, but noisy at night\n", encoding="utf-8")
    from themesift.ingest.table import read_table_chunks

    read = (lambda: ts.read_table(path, id_column="id")) if reader == "read_table" else (
        lambda: list(read_table_chunks(path, id_column="id")))
    with pytest.raises(InputError, match=r"quotes\.csv, line 2: This row has 3 fields where "
                                         r"the header has 2: a text with a comma"):
        read()


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_a_table_past_the_sniffed_head_is_read_in_its_encoding(tmp_path, monkeypatch, encoding):
    # The encoding is told from the head of the file: a cp1252 character only after it, or a
    # UTF-16 head cut inside a two-byte newline, made a readable table unreadable.
    import importlib

    from themesift.ingest.table import read_table_chunks

    monkeypatch.setattr(importlib.import_module("themesift.ingest.table"), "_SNIFF_BYTES", 64)
    path = tmp_path / "big.csv"
    rows = [f"r{i},Plain words about the ward, row {i}" for i in range(30)]
    text = "id,text\n" + "\n".join(f'{r.split(",", 1)[0]},"{r.split(",", 1)[1]}"' for r in rows)
    path.write_bytes((text + '\nlast,"Staff were très helpful"\n').encode(encoding))
    table = pd.concat(read_table_chunks(path, id_column="id", chunk_rows=7))
    assert len(table) == 31 and table["text"].iloc[-1] == "Staff were très helpful"


@pytest.mark.parametrize("content, columns", [
    # A semicolon "CSV" whose column name holds commas (in quotes, as Excel writes it).
    ('id;"text, as said";theme_id\nq1;"Yes, well, no";hope\n', ["id", "text, as said", "theme_id"]),
    ("id;text\nq1;Hello, there, you\n", ["id", "text"]),
    ("text\nhello; there\n", ["text"]),  # one column: a semicolon inside a text is no delimiter
    ("id\ttext\nq1\tx, y\n", ["id", "text"]),
])
def test_a_csv_delimiter_is_the_one_that_splits_the_header_into_columns(tmp_path, content,
                                                                         columns):
    path = tmp_path / "table.csv"
    path.write_text(content, encoding="utf-8")
    table = ts.read_table(path, text_column=columns[-2] if len(columns) > 2 else columns[-1])
    assert set(columns) <= set(table.columns) and len(table) == 1


def test_a_table_with_a_whole_document_in_one_cell_is_read(tmp_path):
    path = tmp_path / "huge.csv"
    pd.DataFrame({"id": ["q1", "q2"], "text": ["word " * 40_000, "A short one."]}).to_csv(
        path, index=False)
    # 200,000 characters: over the csv module's own cell limit (128 KiB)
    for read in (ts.read_table, lambda p: next(iter(read_table_chunks(p)))):
        table = read(path)
        assert len(table) == 2 and len(table["text"][0]) == 200_000


def test_blank_lines_in_a_csv_are_skipped_and_rows_keep_their_spreadsheet_numbers(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text('text\nfirst one\n\nsecond one\n\n\n"third\n\nwith lines"\n\n')
    assert ts.read_table(path)["unit_id"].tolist() == ["row2", "row4", "row7"]
    pieces = list(read_table_chunks(path, chunk_rows=2))
    assert [u for piece in pieces for u in piece["unit_id"]] == ["row2", "row4", "row7"]
    (tmp_path / "gap.csv").write_text("id,text\n1,first one\n\n3,  \n")
    with pytest.raises(InputError, match=r"row\(s\) 4"):  # a blank text cell, not a blank line
        ts.read_table(tmp_path / "gap.csv")


def test_a_transcribers_note_opening_a_line_is_no_speaker(tmp_path):
    turns = _read_text(tmp_path, "Aoife: I went back to the house.\n\nNiamh: And then what?\n\n"
                       "[Crying] Sorry. He was only seven when it happened.\n\n"
                       "Niamh: Take your time.\n\nAoife: I'm okay.\n").turns
    assert [t.speaker for t in turns] == ["Aoife", "Niamh", "Niamh", "Aoife"]
    assert "[Crying] Sorry. He was only seven" in turns[1].text


def test_a_docx_reads_with_its_tracked_changes_accepted(tmp_path):
    docx = pytest.importorskip("docx")
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    document.add_paragraph("P1: I would change the ")
    paragraph = document.paragraphs[-1]
    paragraph._p.append(parse_xml(
        f'<w:ins {nsdecls("w")} w:id="1" w:author="KJ" w:date="2026-12-01T10:00:00Z">'
        '<w:r><w:t xml:space="preserve">discharge process, because people are sent home '
        'with nothing</w:t></w:r></w:ins>'))
    paragraph._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="2" w:author="KJ" w:date="2026-12-01T10:00:00Z">'
        '<w:r><w:delText xml:space="preserve"> struck out</w:delText></w:r></w:del>'))
    paragraph.add_run(" and they end up back in crisis.")
    document.add_paragraph("P2: The waiting room needs to feel less like a police station.")
    document.save(tmp_path / "tracked.docx")
    turns = ts.read_transcript(tmp_path / "tracked.docx").turns
    assert turns[0].text == ("I would change the discharge process, because people are sent "
                             "home with nothing and they end up back in crisis.")


@pytest.mark.parametrize("label", ["Focus Group Facilitator", "Sarah [Moderator]", "Co-facilitator",
                                   "Lead Facilitator", "Anna - Facilitator",
                                   "Facilitator Anna Lindqvist"])
def test_common_moderator_labels_are_the_moderators(tmp_path, label):
    transcript = _read_text(tmp_path, f"{label}: What helped you most after discharge?\n\n"
                            "P1: My sister. She moved in with me for a month.\n\n"
                            f"{label}: And services?\n\nP1: The home treatment team were good.\n")
    turns = transcript.turns
    assert [t.role for t in turns] == ["moderator", "participant"] * 2, [t.speaker for t in turns]
    assert "services" not in " ".join(ts.segment(transcript)["text"])


def test_zoom_labels_in_brackets_with_a_clock_time_keep_the_time_out_of_the_words(tmp_path):
    turns = _read_text(tmp_path, "[Anna Lindqvist] 10:02:03\nOkay, can everyone hear me?\n\n"
                       "[Kwame Mensah] 10:02:09\nYep, loud and clear.\n\n"
                       "[Anna Lindqvist] 10:02:15\nWhat has your experience been?\n\n"
                       "[Kwame Mensah] 10:02:30\nMixed, to be honest.\n").turns
    assert [(t.speaker, t.text) for t in turns][:2] == [
        ("Anna Lindqvist", "Okay, can everyone hear me?"), ("Kwame Mensah", "Yep, loud and clear.")]


@pytest.mark.parametrize("name", ["Dafydd ap Rhys", "Máire ní Dhomhnaill", "José García y López",
                                  "Ana de los Santos"])
def test_a_name_with_a_lowercase_particle_speaking_once_is_a_speaker(tmp_path, name):
    transcript = _read_text(
        tmp_path, f"Siobhán Kelly: The tea trolley was the best part.\n\nTom Evans: Agreed.\n\n"
        f"Siobhán Kelly: And the garden.\n\n{name}: In Wales we had the Measure.\n")
    assert transcript.turns[-1].speaker == name


def test_a_caption_cue_of_two_speakers_gives_each_their_words(tmp_path):
    srt = tmp_path / "dash.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nMODERATOR: Did the crisis team visit?\n\n"
                   "2\n00:00:03,500 --> 00:00:06,000\n- JO: Every day for a week.\n"
                   "- SAM: Never, not once.\n\n"
                   "3\n00:00:06,500 --> 00:00:12,000\nJO: They were brilliant with my meds.\n\n"
                   "4\n00:00:12,500 --> 00:00:18,000\nSAM: I rang them four times.\n",
                   encoding="utf-8")
    assert [(t.speaker, t.text) for t in ts.read_transcript(srt).turns] == [
        ("MODERATOR", "Did the crisis team visit?"), ("JO", "Every day for a week."),
        ("SAM", "Never, not once."), ("JO", "They were brilliant with my meds."),
        ("SAM", "I rang them four times.")]
    vtt = tmp_path / "two.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nInterviewer: What was hardest?\n\n"
                   "00:00:04.500 --> 00:00:09.000\nMark Evans: Going home to an empty flat.\n"
                   "Interviewer: Was anyone there to help?\n\n"
                   "00:00:09.500 --> 00:00:16.000\nMark Evans: No. Nobody covered her caseload.\n",
                   encoding="utf-8")
    turns = ts.read_transcript(vtt).turns
    assert [t.role for t in turns] == ["moderator", "participant", "moderator", "participant"]
    assert turns[1].text == "Going home to an empty flat."


def test_labels_with_a_stretch_of_time_or_a_note_with_a_comma_are_speakers(tmp_path):
    path = tmp_path / "times.txt"
    path.write_text("[00:00:01 - 00:00:05] Moderator: What helps?\n"
                    "P1 (00:00:06 - 00:00:09): Talking to the same nurse every week.\n"
                    "Participant 3 (female, 40s): Being believed, honestly.\n"
                    "[00:00:20 - 00:00:24] Moderator: Anything else?\n"
                    "P1 (00:00:25 - 00:00:31): Yes, exactly: the same nurse.\n",
                    encoding="utf-8")
    turns = ts.read_transcript(path).turns
    assert [(t.speaker, t.role, t.text, t.time_start) for t in turns] == [
        ("Moderator", "moderator", "What helps?", 1.0),
        ("P1", "participant", "Talking to the same nurse every week.", 6.0),
        ("Participant 3 (female, 40s)", "participant", "Being believed, honestly.", None),
        ("Moderator", "moderator", "Anything else?", 20.0),
        ("P1", "participant", "Yes, exactly: the same nurse.", 25.0)]


def test_captions_without_blank_lines_between_cues_keep_every_spoken_line(tmp_path):
    vtt = tmp_path / "packed.vtt"
    vtt.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nModerator: Tell us more.\n"
                   "00:00:03.500 --> 00:00:05.000\nP1: A lot.\n"
                   "00:00:05.500 --> 00:00:08.000\nP1: It was the staff, mostly.\n",
                   encoding="utf-8")
    assert [(t.speaker, t.text) for t in ts.read_transcript(vtt).turns] == [
        ("Moderator", "Tell us more."), ("P1", "A lot. It was the staff, mostly.")]
    srt = tmp_path / "packed.srt"  # the cue number before the next timing is no speech
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nModerator: Tell us more.\n2\n"
                   "00:00:03,500 --> 00:00:05,000\nP1: A lot.\n", encoding="utf-8")
    assert [t.text for t in ts.read_transcript(srt).turns] == ["Tell us more.", "A lot."]


def test_a_docx_table_of_time_speaker_and_words_reads_as_turns(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    table = document.add_table(rows=4, cols=3)
    for row, cells in zip(table.rows, [("Time", "Speaker", "Transcript"),
                                       ("00:00:05", "Interviewer", "Tell me about it."),
                                       ("00:00:12", "Participant", "I was nineteen."),
                                       ("00:01:10", "Interviewer", "How did that feel?")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.save(tmp_path / "t.docx")
    turns = ts.read_transcript(tmp_path / "t.docx").turns
    assert [(t.speaker, t.role, t.text) for t in turns] == [
        ("Interviewer", "moderator", "Tell me about it."),
        ("Participant", "participant", "I was nineteen."),
        ("Interviewer", "moderator", "How did that feel?")]


def test_words_read_out_mid_sentence_are_no_speaker(tmp_path):
    turns = _read_text(tmp_path, "Anna Lindqvist (Moderator): What happened when you were "
                       "discharged?\nKwame Mensah: It was chaos.\nFatima Begum: Mine said\n"
                       "Follow Up: GP in two weeks.\nAnd the GP had never even heard of me.\n"
                       "Anna Lindqvist (Moderator): How did that leave you?\n"
                       "Kwame Mensah: Abandoned.\nFatima Begum: Angry.\n").turns
    assert "Follow Up" not in {t.speaker for t in turns}
    assert turns[2].text.startswith("Mine said\nFollow Up: GP in two weeks.")


def test_labels_separated_by_a_tab_start_turns(tmp_path):
    turns = _read_text(tmp_path, "Interviewer\tHow did you come to use the service?\n"
                       "P1\tMy GP referred me after my dad died.\n"
                       "Interviewer\tAnd the first contact?\nP1\tA bit cold.\n"
                       "\tIndented words\tgo on.\n").turns
    assert [(t.speaker, t.role) for t in turns] == [("Interviewer", "moderator"),
                                                    ("P1", "participant")] * 2
    assert turns[3].text.startswith("A bit cold.")


def test_a_docx_heading_before_a_speaker_who_speaks_once_leaves_them_a_speaker(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    for text in ("Aoife: The ward was loud.", "Niamh: And the nights?", "Aoife: Worse.",
                 "Niamh: Thank you."):
        document.add_paragraph(text)
    document.add_heading("Second half", level=2)  # no full stop, as headings go
    document.add_paragraph("Siobhán: I came in late, sorry. The ward was loud for me too.")
    document.save(tmp_path / "h.docx")
    assert ts.read_transcript(tmp_path / "h.docx").turns[-1].speaker == "Siobhán"


@pytest.mark.parametrize("name, cue", [
    ("dash.vtt", "WEBVTT\n\n{n}00:00:0{s}.000 --> 00:00:0{e}.000\n{words}\n\n"),
    ("dash.srt", "{n}\n00:00:0{s},000 --> 00:00:0{e},000\n{words}\n\n"),
], ids=["vtt", "srt"])
def test_a_dialogue_dash_and_a_label_start_a_speakers_turn_named_nowhere_else(tmp_path, name, cue):
    words = ["MODERATOR: What gets in the way?", "NURSE: Turning up builds trust.",
             "- JO: We are two staff down.\n- SAM: And the waiting list grows.",
             # a dash without a label, and one before no person's label: words, as before
             "NURSE: Yes.\n- and the drink.\n- Note: they laugh."]
    turns = _read(tmp_path, name, "".join(
        cue.format(n=n if name.endswith(".srt") else "", s=2 * n, e=2 * n + 1, words=w)
        for n, w in enumerate(words, start=1))).turns
    assert [(t.speaker, t.text) for t in turns] == [
        ("MODERATOR", "What gets in the way?"), ("NURSE", "Turning up builds trust."),
        ("JO", "We are two staff down."), ("SAM", "And the waiting list grows."),
        ("NURSE", "Yes. - and the drink. Note: they laugh.")]  # the label's dash goes
    voiced = _read(tmp_path, "voices.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n"
                   "<v Nurse>Turning up builds trust.</v>\n\n00:00:05.000 --> 00:00:09.000\n"
                   "- <v Jo>We are two staff down.</v>\n- <v Sam>And the list grows.</v>\n")
    assert [(t.speaker, t.text) for t in voiced.turns] == [
        ("Nurse", "Turning up builds trust."), ("Jo", "We are two staff down."),
        ("Sam", "And the list grows.")]


def test_whisperx_labels_keep_their_underscores_and_name_the_moderator(tmp_path):
    text = ("SPEAKER_00: How do you build trust with people?\n"
            "SPEAKER_01: Turning up every week, at the same time.\n"
            "SPEAKER_00: And what gets in the way?\n**SPEAKER_01:** The targets.\n")
    for moderator in ("SPEAKER_00", "speaker_00", "SPEAKER00", "**SPEAKER_00:**", "Speaker 00"):
        turns = _read(tmp_path, "w.txt", text, moderator=moderator).turns
        assert [(t.speaker, t.role) for t in turns] == [
            ("SPEAKER_00", "moderator"), ("SPEAKER_01", "participant")] * 2, moderator
    assert "gets in the way" not in " ".join(
        ts.segment(ts.read_transcript(tmp_path / "w.txt", moderator="SPEAKER_00"))["text"])
    cue = _read(tmp_path, "w.srt", "1\n00:00:01,000 --> 00:00:04,000\n[SPEAKER_00]: And then?\n"
                "[SPEAKER_01]: Nothing.\n")  # WhisperX's .srt: a second speaker in a cue
    assert [(t.speaker, t.text) for t in cue.turns] == [("SPEAKER_00", "And then?"),
                                                       ("SPEAKER_01", "Nothing.")]


def test_a_one_off_name_read_as_words_warns_with_its_line_and_what_to_do(tmp_path, caplog):
    text = ("Date: 3 May\n\nModerator: What helps?\n\nP1: Turning up every week.\n\n"
            "Mary: We had a man who would not open the door.\n\n"
            "Note: the fire alarm went off.\n\nP2: The targets.\n\n"
            'Patient: "You lot only come when it goes wrong."\n\n'
            "Training: nobody has had any.\n\nTom: And the drink.\n")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        turns = _read(tmp_path, "once.txt", text).turns
    assert [t.speaker for t in turns] == ["Moderator", "P1", "P2"]  # the rule stays
    [warning] = caplog.messages
    assert warning.startswith(f"{tmp_path / 'once.txt'}, line 7: 'Mary:' is used once, so it "
                              "is read as words of P1's turn; line 17: 'Tom:' is used once, so "
                              "it is read as words of P2's turn. If Mary or Tom is a speaker")
    assert "'Participant Mary:'" in warning
    assert not any(f"'{label}:'" in warning for label in ("Date", "Note", "Patient", "Training"))
    # what the warning says to do works
    relabelled = _read(tmp_path, "fixed.txt", text.replace("Mary:", "Participant Mary:"))
    assert "Participant Mary" in {t.speaker for t in relabelled.turns}
    caplog.clear()
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        _read(tmp_path, "cue.srt", "1\n00:00:01,000 --> 00:00:02,000\nP1: Every week.\n\n"
              "2\n00:00:03,000 --> 00:00:04,000\nMary: He opened the door.\n\n"
              "3\n00:00:05,000 --> 00:00:06,000\nP2: Targets.\n\n"
              "4\n00:00:07,000 --> 00:00:08,000\nP1: Yes.\n")
    assert "cue.srt, line 6: 'Mary:' is used once, so it is read as words of P1's turn" in caplog.text

"""Reading transcripts as transcription services and caption tools deliver them: times after
the label, closing lines, back-channels inside a caption sentence, style tags, bold labels in
tracked changes, "Participant 3 - " labels, protected Word files."""

import pytest

import themesift as ts
from themesift import InputError

docx = pytest.importorskip("docx")


def _read(tmp_path, name, content, **kwargs):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return ts.read_transcript(path, **kwargs)


def _docx(tmp_path, paragraphs, name="t.docx"):
    """A .docx of one paragraph per string; returns its path and the document (to add to)."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    path = tmp_path / name
    document.save(path)
    return path


def _assert_offsets(transcript):
    for turn in transcript.turns:
        assert transcript.text[turn.start:turn.end] == turn.text
        assert turn.text == turn.text.strip() and turn.text


def _assert_unit_spans(transcript):
    units = ts.segment(transcript, include_moderator=True, include_backchannels=True)
    assert len(units)
    for unit in units.itertuples():
        assert transcript.text[unit.start:unit.end] == unit.text


# --- 1. a time after the label ---------------------------------------------------------------

TIMES_AFTER_LABELS = [
    "Interviewer: [00:00:05] Okay, is everyone able to hear me?",
    "P1: (00:00:12) The team helps. [00:00:20] We back each other up.",
    "Interviewer: [00:00:31] And what gets in the way?",
    "P2: [00:00:40] The rota. Nobody gets the same shift twice, so nobody knows anybody.",
    "[00:01:10] [crosstalk]",
    "it is the same on nights.",
    "P1: [00:01:30] Exactly. And then we\n[00:01:35]\nstop asking each other for help.",
]


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_a_time_after_the_label_is_the_turns_time_and_no_words(tmp_path, kind):
    lines = TIMES_AFTER_LABELS
    if kind == "txt":
        transcript = _read(tmp_path, "t.txt", "\n\n".join(lines) + "\n")
    else:
        transcript = ts.read_transcript(_docx(tmp_path, "\n".join(lines).split("\n")))
    turns = transcript.turns
    assert [(t.speaker, t.time_start) for t in turns] == [
        ("Interviewer", 5.0), ("P1", 12.0), ("Interviewer", 31.0), ("P2", 40.0),
        ("P2", 70.0), ("P1", 90.0)]
    assert turns[0].text == "Okay, is everyone able to hear me?"
    assert turns[1].text == "The team helps. [00:00:20] We back each other up."  # inside: words
    # a lone time mark between paragraphs is no one's words: the turn before ends above it,
    # and the speaker's words after it are a turn from that time
    assert turns[3].text.endswith("so nobody knows anybody.")
    assert turns[4].text == "it is the same on nights."
    assert turns[4].line == transcript.text.count("\n", 0, turns[4].start) + 1
    assert "[00:01:10]" not in " ".join(t.text for t in turns)
    # one inside a sentence that goes on stays where it is
    assert turns[5].text.startswith("Exactly. And then we\n")
    assert turns[5].text.endswith("stop asking each other for help.")
    _assert_offsets(transcript)
    _assert_unit_spans(transcript)


# --- 2. the transcription company's closing lines ----------------------------------------------

@pytest.mark.parametrize("marker", ["[END OF RECORDING]", "[End of recording]",
                                    "END OF TRANSCRIPT", "[END]", "*** End of interview ***"])
def test_an_end_of_recording_line_ends_the_talk_and_the_rest_is_the_footer(tmp_path, caplog, marker):
    text = ("Interviewer: What gets in the way of recovery work?\n\n"
            "Participant 1: Mostly the waiting lists. People wait months and lose hope.\n\n"
            "Participant 2: The turnover too. You build trust and then you leave.\n\n"
            f"{marker}\n\nTotal duration: 00:54:12\n\nQA: KL\n\n"
            "Acme Transcription Ltd, 12 High St, Leeds. Confidential.\n")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        transcript = _read(tmp_path, "t.txt", text)
    assert transcript.turns[-1].speaker == "Participant 2"
    assert transcript.turns[-1].text == "The turnover too. You build trust and then you leave."
    assert transcript.meta["footer"].startswith(marker)
    assert transcript.meta["footer"].endswith("Leeds. Confidential.")
    assert caplog.messages == []  # no label suggested for the marker nor the company's lines
    _assert_offsets(transcript)


def test_a_docx_ending_with_the_companys_lines_and_table_keeps_them_out_of_turns(tmp_path, caplog):
    document = docx.Document()
    for text in ("Interviewer: Thank you, that's all my questions.",
                 "Participant 2: The turnover too. You build trust and then you leave.",
                 "[END OF RECORDING]", "Total duration: 00:54:12"):
        document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    for row, (a, b) in zip(table.rows, [("Accuracy", "99% guaranteed"), ("Transcriber", "JM")]):
        row.cells[0].text, row.cells[1].text = a, b
    document.add_paragraph("Acme Transcription Ltd, 12 High St, Leeds.")
    document.save(tmp_path / "t.docx")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        transcript = ts.read_transcript(tmp_path / "t.docx")
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "Participant 2"]
    assert transcript.turns[-1].text.endswith("and then you leave.")
    assert "Acme" in transcript.meta["footer"] and "Transcriber" in transcript.meta["footer"]
    assert "END OF RECORDING" not in caplog.text
    _assert_offsets(transcript)


def test_talk_after_an_end_marker_is_still_read_and_no_bracket_is_suggested_as_a_label(tmp_path, caplog):
    # a recording in two parts: the speakers talk again after the marker, so it ends nothing
    text = ("P1: The waiting lists.\n\nP2: And the turnover.\n\n[Fire Alarm]\n\n"
            "[End of recording]\n\n[Recording resumes]\n\nP1: Where were we? The waiting lists.\n")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        transcript = _read(tmp_path, "t.txt", text)
    assert [t.speaker for t in transcript.turns] == ["P1", "P2", "P1"]
    assert caplog.messages == []  # "[Fire Alarm]" is a note, never "Participant Fire Alarm:"
    assert transcript.meta["footer"] == ""


# --- 3. a back-channel inside a caption sentence -----------------------------------------------

MID_SENTENCE_VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Anna Lindqvist (Facilitator)>What gets in the way?

00:00:05.000 --> 00:00:09.000
<v Grace Mensah>The hospital's main goal is reducing violence on the ward and keeping

00:00:09.000 --> 00:00:10.000
<v James Okafor>Mm.

00:00:10.000 --> 00:00:15.000
<v Grace Mensah>everyone safe, which is fair enough, but then the person's own goals disappear.

00:00:15.500 --> 00:00:16.000
<v James Okafor>Mm.

00:00:16.000 --> 00:00:20.000
<v Grace Mensah>That's the plan they write.
"""


def test_a_back_channel_inside_a_caption_sentence_does_not_cut_it(tmp_path):
    transcript = _read(tmp_path, "mid.vtt", MID_SENTENCE_VTT)
    assert [(t.speaker, t.text, t.time_start, t.time_end) for t in transcript.turns[1:]] == [
        ("Grace Mensah", "The hospital's main goal is reducing violence on the ward and keeping "
         "everyone safe, which is fair enough, but then the person's own goals disappear.",
         5.0, 15.0),
        # after the sentence it was said in; and the same speaker's next cue, a back-channel
        # after a finished sentence, is the same turn: one speaker's consecutive cues are one
        ("James Okafor", "Mm. Mm.", 9.0, 16.0),
        ("Grace Mensah", "That's the plan they write.", 16.0, 20.0)]
    assert [t.index for t in transcript.turns] == list(range(4))
    _assert_offsets(transcript)
    # not for a cue that says something: that is a turn of its own, where it was said
    said = _read(tmp_path, "said.vtt", MID_SENTENCE_VTT.replace(
        "<v James Okafor>Mm.\n\n00:00:10", "<v James Okafor>The ward is locked.\n\n00:00:10"))
    assert [t.speaker for t in said.turns][1:4] == ["Grace Mensah", "James Okafor", "Grace Mensah"]


# --- 4. style tags in captions -------------------------------------------------------------

def test_caption_position_and_style_tags_are_not_words(tmp_path):
    transcript = _read(tmp_path, "t.srt", "1\n00:00:01,000 --> 00:00:04,000\nP2: <font color=\"#ffff00\">"
                       "And the urine tests.</font> We build trust\n\n2\n00:00:04,000 --> 00:00:06,000\n"
                       "{\\an8}but we police them. {\\i1}It's a contradiction.{\\i0}\n")
    assert transcript.turns[0].text == ("And the urine tests. We build trust but we police them. "
                                        "It's a contradiction.")
    _assert_offsets(transcript)


# --- 5. bold labels without a colon ------------------------------------------------------------

def test_a_bold_label_in_a_tracked_insertion_starts_a_turn(tmp_path):
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    for label, words in [("Moderator", " What gets in the way?"), ("P2", " The staff turnover."),
                         (None, " Exactly, and then they stop engaging."),
                         ("P2", " Which gets written up as non-compliance.")]:
        paragraph = document.add_paragraph()
        if label is None:  # the transcriber inserted the label with tracked changes on
            paragraph._p.append(parse_xml(
                f'<w:ins {nsdecls("w")} w:id="1" w:author="JM" w:date="2024-03-12T00:00:00Z">'
                '<w:r><w:rPr><w:b/></w:rPr><w:t>P3</w:t></w:r></w:ins>'))
        else:
            paragraph.add_run(label).bold = True
        paragraph.add_run(words)
    document.save(tmp_path / "t.docx")
    transcript = ts.read_transcript(tmp_path / "t.docx")
    assert [(t.speaker, t.text) for t in transcript.turns][1:] == [
        ("P2", "The staff turnover."), ("P3", "Exactly, and then they stop engaging."),
        ("P2", "Which gets written up as non-compliance.")]
    _assert_offsets(transcript)


def test_a_markdown_bold_label_without_a_colon_starts_a_turn(tmp_path):
    transcript = _read(tmp_path, "t.md", "**Interviewer:** What helps you?\n**P1:** The team "
                       "helps, we back each other up.\n**P2** The rota gets in the way.\n"
                       "**P1:** And the paperwork.\n**Honestly** it is the forms.\n")
    assert [(t.speaker, t.text) for t in transcript.turns] == [
        ("Interviewer", "What helps you?"), ("P1", "The team helps, we back each other up."),
        ("P2", "The rota gets in the way."),
        ("P1", "And the paperwork.\n**Honestly** it is the forms.")]  # bold for emphasis: words
    _assert_offsets(transcript)


# --- 6. "Participant 3 - words" ----------------------------------------------------------------

DASH_LABELS = [
    "Interviewer - Thanks for joining. What does recovery mean on your ward?",
    "Participant 3 - For me it's choices - even when to have a cup of tea.",
    "Participant 4 - And the locked door.",
    "Interviewer - How do you handle that?",
    "P3 - We explain the rules.",
]


@pytest.mark.parametrize("kind", ["txt", "docx"])
def test_role_labels_followed_by_a_dash_start_turns(tmp_path, kind):
    if kind == "txt":
        transcript = _read(tmp_path, "t.txt", "\n".join(DASH_LABELS) + "\n")
    else:
        transcript = ts.read_transcript(_docx(tmp_path, DASH_LABELS))
    assert [(t.speaker, t.role, t.text) for t in transcript.turns] == [
        ("Interviewer", "moderator", "Thanks for joining. What does recovery mean on your ward?"),
        ("Participant 3", "participant", "For me it's choices - even when to have a cup of tea."),
        ("Participant 4", "participant", "And the locked door."),
        ("Interviewer", "moderator", "How do you handle that?"),
        ("P3", "participant", "We explain the rules.")]
    _assert_offsets(transcript)


def test_a_dash_after_ordinary_words_or_in_a_file_with_colon_labels_is_no_label(tmp_path):
    # colon labels: a role and a dash inside a turn are words
    transcript = _read(tmp_path, "t.txt", "Interviewer: What helps?\n\nP1: The team.\n"
                       "Nurse 2 - she was the one who listened.\nP2 - well, P2 is me - agrees.\n")
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "P1"]
    assert transcript.turns[1].text.endswith("P2 - well, P2 is me - agrees.")
    # a word or a name before a dash is speech, however often
    with pytest.raises(InputError, match="No speaker turns found"):
        _read(tmp_path, "u.txt", "Honestly - no.\nHonestly - it was fine.\nP1 - once.\n")


def test_names_followed_by_a_dash_get_the_exact_change_to_make(tmp_path):
    with pytest.raises(InputError, match=r'Lines such as "Anna - \.\.\." look like a speaker\'s '
                       r'label followed by " - ": replace " - " after each label with ": " '
                       r'\("Anna: \.\.\."\)') as info:
        _read(tmp_path, "t.txt", "Anna - What helps?\nKwame - The team.\nAnna - And?\n")
    assert "Error" not in str(info.value)


# --- 7. a password-protected or damaged .docx ------------------------------------------------

@pytest.mark.parametrize("content, says", [
    # Word writes a password-protected .docx as an encrypted OLE compound file
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8, "it is password-protected"),
    (b"PK\x03\x04 cut short", "it may be damaged or password-protected"),
], ids=["protected", "damaged"])
def test_a_password_protected_or_damaged_docx_says_so_and_what_to_do(tmp_path, content, says):
    path = tmp_path / "locked.docx"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        ts.read_transcript(path)
    message = str(info.value)
    assert message.startswith(f"{path}: This is not a readable Word .docx file: {says}")
    assert "save an unprotected copy as .docx" in message
    assert "Error" not in message and "PackageNotFound" not in message and "BadZip" not in message


# --- review fixes ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Interviewer - What helps you most?\nAnna - Walking, mostly.\nInterviewer - Why is that?\n"
     "Anna - The air.\n",
     [("Interviewer", "What helps you most?"), ("Anna", "Walking, mostly."),
      ("Interviewer", "Why is that?"), ("Anna", "The air.")]),
    ("INT - What helps?\nMaria Lopez - My sister.\nINT - And at work?\nMaria Lopez - Nothing.\n",
     [("INT", "What helps?"), ("Maria Lopez", "My sister."), ("INT", "And at work?"),
      ("Maria Lopez", "Nothing.")]),
], ids=["Interviewer-Anna", "INT-Maria-Lopez"])
def test_a_name_before_a_dash_on_two_lines_is_a_speaker_where_roles_are_dash_labels(tmp_path, text, expected):
    transcript = _read(tmp_path, "t.txt", text)
    assert [(t.speaker, t.text) for t in transcript.turns] == expected
    assert [t.role for t in transcript.turns] == ["moderator", "participant"] * 2
    _assert_offsets(transcript)
    _assert_unit_spans(transcript)


def test_a_word_or_a_one_off_name_before_a_dash_is_speech_and_the_name_is_warned_about(tmp_path, caplog):
    text = ("Interviewer - What helps you most?\nAnna - Walking, mostly.\nInterviewer - Why?\n"
            "Anna - The air.\nHonestly - it clears my head.\nHonestly - every time.\n"
            "Interviewer - Anyone else?\nKwame - Running.\n")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        transcript = _read(tmp_path, "t.txt", text)
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "Anna", "Interviewer", "Anna",
                                                      "Interviewer"]
    assert transcript.turns[3].text == "The air.\nHonestly - it clears my head.\nHonestly - every time."
    assert transcript.turns[4].text == "Anyone else?\nKwame - Running."
    assert "line 8: 'Kwame - ' is used once" in caplog.text and "'P5 - '" in caplog.text
    assert "Honestly" not in caplog.text
    _assert_offsets(transcript)


@pytest.mark.parametrize("goes_on", ["and keeping,", "and keeping -", "and keeping —",
                                     "and keeping…", "and keeping..."])
def test_a_comma_dash_or_ellipsis_at_the_end_of_a_cue_leaves_its_sentence_open(tmp_path, goes_on):
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Anna>We were trying to help\n\n"
           f"00:00:02.000 --> 00:00:03.000\n<v Anna>{goes_on}\n\n"
           "00:00:03.000 --> 00:00:04.000\n<v Bob>Mm.\n\n"
           "00:00:04.000 --> 00:00:05.000\n<v Anna>everyone safe.\n")
    transcript = _read(tmp_path, "t.vtt", vtt)
    assert [(t.speaker, t.text) for t in transcript.turns] == [
        ("Anna", f"We were trying to help {goes_on} everyone safe."), ("Bob", "Mm.")]
    _assert_offsets(transcript)


def test_one_speakers_cues_after_a_held_back_channel_are_one_turn(tmp_path):
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Anna>We were trying to help\n\n"
           "00:00:02.000 --> 00:00:03.000\n<v Anna>and keeping\n\n"
           "00:00:03.000 --> 00:00:04.000\n<v Bob>Mm.\n\n"
           "00:00:04.000 --> 00:00:05.000\n<v Anna>everyone safe.\n\n"
           "00:00:05.000 --> 00:00:06.000\n<v Bob>Right, so what did you do then?\n")
    transcript = _read(tmp_path, "t.vtt", vtt)
    assert [(t.speaker, t.text, t.time_start, t.time_end) for t in transcript.turns] == [
        ("Anna", "We were trying to help and keeping everyone safe.", 1.0, 5.0),
        ("Bob", "Mm. Right, so what did you do then?", 3.0, 6.0)]
    _assert_offsets(transcript)


@pytest.mark.parametrize("text, last, footer", [
    # a sentence wrapped onto a new line that reads like an end marker
    ("P1: How was it?\nP2: Much better, especially towards the\nend of the session.\n",
     "Much better, especially towards the\nend of the session.", ""),
    ("P1: How was it?\nP2: Much better, especially towards the\nEnd of the session.\n",
     "Much better, especially towards the\nEnd of the session.", ""),
    # set apart (brackets, capitals), a marker even mid-sentence: a recording cut off
    ("P1: How was it?\nP2: I was going to say that the\n[END OF RECORDING]\nAcme Ltd\n",
     "I was going to say that the", "[END OF RECORDING]\nAcme Ltd"),
    ("P1: How was it?\nP2: Much better, especially towards the\n[End of the session]\n",
     "Much better, especially towards the", "[End of the session]"),
    # plain lowercase words are speech, even after a finished sentence; capitalised, a marker
    ("P1: How was it?\nP2: Much better.\nend of the session.\n", "Much better.\nend of the session.", ""),
    ("P1: How was it?\nP2: Bye now.\nEnd of Transcript\nAcme Ltd\n", "Bye now.",
     "End of Transcript\nAcme Ltd"),
    # in brackets, capitals or between *** after a finished sentence, a marker
    ("P1: How was it?\nP2: Much better.\n(Recording ends)\nAcme Ltd\n", "Much better.",
     "(Recording ends)\nAcme Ltd"),
    ("P1: How was it?\nP2: Much better.\n*** END ***\nAcme Ltd\n", "Much better.", "*** END ***\nAcme Ltd"),
], ids=["wrapped", "wrapped-capitalised", "cut-off-capitals", "cut-off-bracketed", "plain",
        "title-case", "parenthesised", "stars"])
def test_an_end_marker_is_no_marker_inside_a_sentence_or_as_plain_words(tmp_path, text, last, footer):
    transcript = _read(tmp_path, "t.txt", text)
    assert [t.speaker for t in transcript.turns] == ["P1", "P2"]
    assert transcript.turns[-1].text == last
    assert transcript.meta["footer"] == footer
    _assert_offsets(transcript)


def test_a_time_in_parentheses_after_the_label_is_the_turns_time_and_spans_stay_exact(tmp_path):
    # by design (as "P3: [00:01:02] ..."): the time is the turn's, not its words
    transcript = _read(tmp_path, "t.txt", "P1: Where did you meet?\nP3: (12:30) we met at the café.\n")
    turn = transcript.turns[1]
    assert (turn.speaker, turn.text, turn.time_start) == ("P3", "we met at the café.", 750.0)
    assert transcript.text[turn.start - len("(12:30) "):turn.start] == "(12:30) "
    _assert_offsets(transcript)
    _assert_unit_spans(transcript)


@pytest.mark.parametrize("kind", ["md", "docx"])
def test_a_common_word_in_bold_opening_paragraphs_is_emphasis_not_a_label(tmp_path, kind):
    paragraphs = ["**Interviewer:** What helps you?", "**P1:** The team, mostly.",
                  "**Really** I mean it.", "**Really** I mean it, every shift."]
    if kind == "md":
        transcript = _read(tmp_path, "t.md", "\n\n".join(paragraphs) + "\n")
    else:
        document = docx.Document()
        for text in paragraphs:
            paragraph = document.add_paragraph()
            label, _, words = text[2:].partition("**")
            paragraph.add_run(label).bold = True
            paragraph.add_run(words)
        document.save(tmp_path / "t.docx")
        transcript = ts.read_transcript(tmp_path / "t.docx")
    assert [t.speaker for t in transcript.turns] == ["Interviewer", "P1"]
    assert transcript.turns[1].text.endswith("I mean it, every shift.")
    _assert_offsets(transcript)


def test_short_words_are_a_short_texts_words_without_notes_and_their_stems():
    from themesift.text import short_words

    assert short_words("Mm. [laughs] Right, meetings.", 3) == (["mm", "right", "meetings"], {"right", "meet"})
    assert short_words("one two three four", 3) is None

"""Reading a study's transcripts together: what is said about the whole set (the moderator
no label names, every file that cannot be read)."""

import pytest

import themesift as ts
from themesift import InputError
from themesift.cli import main

NAMED = ("Sarah: Thanks for coming. Is everyone happy to continue?\nTom: Yes.\n"
         "Priya: Yes, happy to.\nSarah: So what does a good day look like?\n"
         "Tom: When someone gets a small win.\nSarah: And a bad day? Anyone?\n"
         "Priya: When the team does not talk. Why would they?\n")


def test_a_moderator_no_label_names_is_pointed_out(tmp_path, caplog):
    # Zoom and Teams label people by name: nothing says who moderated, and the questions
    # became meaning units with confident themes, without a word.
    path = tmp_path / "zoom.txt"
    path.write_text(NAMED, encoding="utf-8")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        t = ts.read_transcript(path)
    assert {turn.role for turn in t.turns} == {"participant"}
    assert ("Sarah asks 3 of the 4 turns' questions. If Sarah moderated, give "
            "moderator='Sarah' (--moderator Sarah)") in caplog.text
    caplog.clear()
    labelled = tmp_path / "labelled.txt"
    labelled.write_text(NAMED.replace("Sarah:", "Moderator:"), encoding="utf-8")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        t = ts.read_transcript(path, moderator="Sarah")
        ts.read_transcript(labelled)
    assert [turn.role for turn in t.turns][:2] == ["moderator", "participant"]
    assert caplog.text == ""


@pytest.mark.parametrize("text", [
    "P1: Nothing is asked here.\nP2: No.\n",  # no questions: nobody to name
    "Sarah: Why? Who?\nTom: Yes.\nSarah: Right.\nTom: Fine.\n",  # one question turn
    "Sarah: Why?\nTom: How?\nSarah: When?\nTom: Where?\n",  # nobody asks most
    "Sarah: Why? How?\nSarah: When?\n",  # one speaker
])
def test_no_likely_moderator_no_warning(tmp_path, caplog, text):
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    with caplog.at_level("WARNING", logger="themesift.ingest"):
        ts.read_transcript(path)
    assert "moderated" not in caplog.text


def test_every_unreadable_transcript_of_a_folder_is_named_at_once(tmp_path, capsys):
    # A folder run stopped at the first bad file: three bad files took three re-runs.
    (tmp_path / "a_good.txt").write_text("Moderator: What helps?\nP1: Time.\n", encoding="utf-8")
    (tmp_path / "b_damaged.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "c_unlabelled.txt").write_text("Just words with no speakers at all.\n",
                                               encoding="utf-8")
    with pytest.raises(InputError) as caught:
        ts.read_corpus(tmp_path)
    message = str(caught.value)
    assert message.startswith("2 of the 3 transcripts cannot be read:\n- ")
    assert "b_damaged.docx: " in message and "c_unlabelled.txt: No speaker turns found" in message
    assert message.endswith("move it out of the folder to leave it out.")
    assert main(["segment", str(tmp_path), "--out", str(tmp_path / "u.csv")]) == 1
    assert "2 of the 3 transcripts cannot be read" in capsys.readouterr().err
    # one bad file: its own message, as before
    (tmp_path / "b_damaged.docx").unlink()
    with pytest.raises(InputError, match=r"^\S*c_unlabelled.txt: No speaker turns found"):
        ts.read_corpus(tmp_path)

"""Meaning units: exact offsets, sizes, dropped turns, stable ids, and no crash on any text."""

import time

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import themesift as ts
from themesift import InputError, Transcript, Turn
from themesift.model import UNIT_COLUMNS
from themesift.segment import is_backchannel, is_short_reply, load_spacy
import importlib

segment_module = importlib.import_module("themesift.segment")


def transcript(*turns: tuple[str, str], doc_id: str = "t") -> Transcript:
    """A transcript from (speaker, words) pairs, rendered "Speaker: words" per line."""
    text, out = "", []
    for i, (speaker, words) in enumerate(turns):
        prefix = f"{speaker}: "
        start = len(text) + len(prefix)
        role = "moderator" if speaker == "Moderator" else "participant"
        out.append(Turn(i, speaker, role, start, start + len(words), words))
        text += prefix + words + "\n"
    return Transcript(doc_id, text, tuple(out))


def assert_exact(corpus, units):
    by_id = {t.id: t for t in corpus}
    for u in units.itertuples():
        assert by_id[u.doc_id].text[u.start:u.end] == u.text
        assert u.text == u.text.strip() and u.text


LONG_TURN = (
    "I think for me it really starts with time. We sit with people, we have coffee with them, "
    "we go to the shops with them, and slowly they start to trust us. "
    "Another thing is the municipality. They want a new care plan every three months, the "
    "forms are long, and the goals in the plan are their goals, not the person's goals. "
    "Anyway, the paranoia is the hardest part. When someone is convinced we are poisoning "
    "the food, no amount of coffee builds trust."
)


def test_units_have_the_documented_columns_and_exact_offsets():
    t = transcript(("Moderator", "What helps?"), ("P1", LONG_TURN))
    units = ts.segment(t)
    assert list(units.columns) == [*UNIT_COLUMNS, "small_talk", "short_reply"]
    assert_exact([t], units)
    assert set(units["speaker"]) == {"P1"} and set(units["turn"]) == {1}


def test_sentence_splits_are_cached_and_a_broken_cache_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))
    t = transcript(("Moderator", "What helps?"), ("P1", LONG_TURN), doc_id="cached")
    first = ts.segment(t)
    assert (tmp_path / "sentences.sqlite").is_file()

    def no_spacy(*args, **kwargs):
        raise AssertionError("spaCy ran on a paragraph the cache holds")

    monkeypatch.setattr(load_spacy(), "pipe", no_spacy)
    monkeypatch.setattr(segment_module._rule_sentencizer("en"), "pipe", no_spacy)
    assert ts.segment(t).equals(first)
    monkeypatch.undo()
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))
    (tmp_path / "sentences.sqlite").write_bytes(b"not a database" * 100)
    assert ts.segment(t).equals(first)


def test_punctuated_paragraphs_are_split_by_rule_and_only_others_need_the_trained_pipeline(
        monkeypatch, tmp_path):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))
    assert segment_module._punctuated("Short and bare")
    assert segment_module._punctuated(LONG_TURN)
    run_on = " ".join(["and then we went to the ward and nobody there would talk to us"] * 6)
    assert not segment_module._punctuated(run_on)

    loads = []

    def counted(model=None):
        loads.append(model)
        return load_spacy(model)

    monkeypatch.setattr(segment_module, "load_spacy", counted)
    punctuated = ts.segment(transcript(("P1", LONG_TURN)))
    assert loads == [] and len(punctuated) == 3
    units = ts.segment(transcript(("P1", run_on)))
    assert loads == [None]
    assert_exact([transcript(("P1", run_on))], units)


@pytest.mark.parametrize("text", [
    "Just the one sentence here", "It helped.", "Great!!", 'He said "no."', "e.g. this one",
    "3.5 stars at most", "Wait… then what", "First. Second", "Is it? Yes", " padded ", "a\u3002b"])
def test_a_paragraph_with_no_inner_sentence_mark_skips_spacy_with_the_same_result(text):
    nlp = segment_module._rule_sentencizer("en")
    expected = [[(s.start_char, s.end_char) for s in nlp(text).sents]]
    assert segment_module._sentence_splits(load_spacy, "en", [text]) == expected


def test_one_sentence_paragraphs_never_reach_spacy(monkeypatch, tmp_path):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))

    def no_spacy(*args, **kwargs):
        raise AssertionError("spaCy ran on a one-sentence paragraph")

    monkeypatch.setattr(segment_module._rule_sentencizer("en"), "pipe", no_spacy)
    texts = ["It helped a lot.", "Nobody listened to us at all"]
    assert segment_module._sentence_splits(load_spacy, "en", texts) == [[(0, 16)], [(0, 28)]]


def test_a_long_turn_is_split_where_the_topic_shifts():
    units = ts.segment(transcript(("P1", LONG_TURN)))
    starts = [text.split()[0] for text in units["text"]]
    assert starts == ["I", "Another", "Anyway,"]


def test_one_idea_over_several_sentences_stays_one_unit():
    turn = ("We take the time to get to know them. That is how trust grows. "
            "Because without trust they will not let us help.")
    assert len(ts.segment(transcript(("P2", turn)))) == 1


def test_fragments_join_their_neighbours_and_units_stay_in_bounds():
    turn = "Yes. Right. " + " ".join(f"Sentence number {i} is about a different subject {i}." for i in range(30))
    units = ts.segment(transcript(("P1", turn)), min_words=8, max_words=40)
    words = units["text"].str.split().str.len()
    assert words.max() <= 40
    assert words.min() >= 8
    assert units["text"].iloc[0].startswith("Yes. Right. Sentence number 0")


def test_run_on_sentence_is_cut_at_a_clause_boundary():
    run_on = ", ".join(["and then we went to the housing office with him"] * 12) + "."
    units = ts.segment(transcript(("P1", run_on)), max_words=40)
    assert len(units) >= 3
    assert all(len(text.split()) <= 40 for text in units["text"])
    assert all(not text.startswith(",") for text in units["text"])


def test_an_unpunctuated_run_on_is_cut_before_a_conjunction_not_mid_clause():
    # Auto-captions have no punctuation: the cut fell between any two words, "... the drugs
    # when someone" | "is using heavily ...".
    run_on = ("what I would say is that the team has to be there for people for the long haul "
              "and then the other thing is the drugs when someone is using heavily you cannot "
              "always reach them and you have to keep the door open for them week after week "
              "without anything seeming to change which is hard on the staff as well")
    units = ts.segment(transcript(("P1", run_on)), max_words=40)
    assert len(units) >= 2
    for text in units["text"].iloc[1:]:
        assert text.split()[0] in {"and", "but", "so", "because", "when", "which", "while"}


def balanced(text):
    return all(text.count(o) == text.count(c) for o, c in ("[]", "()"))


def test_a_unit_never_ends_inside_a_bracketed_note():
    # spaCy's sentencizer splits this after the "[" of "[laughs]"; the note stays whole,
    # with the sentence it follows, wherever the unit ends
    turn = ("He grew a pumpkin on the allotment, a massive one, and he entered it in the "
            "village show and came third. [laughs] Another thing is the rosette, it hangs on "
            "his fridge and he shows it to everyone who comes to the flat.")
    units = ts.segment(transcript(("P1", turn)))
    assert len(units) == 2 and all(balanced(text) for text in units["text"])
    assert units["text"].iloc[0].endswith("came third. [laughs]")
    assert units["text"].iloc[1].startswith("Another thing")


def test_a_run_on_sentence_is_not_cut_inside_brackets():
    aside = "(and this was the worst of it, honestly, for all of us on the team, every day)"
    run_on = ", ".join(["and then we went to the housing office with him"] * 4) + f" {aside}, " + \
        ", ".join(["and then we went to the benefits office with him"] * 4) + "."
    units = ts.segment(transcript(("P1", run_on)), max_words=40)
    assert len(units) >= 2 and all(balanced(text) for text in units["text"])
    assert sum(aside in text for text in units["text"]) == 1


def test_no_sample_unit_cuts_a_bracketed_note(sample_units):
    assert [t for t in sample_units["text"] if not balanced(t)] == []


def test_moderator_and_backchannel_turns_are_dropped_unless_asked_for():
    t = transcript(("Moderator", "What do you think?"), ("P1", "Mm."), ("P2", "Yeah, exactly."),
                   ("P3", "[laughs] Yes."), ("P4", "Trust and time, mostly."), ("P5", "[crosstalk]"))
    assert list(ts.segment(t)["speaker"]) == ["P4"]
    everything = ts.segment(t, include_moderator=True, include_backchannels=True)
    assert list(everything["speaker"]) == ["Moderator", "P1", "P2", "P3", "P4"]
    assert list(everything["role"])[:2] == ["moderator", "participant"]


@pytest.mark.parametrize("text, expected", [
    ("Mm.", True), ("Yes, yes, exactly.", True), ("Mm-hmm.", True), ("[laughs]", True),
    ("Yeah, I agree.", True), ("No.", True), ("No, no, I'd finished.", False),
    ("Trust and time.", False), ("That was a good day.", False),
    ("Yes, the housing office is the problem.", False),
    # a short answer that says something is a reply, not a back-channel
    ("Racism.", False), ("They hit me.", False), ("I was raped.", False), ("My dog.", False),
])
def test_backchannels(text, expected):
    assert is_backchannel(text) is expected


def test_short_answers_are_units_left_out_of_the_codes():
    t = transcript(("Moderator", "What happened when you were admitted?"),
                   ("P1", "I was restrained."), ("Moderator", "By whom?"),
                   ("P1", "The police. Then the nurses."), ("Moderator", "And then?"),
                   ("P1", "Mm."), ("P2", "Trust comes back slowly, over months of visits."))
    units = ts.segment(t)
    assert list(units["text"])[:2] == ["I was restrained.", "The police. Then the nurses."]
    assert units["short_reply"].tolist() == [True, False, False]  # "police", "nurses": two
    assert not is_short_reply("Yes, the housing office is the problem.")


def test_unit_ids_are_stable_and_survive_edits_elsewhere():
    a = ts.segment(transcript(("P1", LONG_TURN), ("P2", "The budget is cut every single year now.")))
    again = ts.segment(transcript(("P1", LONG_TURN), ("P2", "The budget is cut every single year now.")))
    edited = ts.segment(transcript(("P1", "Something else entirely was said here today, I think."),
                                   ("P2", "The budget is cut every single year now.")))
    assert list(a["unit_id"]) == list(again["unit_id"])
    assert a["unit_id"].is_unique
    assert a["unit_id"].iloc[-1] == edited["unit_id"].iloc[-1]
    assert a["unit_id"].iloc[0].startswith("t-")


def test_repeated_words_get_distinct_ids():
    same = "We keep coming back, every week, whatever happens with them."
    units = ts.segment(transcript(("P1", same), ("P2", same)))
    assert len(units) == 2 and units["unit_id"].is_unique


@pytest.mark.parametrize("params, message", [
    ({"min_words": 0}, r"The 'min_words' parameter of segment\(\) must be an int in \[1, inf\)\. Got 0 instead"),
    ({"max_words": 10}, r"'max_words' parameter .* at least 2 \* min_words \(16\)\. Got 10"),
    ({"shift_threshold": 2}, r"'shift_threshold' parameter .* in \[0, 1\.5\]\. Got 2"),
])
def test_bad_parameters_say_what_is_allowed(params, message):
    with pytest.raises(InputError, match=message):
        ts.segment(transcript(("P1", "Words.")), **params)


@pytest.mark.parametrize("given, message", [
    (pd.DataFrame({"unit_id": ["u1"], "text": ["Trust takes months."]}), "already cut"),
    (pd.DataFrame({"quote": ["Trust takes months."]}), "read_table"),
    (123, "not int"),
    (["data/sample/fg1_act_team.txt"], "not str"),
    ("data/sample", r"not str \('data/sample'\)"),  # a path, named whole
    (None, "not NoneType"),
    ([None], "not NoneType"),
    ([], "no transcripts"),
])
def test_what_is_not_transcripts_is_refused_with_what_to_give(given, message):
    with pytest.raises(ts.InputError, match=message):
        ts.segment(given)


def test_transcripts_that_give_no_unit_say_so(caplog):
    t = transcript(("Moderator", "Hello everyone, can you all hear me?"), ("P1", "Mm."))
    assert ts.segment(t).empty
    assert "No meaning units were found" in caplog.text
    caplog.clear()
    with pytest.raises(ts.InputError, match="No meaning units were found"):
        ts.segment(t, refuse_empty=True)  # as segment and run refuse it: an error, no warning
    assert "No meaning units" not in caplog.text


def test_unknown_spacy_model_names_the_install_command():
    with pytest.raises(ts.MissingDependencyError, match="not installed. Install it with"):
        ts.segment(transcript(("P1", "Words.")), spacy_model="xx_no_such_pipeline")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.text(min_size=0, max_size=400), min_words=st.integers(1, 10))
def test_any_text_keeps_the_offset_invariant(words, min_words):
    load_spacy()
    t = Transcript("h", "P1: " + words, (Turn(0, "P1", "participant", 4, 4 + len(words), words),))
    units = ts.segment(t, min_words=min_words, max_words=2 * min_words + 5,
                       include_backchannels=True)
    assert_exact([t], units)
    assert (units["start"].diff().dropna() > 0).all()
    assert (units["end"] <= len(t.text)).all()


@given(st.lists(st.sampled_from(["Mm.", "Yes!", "And so", "we", "trust", "housing", ",", ".",
                                 "\n", "\n\n", " - ", "[laughs]", "—", "Anyway,", "It", "…"]),
                max_size=120))
@settings(max_examples=100, deadline=None)
def test_speechlike_token_soup_keeps_the_offset_invariant(tokens):
    words = " ".join(tokens)
    t = Transcript("h", words, (Turn(0, "P1", "participant", 0, len(words), words),))
    assert_exact([t], ts.segment(t, max_words=20))


# --- the sample data ------------------------------------------------------------------------

def test_offset_invariant_on_every_sample_transcript(sample_corpus, sample_units):
    assert_exact(sample_corpus, sample_units)
    assert set(sample_units["doc_id"]) == set(sample_corpus.ids)
    assert set(sample_units["role"]) == {"participant"}
    assert sample_units["unit_id"].is_unique


def test_sample_units_look_like_meaning_units(sample_corpus, sample_units):
    words = sample_units["text"].str.split().str.len()
    assert words.max() <= 80
    assert words.median() >= 15
    # A unit under min_words is a whole (short) turn, never a fragment cut off a longer one.
    for u in sample_units[words < 8].itertuples():
        assert sample_corpus[u.doc_id].turns[u.turn].text == u.text


def test_segmenting_the_samples_takes_under_two_seconds(sample_corpus):
    load_spacy()
    started = time.perf_counter()
    ts.segment(sample_corpus)
    assert time.perf_counter() - started < 2.0


def test_a_reply_to_the_moderators_audio_check_is_small_talk_in_context():
    t = transcript(
        ("Moderator", "Hello, can everyone hear me okay?"),
        ("P1", "Yes, loud and clear."),
        ("P2", "Mm."),
        ("Moderator", "Great, I can hear you all now. So, what does a good week look like?"),
        ("P2", "Housing and money, mostly."),  # answers the question, not the audio check
        ("P3", "Trust takes months, you can't rush it with anyone on the team."),
    )
    units = ts.segment(t)
    assert units["text"].tolist()[:2] == ["Yes, loud and clear.", "Housing and money, mostly."]
    assert units["small_talk"].tolist() == [True, False, False]
    reasons = segment_module.small_talk_in_transcripts(units, [t])
    assert reasons[0] == "in a small-talk exchange: audio and video"


def test_the_last_words_of_a_point_are_not_read_as_a_reply_to_the_closing():
    t = transcript(
        ("P3", "Just that the people we work with know a lot. About their own illness, about "
               "what works for them and what doesn't. Someone will tell you the tablet made "
               "them feel like a zombie, that's why they stopped, and it goes in the notes as "
               "non-compliance. And actually they were telling you something really important. "
               "So I'd just want people to listen. That's it, really."),
        ("Moderator", "Lovely, thanks everyone, we'll stop the recording there."),
    )
    # Units marked by hand (as a coded project's are): the turn's last sentences apart.
    text = t.turns[0].text
    cut = text.index("So I'd")
    units = pd.DataFrame({"doc_id": ["t", "t"], "turn": [0, 0],
                          "start": [t.turns[0].start, t.turns[0].start + cut],
                          "text": [text[:cut - 1], text[cut:]]})
    assert segment_module.small_talk_in_transcripts(units, [t]) == [None, None]
    # Without its turn, the tail reads as a reply to the closing.
    assert segment_module.small_talk_in_transcripts(units.drop(columns="turn"), [t])[1]


def test_small_talk_in_one_transcript_is_not_read_into_the_next():
    first = transcript(("P1", "Trust takes months, you can't rush it with anyone on the team."),
                       ("P2", "Sorry, my camera's frozen again."), doc_id="a")
    second = transcript(("P1", "Loud and clear, thanks."),
                        ("P2", "Trust takes months, you can't rush it with anyone on the team."),
                        doc_id="b")
    units = ts.segment([first, second])
    assert units.set_index(["doc_id", "turn"])["small_talk"].to_dict() == {
        ("a", 0): False, ("a", 1): True, ("b", 0): False, ("b", 1): False}


def test_a_day_abbreviation_ends_no_sentence():
    from themesift.segment import _rule_sentencizer

    text = "The nurse rang on Tues. and asked how the meds were going. I said fine."
    sentences = [s.text for s in _rule_sentencizer("en")(text).sents]
    assert sentences == ["The nurse rang on Tues. and asked how the meds were going.",
                         "I said fine."]

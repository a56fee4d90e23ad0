"""discover_codes: candidate codes from meaning units.

Most tests use a planted corpus (five clearly different topics, written from templates) and a
fake embedder that hashes word counts, so they run in seconds; one test uses the real model.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer
from sklearn.metrics import adjusted_rand_score

from themesift.discover import ASSIGNMENT_COLUMNS, TABLE_COLUMNS, discover_codes
from themesift.errors import InputError

# --------------------------------------------------------------------------------------------
# A planted corpus and a fake embedder

TOPICS = {
    "housing": "flat tenancy council landlord rent housing keys neighbours bills hostel",
    "medication": "medication depot tablets dose prescription psychiatrist clozapine pharmacy "
                  "injection bloods",
    "family": "daughter son family grandchildren sister contact birthday children mother nephew",
    "work": "job employment college volunteering interview course training shifts cv manager",
    "drinking": "alcohol drinking cannabis methadone detox relapse heroin sober pub craving",
}
OPENERS = ["Um, I think the", "Honestly, the", "For me it's the", "Yeah, so the",
           "We talked about the", "You know, the", "I mean, the", "[laughs] Well, the"]
MIDDLES = ["and, like, the", "and then the", "because of the", "which is really about the",
           "and sort of the", "and the whole"]
ENDINGS = [".", ", you know.", ", really.", ", yeah.", " [crosstalk]", ", I suppose."]
FILLERS = {"um", "uh", "yeah", "like", "know", "mean", "think", "really", "just", "kind",
           "sort", "laughs", "crosstalk", "inaudible", "suppose", "honestly"}


def planted_units(per_topic: int = 20, seed: int = 7) -> pd.DataFrame:
    """Units about five topics; 'work' is all said by one speaker, the rest by many."""
    rng = random.Random(seed)
    rows = []
    for topic, words in TOPICS.items():
        words = words.split()
        for i in range(per_topic):
            a, b, c, d = rng.sample(words, 4)
            text = (f"{rng.choice(OPENERS)} {a} {rng.choice(MIDDLES)} {b}, "
                    f"{rng.choice(MIDDLES)} {c} {rng.choice(MIDDLES)} {d}{rng.choice(ENDINGS)}")
            doc = f"fg{rng.randint(1, 3)}"
            speaker = "P3" if topic == "work" else f"P{rng.randint(1, 4)}"
            if topic == "work":
                doc = "fg2"
            rows.append({"unit_id": f"{topic}-{i:02d}", "doc_id": doc, "speaker": speaker,
                         "text": text, "topic": topic})
    rng.shuffle(rows)
    return pd.DataFrame(rows)


class FakeEmbedder:
    """Deterministic stand-in for themesift.Embedder: hashed word counts, L2-normalised."""

    model_id = "fake/hashing-1024"

    def __init__(self) -> None:
        self.calls = 0
        # Like a sentence encoder, it is not swayed by fillers ("um", "you know").
        self._vectorizer = HashingVectorizer(n_features=1024, alternate_sign=False, norm="l2",
                                             stop_words=sorted(ENGLISH_STOP_WORDS | FILLERS))

    def encode(self, texts):
        self.calls += 1
        return self._vectorizer.transform(list(texts)).toarray().astype(np.float32)


@pytest.fixture(scope="module")
def units() -> pd.DataFrame:
    return planted_units()


@pytest.fixture(scope="module")
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="module")
def codes(units, embedder):
    return discover_codes(units, embedder=embedder, seed=0)


def members_by_code(codes) -> dict[str, set[str]]:
    return {c: set(codes.members(c)) for c in codes.table["code_id"]}


# --------------------------------------------------------------------------------------------
# What the codes are


def test_codes_recover_the_planted_topics(units, codes):
    truth = units.set_index("unit_id").loc[codes.assignments["unit_id"], "topic"]
    assert adjusted_rand_score(truth, codes.assignments["code_id"]) > 0.6
    assert codes.params["method"] == "agglomerative"
    assert 3 <= codes.params["k"] <= 8


def test_every_unit_is_assigned_exactly_once_in_input_order(units, codes):
    a = codes.assignments
    assert list(a.columns) == ASSIGNMENT_COLUMNS
    assert a["unit_id"].tolist() == units["unit_id"].tolist()
    assert set(a["code_id"]) == set(codes.table["code_id"])
    assert codes.table["size"].sum() == len(units)
    assert a["distance"].between(0, 2).all()
    assert a["outlier"].dtype == bool


def test_table_columns_and_code_ids_are_ordered_by_size(codes):
    table = codes.table
    assert list(table.columns) == TABLE_COLUMNS
    assert table["code_id"].tolist() == [f"C{i:02d}" for i in range(1, len(table) + 1)]
    assert table["size"].is_monotonic_decreasing
    for row in table.itertuples():
        assert row.size == len(codes.members(row.code_id))
        assert 0 < row.cohesion <= 1


def test_exemplars_are_members_nearest_the_centre(units, codes):
    text_of = units.set_index("unit_id")["text"]
    distance = codes.assignments.set_index("unit_id")["distance"]
    for row in codes.table.itertuples():
        ids = row.exemplar_ids.split(" | ")
        members = set(codes.members(row.code_id))
        assert 3 <= len(ids) <= 5 and set(ids) <= members
        assert row.exemplars.split(" | ") == [text_of[i] for i in ids]
        others = members - set(ids)
        if others and not codes.assignments.set_index("unit_id").loc[ids, "outlier"].any():
            assert distance[ids].max() <= distance[list(others)].min() + 1e-9


def test_labels_are_short_phrases_in_the_participants_own_words(units, codes):
    texts = " | ".join(units["text"]).lower()
    for row in codes.table.itertuples():
        words = row.label.replace(",", " ").split()  # a phrase; keywords where none is found
        assert 2 <= len(words) <= 6, row.label
        assert set(words) <= set(texts.replace(",", " ").split()), row.label  # their words
        assert not {words[0], words[-1]} & (FILLERS | set(ENGLISH_STOP_WORDS)), row.label
        assert not set(words) & FILLERS, row.label
        keywords = row.keywords.split(" | ")
        assert 1 <= len(keywords) <= 8
        assert not {w for k in keywords for w in k.split()} & FILLERS


def test_labels_name_the_planted_topic(units, codes):
    topic_of = units.set_index("unit_id")["topic"]
    for row in codes.table.itertuples():
        topic = topic_of[codes.members(row.code_id)].mode()[0]
        assert set(row.label.split()) & set(TOPICS[topic].split()), row.label


def test_labels_hold_no_filler_time_number_or_name():
    from themesift.discover._labels import _phrases

    text = ("Um, so Dave rang on Tuesday at half past three, [laughs] about the waiting list for "
            "his flat, you know, and the rent arrears. We keep trying to build trust over time.")
    phrases = [p for p, _ in _phrases(text)]
    assert "waiting list for his flat" in phrases and "rent arrears" in phrases
    assert "build trust over time" in phrases
    spoken = [p for p, _ in _phrases("I hate the tests. You know, they never believe us.")]
    assert "I hate the tests" in spoken  # in the speaker's own voice, "I" kept
    assert not [p for p in spoken if p.lower().startswith(("you know", "i think"))]
    for phrase in phrases:
        assert not {"dave", "tuesday", "half", "past", "three", "um", "laughs",
                    "know"} & set(phrase.lower().split()), phrase


def test_phrases_know_where_they_were_said():
    from themesift.discover._labels import _phrase_spans

    text = "Honestly?  The waiting   list for his flat, and the rent arrears. I hate the tests."
    found = list(_phrase_spans(text))
    assert found
    for phrase, _, (start, end) in found:
        said = " ".join(text[start:end].split())
        assert said[0].lower() + said[1:] == phrase or said == phrase, (phrase, said)


def test_label_shortlist_keeps_what_stands_out_for_the_code_in_order(monkeypatch):
    from themesift.discover import _labels

    monkeypatch.setattr(_labels, "LABEL_SHORTLIST", 2)
    centres = np.eye(3)
    pool = ["a", "b", "c", "d", "e"]
    in_context = np.array([[1, 0.9, 0], [1, 0, 0], [0, 1, 0], [0.9, 0, 0.1], [0, 0, 1]], float)
    assert _labels._shortlist([["a", "b", "d"], ["c"], ["e", "a"]], pool, centres,
                              in_context) == [["b", "d"], ["c"], ["e", "a"]]


def test_one_focus_group_alone_gets_a_handful_of_codes(embedder):
    from themesift.discover._partition import _k_range

    assert _k_range(65) == [6, 7, 8] and _k_range(30) == [3]  # 6 only with 8 units each
    assert _k_range(250)[0] == 6 and _k_range(3000)[0] == 20
    small = planted_units(per_topic=12, seed=3)  # 60 units: n/60 would allow one code
    found = discover_codes(small, embedder=embedder)
    assert len(found.table) >= 6 and found.params["k_candidates"].keys() == {6, 7}


def test_same_seed_gives_identical_codes(units, embedder, codes, tmp_path, monkeypatch):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))  # computed again, not read back
    again = discover_codes(units, embedder=embedder, seed=0)
    assert again.params["cached"] is False
    pd.testing.assert_frame_equal(again.table, codes.table)
    pd.testing.assert_frame_equal(again.assignments, codes.assignments)
    assert again.table.to_csv() == codes.table.to_csv()


def test_codes_are_read_back_from_the_cache_only_for_the_same_inputs(units, embedder, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("THEMESIFT_CACHE_DIR", str(tmp_path))
    first = discover_codes(units, embedder=embedder, seed=3)
    assert (tmp_path / "codes.sqlite").is_file() and first.params["cached"] is False
    again = discover_codes(units, embedder=embedder, seed=3)
    assert again.params["cached"] is True
    pd.testing.assert_frame_equal(again.table, first.table)
    pd.testing.assert_frame_equal(again.assignments, first.assignments)
    assert again.params["k_candidates"] == first.params["k_candidates"]
    # Anything the codes depend on changes the key: the seed, a text, a speaker.
    assert discover_codes(units, embedder=embedder, seed=4).params["cached"] is False
    edited = units.copy()
    edited.loc[0, "text"] += " Really."
    assert discover_codes(edited, embedder=embedder, seed=3).params["cached"] is False
    edited = units.copy()
    edited.loc[0, "speaker"] = "P99"
    assert discover_codes(edited, embedder=embedder, seed=3).params["cached"] is False
    # An unusable cache file is skipped, not fatal.
    (tmp_path / "codes.sqlite").write_bytes(b"not a database" * 100)
    assert discover_codes(units, embedder=embedder, seed=3).params["cached"] is False


def test_cached_codes_are_made_again_when_the_code_that_makes_them_changes(monkeypatch):
    from pathlib import Path

    from themesift.discover import _cache

    package = Path(_cache.__file__).parent
    files = _cache._source_files()
    # Every module of the package, by name; then the stop words and the small-talk flags.
    assert [p.relative_to(package.parent).as_posix() for p in files] == [
        f"discover/{p.name}" for p in sorted(package.glob("*.py"), key=lambda p: p.name)
    ] + ["text.py", "smalltalk.py"]
    assert {"discover/__init__.py", "discover/_cache.py", "discover/_labels.py"} <= {
        p.relative_to(package.parent).as_posix() for p in files}
    units = pd.DataFrame({"unit_id": ["a", "b"], "text": ["Trust.", "Housing."]})

    def key() -> str:
        _cache._source_digest.cache_clear()
        return _cache.cache_key(units, np.eye(2), None, 0, None, "auto", 3)

    original = key()
    read = _cache._source_bytes
    try:
        for changed in files:  # one byte more in any one of them: another key
            monkeypatch.setattr(_cache, "_source_bytes",
                                lambda path, changed=changed: read(path) + b" " * (path == changed))
            assert key() != original, changed.name
    finally:
        monkeypatch.undo()
        assert key() == original


def test_silhouettes_match_sklearn_including_lone_and_duplicate_units():
    from sklearn.metrics import silhouette_samples

    from themesift.discover._geometry import cosine_distances, unit_silhouettes
    from themesift.discover._input import normalise

    rng = np.random.default_rng(3)
    X = normalise(rng.normal(size=(60, 8)))
    X[1] = X[0]  # a duplicate pair alone in its code: both distances 0
    labels = rng.integers(0, 5, size=60)
    labels[[0, 1]], labels[2] = 7, 9  # and a unit alone in its code
    distances = cosine_distances(X)
    ours = unit_silhouettes(distances, labels)
    theirs = silhouette_samples(distances, labels, metric="precomputed")
    assert ours[2] == 0.0 and ours[0] == ours[1] == theirs[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_nested_partitions_share_one_distance_product():
    from themesift.discover._geometry import cosine_distances, nested_sums, unit_silhouettes
    from themesift.discover._input import normalise

    rng = np.random.default_rng(5)
    distances = cosine_distances(normalise(rng.normal(size=(40, 8))))
    fine = rng.integers(0, 6, size=40)
    partitions = {6: fine, 3: fine // 2, 2: (fine >= 3).astype(int)}
    sums = nested_sums(distances, partitions)
    for k, labels in partitions.items():
        np.testing.assert_allclose(unit_silhouettes(distances, labels, sums[k]),
                                   unit_silhouettes(distances, labels), atol=1e-12)
    assert nested_sums(distances, {6: fine, 2: rng.integers(0, 2, size=40)}) == {}


def test_precomputed_embeddings_give_the_same_codes(units, embedder, codes):
    vectors = embedder.encode(units["text"])
    given = discover_codes(units, embeddings=vectors, embedder=embedder, seed=0)
    pd.testing.assert_frame_equal(given.assignments, codes.assignments)
    without_embedder = discover_codes(units, embeddings=vectors)
    assert (without_embedder.assignments["code_id"] == codes.assignments["code_id"]).all()
    assert without_embedder.params["embedder"] is None
    assert (without_embedder.table["label"].str.len() > 0).all()


def test_n_codes_is_respected(units, embedder):
    for n_codes in (3, 8):
        found = discover_codes(units, embedder=embedder, n_codes=n_codes)
        assert len(found.table) == n_codes
        assert found.params["k"] == n_codes
        assert list(found.params["k_candidates"]) == [n_codes]


def test_params_record_how_codes_were_made(codes, units):
    p = codes.params
    assert p["seed"] == 0 and p["n_units"] == len(units)
    assert p["embedder"] == FakeEmbedder.model_id
    assert p["requested_method"] == "auto"
    assert len(p["k_candidates"]) > 1
    assert p["k_selected"] == max(p["k_candidates"], key=p["k_candidates"].get)
    assert all(-1 <= s <= 1 for s in p["k_candidates"].values())
    assert p["k"] == len(codes.table) == p["k_selected"] - p["codes_dissolved"]


def test_params_say_how_many_of_the_chosen_codes_were_too_small_to_stand(units, embedder):
    # no code has half of the units: all but the largest dissolve into it
    found = discover_codes(units, embedder=embedder, min_code_size=len(units) // 2)
    p = found.params
    assert p["k"] == len(found.table) == 1
    assert p["k_selected"] > 1 and p["codes_dissolved"] == p["k_selected"] - 1


def test_kmeans_recovers_the_planted_topics(units, embedder):
    found = discover_codes(units, embedder=embedder, method="kmeans", seed=3)
    truth = units["topic"]
    assert adjusted_rand_score(truth, found.assignments["code_id"]) > 0.6
    again = discover_codes(units, embedder=embedder, method="kmeans", seed=3)
    pd.testing.assert_frame_equal(found.assignments, again.assignments)


# --------------------------------------------------------------------------------------------
# Speakers, transcripts and outliers


def test_speaker_and_transcript_counts(units, codes):
    for row in codes.table.itertuples():
        members = units[units["unit_id"].isin(codes.members(row.code_id))]
        pairs = members[["doc_id", "speaker"]].drop_duplicates()
        assert row.n_speakers == len(pairs)
        assert row.n_transcripts == members["doc_id"].nunique()


def test_a_code_dominated_by_one_speaker_is_flagged(units, codes):
    topic_of = units.set_index("unit_id")["topic"]
    for row in codes.table.itertuples():
        topic = topic_of[codes.members(row.code_id)].mode()[0]
        assert row.single_speaker == (topic == "work"), row.label
        if topic == "work":
            assert row.n_speakers == 1 and row.top_speaker_share == 1.0


def _flags(speakers: list[str], topics: list[int]) -> dict[int, bool]:
    """Each code's single_speaker flag, by the code's size."""
    from themesift.discover._tables import code_tables

    n = len(speakers)
    units = pd.DataFrame({"unit_id": range(n), "doc_id": "fg", "speaker": speakers,
                          "text": [f"unit {i}" for i in range(n)]})
    vectors = np.eye(n, dtype="float32")
    table, _ = code_tables(units, list(range(n)), list(units["text"]), vectors, topics,
                           np.zeros(n, dtype=bool), {})
    return dict(zip(table["size"], table["single_speaker"]))


def test_one_speakers_code_is_judged_against_how_much_they_talk():
    # Two nurses, one saying 8 of the 13 units: a code 6 of 8 from her (75%) is how she
    # talks, not "one talkative participant" (a tester's study, flagged at a fixed 70%).
    two = ["N2"] * 6 + ["N1"] * 2 + ["N2"] * 2 + ["N1"] * 3
    assert _flags(two, [0] * 8 + [1] * 5) == {8: False, 5: False}
    # Five speakers who talk alike: a code of 8 all from one of them is that person's.
    five = ["P1"] * 8 + [f"P{k}" for k in range(2, 6) for _ in range(8)]
    assert _flags(five, [0] * 8 + [1] * 32) == {8: True, 32: False}
    # ... but three units of one speaker are too few to tell (the minimum code size), and a
    # code 70% from one speaker is not more than 70%.
    assert _flags(five, [0] * 3 + [1] * 37) == {3: False, 37: False}
    mixed = ["P1"] * 7 + ["P2"] * 3 + [f"P{k}" for k in range(2, 6) for _ in range(8)]
    assert _flags(mixed, [0] * 10 + [1] * 32) == {10: False, 32: False}


def test_without_speaker_or_transcript_columns(units, embedder):
    bare = units[["unit_id", "text"]]
    found = discover_codes(bare, embedder=embedder)
    assert (found.table["n_speakers"] == 0).all()
    assert (found.table["n_transcripts"] == 1).all()
    assert not found.table["single_speaker"].any()


def test_unit_ids_keep_their_type(units, embedder):
    numbered = units[["text"]].assign(unit_id=range(101, 101 + len(units)))
    found = discover_codes(numbered, embedder=embedder)
    assert found.assignments["unit_id"].tolist() == list(range(101, 101 + len(units)))
    first = found.table["exemplar_ids"].iloc[0].split(" | ")[0]
    assert int(first) in found.members(found.table["code_id"].iloc[0])


def test_off_topic_units_are_flagged_and_still_assigned(units, embedder):
    odd = pd.DataFrame({
        "unit_id": ["odd-1", "odd-2"],
        "text": ["The weather today is grey with drizzle over the motorway.",
                 "Is the recorder running? The red light blinks."],
    })
    found = discover_codes(pd.concat([units, odd], ignore_index=True), embedder=embedder)
    a = found.assignments.set_index("unit_id")
    assert a.loc[["odd-1", "odd-2"], "outlier"].all()
    assert a.loc[["odd-1", "odd-2"], "code_id"].isin(found.table["code_id"]).all()
    assert a["outlier"].mean() < 0.2
    assert found.table["n_outliers"].sum() == a["outlier"].sum()
    well_fitting = a[~a["outlier"]].groupby("code_id").size()
    assert well_fitting.reindex(found.table["code_id"], fill_value=0).min() >= 3


def test_small_talk_is_left_out_of_the_codes(units, embedder):
    chat = pd.DataFrame({"unit_id": [f"chat-{i}" for i in range(6)],
                         "text": ["Lovely biscuits, the chocolate ones."] * 3
                         + ["Can you hear me? You're on mute."] * 3})
    reply = pd.DataFrame({"unit_id": ["reply"], "text": ["Racism."], "small_talk": [False],
                          "short_reply": [True]})
    both = pd.concat([units.assign(small_talk=False, short_reply=False),
                      chat.assign(small_talk=True, short_reply=False), reply],
                     ignore_index=True)
    vectors = embedder.encode(both["text"])
    for found in (discover_codes(both, embedder=embedder),
                  discover_codes(both, embedder=embedder, embeddings=vectors)):
        assert found.assignments["unit_id"].tolist() == units["unit_id"].tolist()
        assert found.table["size"].sum() == len(units)
        assert found.params["n_small_talk"] == 6 and found.params["n_short_replies"] == 1
        pd.testing.assert_frame_equal(found.table, discover_codes(units, embedder=embedder).table)


def test_groups_smaller_than_min_code_size_are_dissolved(units, embedder):
    found = discover_codes(units, embedder=embedder, n_codes=None, min_code_size=25)
    # Every planted topic has 20 units: only the group kept as a fallback stands, and the
    # other units are outliers in it rather than dropped.
    assert len(found.table) == 1 and found.table["size"].iloc[0] == len(units)
    assert found.assignments["outlier"].sum() == len(units) - 20


# --------------------------------------------------------------------------------------------
# Bad input


def test_missing_text_column_names_the_columns_present(units, embedder):
    with pytest.raises(InputError, match=r"no 'text' column\. Columns present: unit_id, words"):
        discover_codes(units[["unit_id"]].assign(words="x"), embedder=embedder)


def test_missing_unit_id_column(units, embedder):
    with pytest.raises(InputError, match=r"no 'unit_id' column\. Columns present: doc_id, "):
        discover_codes(units.drop(columns="unit_id"), embedder=embedder)


def test_blank_texts_are_named_by_row(units, embedder):
    bad = units.copy()
    bad.loc[3, "text"] = "   "
    bad.loc[7, "text"] = None
    with pytest.raises(InputError, match=r"no text: rows 4, 8 \(unit ids .+\)\. Remove"):
        discover_codes(bad, embedder=embedder)


def test_rows_are_named_as_in_the_table_given_with_small_talk_in_it(units, embedder):
    bad = units.assign(small_talk=False)
    bad.loc[[0, 1], "small_talk"] = True  # set aside before the checks
    bad.loc[5, "text"] = " "
    with pytest.raises(InputError, match=r"no text: row 6 \(unit ids .+\)\. Remove"):
        discover_codes(bad, embedder=embedder)
    bad.loc[5, "text"], bad.loc[7, "unit_id"] = "Fine.", bad.loc[4, "unit_id"]
    with pytest.raises(InputError, match=r"repeated: '.+' \(rows 5, 8\)"):
        discover_codes(bad, embedder=embedder)


def test_too_few_units_but_for_small_talk_says_so(embedder):
    chat = pd.DataFrame({"unit_id": [f"u{i}" for i in range(12)],
                         "text": ["Can you hear me?"] * 12, "small_talk": [True] * 10 + [False] * 2})
    with pytest.raises(InputError, match=r"Only 2 meaning units \(10 more are small talk or short "
                                         r"replies, which get no code: see the small_talk and "
                                         r"short_reply columns\): too few"):
        discover_codes(chat, embedder=embedder)


def test_a_numpy_int_number_of_codes_is_checked_as_early_as_an_int(units):
    from themesift.discover import check_n_codes

    with pytest.raises(InputError, match="60 codes are too many for 100 meaning units"):
        check_n_codes(np.int64(60), units)


def test_embeddings_of_another_length_than_a_table_with_small_talk(units):
    flagged = units.assign(small_talk=[True] * 10 + [False] * 90)
    with pytest.raises(InputError, match=r"embeddings has 90 rows but the units table has 100 "
                                         r"\(small talk included\)"):
        discover_codes(flagged, embeddings=np.ones((90, 8)))


def test_duplicate_unit_ids(units, embedder):
    bad = units.copy()
    bad.loc[5, "unit_id"] = bad.loc[0, "unit_id"]
    uid = bad.loc[0, "unit_id"]
    with pytest.raises(InputError, match=rf"must be unique; repeated: '{uid}' \(rows 1, 6\)"):
        discover_codes(bad, embedder=embedder)


def test_too_few_units(embedder):
    few = pd.DataFrame({"unit_id": list("abcde"), "text": ["We cooked together."] * 5})
    with pytest.raises(InputError) as error:
        discover_codes(few, embedder=embedder)
    assert str(error.value) == ("Only 5 meaning units: too few to find codes. Give at least "
                                "10, or code them by hand.")


def test_a_small_corpus_with_one_shared_word_still_gets_codes(embedder):
    # Only "trust" is in two units: c-TF-IDF cannot weigh a one-word vocabulary.
    texts = ["Trust takes patience.", "Trust again, week after week.", "We cook dinner together.",
             "The council sets goals.", "Paranoia makes visits hard.", "Using wrecks every plan.",
             "Drugs came first for her.", "Nobody asks about wellbeing.", "Staff burn out quietly.",
             "Slow small visits help."]
    units = pd.DataFrame({"unit_id": [f"u{i}" for i in range(10)], "text": texts})
    codes = discover_codes(units, embedder=embedder, n_codes=3)
    assert codes.table["size"].sum() == 10 and len(codes.table) == 3
    only_fillers = pd.DataFrame({"unit_id": [f"u{i}" for i in range(10)],
                                 "text": ["Yeah, um, trust."] + ["Yeah, um, you know."] * 9})
    with pytest.raises(InputError, match="no content words"):
        discover_codes(only_fillers, embedder=embedder)


def test_embeddings_with_the_wrong_number_of_rows(units):
    with pytest.raises(InputError, match=r"embeddings has 40 rows but there are 100 meaning units"):
        discover_codes(units, embeddings=np.ones((40, 8)))


def test_no_vectors_at_all(units):
    with pytest.raises(InputError, match="needs vectors.*embedder=themesift.Embedder"):
        discover_codes(units)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "ward"}, r"The 'method' parameter of discover_codes\(\) must be one of 'auto', "
                         r"'agglomerative', 'kmeans', 'hdbscan'\. Got 'ward' instead"),
    ({"n_codes": 1}, r"'n_codes' parameter .* must be None or an int in \[2, inf\)\. Got 1"),
    ({"n_codes": 80}, r"80 codes are too many for 100 meaning units .*at most 50 codes \(--codes"),
    ({"min_code_size": 0}, r"'min_code_size' parameter .* Got 0 instead"),
    ({"seed": -1}, r"'seed' parameter .* Got -1 instead"),
])
def test_bad_parameters(units, embedder, kwargs, message):
    with pytest.raises(InputError, match=message):
        discover_codes(units, embedder=embedder, **kwargs)


def test_units_must_be_a_table(embedder):
    with pytest.raises(InputError, match="must be a table"):
        discover_codes(["We cooked together."] * 20, embedder=embedder)


# --------------------------------------------------------------------------------------------
# Import cost, HDBSCAN and the real model


def test_importing_themesift_does_not_load_the_clustering_libraries():
    code = ("import sys, themesift.discover; "
            "print(sorted(m for m in ('bertopic', 'sklearn', 'umap', 'hdbscan', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bertopic_plotting_is_imported_only_when_something_plots():
    code = """
import importlib, importlib.util, sys
from themesift.discover._bertopic import import_bertopic
bertopic = import_bertopic()
import bertopic._bertopic as core
print('plotly' in sys.modules, 'bertopic.plotting' in sys.modules)
print(callable(bertopic.plotting.visualize_topics), 'plotly' in sys.modules)
real = sys.modules['bertopic.plotting']
print(bertopic.plotting is real, core.plotting.visualize_barchart is real.visualize_barchart)
importlib.import_module('bertopic.plotting._topics')
print(importlib.util.find_spec('bertopic.plotting') is not None)
from bertopic.plotting import *
print(callable(visualize_hierarchy))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "True", "True", "True", "True",
                                  "True"]


def test_bertopic_imported_first_is_left_alone():
    code = ("import sys, bertopic; from themesift.discover._bertopic import import_bertopic; "
            "import_bertopic(); print(type(bertopic.plotting) is type(sys), "
            "sys.modules['bertopic.plotting'] is bertopic.plotting)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


@pytest.mark.skipif(not os.environ.get("THEMESIFT_SLOW_TESTS"),
                    reason="UMAP's first fit compiles with numba (~15 s); "
                           "set THEMESIFT_SLOW_TESTS=1")
def test_hdbscan_assigns_its_noise_to_the_nearest_code(units, embedder, recwarn):
    found = discover_codes(units, embedder=embedder, method="hdbscan", min_code_size=5)
    assert not [w for w in recwarn if "precomputed_knn" in str(w.message)]  # noise for users
    assert found.params["method"] == "hdbscan"
    assert found.assignments["code_id"].isin(found.table["code_id"]).all()
    assert found.assignments["outlier"].sum() == found.params["hdbscan_noise"]
    assert adjusted_rand_score(units["topic"], found.assignments["code_id"]) > 0.5


@pytest.fixture(scope="module")
def real_embedder():
    embed = pytest.importorskip("themesift.embed")
    embedder = embed.Embedder(cache_dir=False, quiet=True)
    try:
        embedder.encode(["A first sentence."])
    except Exception as error:  # the packaged model is not installed here
        pytest.skip(f"the real embedding model cannot be loaded: {error}")
    return embedder


def test_real_model_finds_topics_in_a_small_corpus(real_embedder):
    small = planted_units(per_topic=8)
    small = small[small["topic"].isin(["housing", "medication", "family"])].reset_index(drop=True)
    found = discover_codes(small, embedder=real_embedder, n_codes=3)
    assert adjusted_rand_score(small["topic"], found.assignments["code_id"]) > 0.5
    assert found.params["embedder"] == real_embedder.model_id
    assert (found.table["label"].str.len() > 0).all()

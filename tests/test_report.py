"""The HTML report and the saturation curve: sections, safety, numbers by hand, refusals."""

import re
from html.parser import HTMLParser

import pandas as pd
import sqlite3

import pytest

import fakes
import themesift as ts
from conftest import FakeEmbedder
from themesift import pipeline as pipeline_module
from themesift.errors import InputError
from themesift.export.report import export_report, render_report, saturation, unit_map
from themesift.export import study_view
from themesift.study import Study

# Three focus groups in interview order. Code C01 (relationships) is in all three but has
# only one unit in fg_c; C03 (symptoms) has one unit in fg_a; C04 (no theme) is one
# talkative participant in fg_c saying two units.
ANSWERS = {
    "fg_a": [("P1", "Trust takes time & patience, you keep turning up."),
             ("P2", "We cook together and the talking happens then."),
             ("P1", 'She said "no" & walked out <script>alert(1)</script>'),
             ("P3", "The council sets the goals, not the person."),
             ("O'Neil <RN>", "Paranoia makes every visit hard.")],
    "fg_b": [("P1", "Trust again: being there week after week."),
             ("P2", "Doing normal things side by side."),
             ("P3", "When he is using, nothing we plan holds."),
             ("P4", "Drugs came first for her, then everything else.")],
    "fg_c": [("P1", "Nobody asks about the staff's own wellbeing."),
             ("P1", "We burn out and nobody notices it."),
             ("P2", "Trust is built slowly, over many small visits.")],
}
CODES = {"C01": [0, 1, 5, 6, 11], "C02": [2, 3], "C03": [4, 7, 8], "C04": [9, 10]}
CODE_THEMES = {"C01": "relationships", "C02": "structural_tension", "C03": "symptoms_barrier",
               "C04": "none"}
UNIT_THEMES = ["relationships", "relationships", "none", "structural_tension",
               "symptoms_barrier", "relationships", "relationships", "symptoms_barrier",
               "symptoms_barrier", "none", "none", "relationships"]
SECTIONS = ["summary", "map", "prevalence", "saturation", "agreement", "decisions", "themes",
            "new-themes", "units"]


def hand_made_result(corpus=None, framework=None, **_):
    corpus = corpus if corpus is not None else fakes.make_corpus_of(ANSWERS)
    framework = framework if framework is not None else ts.load_framework("recovery")
    return fakes.result_of(corpus, framework, ANSWERS, codes=CODES, themes=UNIT_THEMES,
                           code_themes=CODE_THEMES)


def with_map(result):
    result.unit_map = unit_map(result.units, FakeEmbedder().encode(result.units["text"]))
    return result


def open_coded_study(path, monkeypatch):
    """The hand-made run in a new study at ``path``, with unit and code decisions."""
    monkeypatch.setattr(pipeline_module, "run_pipeline", hand_made_result)
    study = Study.open(path)
    run = study.run(fakes.make_corpus_of(ANSWERS))
    study.decide(f"code:{run.id}:C01", "accept", analyst="KJ")  # u0 u1 u5 u6 u11
    study.decide("unit:u0", "accept", analyst="KJ")
    study.decide("unit:u3", "reject", analyst="KJ")
    study.decide("unit:u9", "reassign", theme_id="hope", analyst="AB")
    return study


@pytest.fixture
def coded_study(tmp_path, monkeypatch):
    with open_coded_study(tmp_path / "s", monkeypatch) as study:
        yield study


class _Tables(HTMLParser):
    """Each table of a piece of HTML as rows of cell texts."""

    def __init__(self, html):
        super().__init__()
        self.tables, self._cell = [], None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def section(page, key):
    match = re.search(rf"<section id='{key}'>(.*?)</section>", page, re.S)
    assert match, f"no section {key}"
    return match.group(1)


def table_rows(html, index=0):
    """Rows of the ``index``-th table as {first cell: other cells}."""
    return {row[0]: row[1:] for row in _Tables(html).tables[index]}


# -- the page ----------------------------------------------------------------------------------

def test_a_code_of_short_asides_is_not_a_candidate_new_theme():
    answers = {doc: list(turns) for doc, turns in ANSWERS.items()}
    answers["fg_a"][2] = ("P1", "Not yet. Fingers crossed.")
    answers["fg_a"][3] = ("P3", "Oh, that was a good day, that.")
    corpus = fakes.make_corpus_of(answers)
    result = fakes.result_of(corpus, ts.load_framework("recovery"), answers, codes=CODES,
                             themes=UNIT_THEMES, code_themes={**CODE_THEMES, "C02": "none"})
    new = section(render_report(result), "new-themes")
    assert "Not listed: C02" in new and "short asides" in new
    rows = str(table_rows(new))
    assert "C04" in rows and "C02" not in rows


def test_codes_not_offered_as_one_decision_are_named_not_lost():
    result = hand_made_result()
    result.suggestions = result.suggestions.assign(
        offered=result.suggestions["code_id"] != "C01")  # C01's members disagree
    new = section(render_report(result), "new-themes")
    assert "Under no theme and not listed here, as their members are suggested different " \
           "themes" in new and "C01 “" in new
    assert "C01" not in str(table_rows(new)) and "C04" in str(table_rows(new))


def test_batch_report_has_every_section_and_one_dot_per_unit():
    page = render_report(with_map(hand_made_result()))
    assert [m for m in re.findall(r"<section id='([\w-]+)'>", page)] == SECTIONS
    assert page.count("<circle cx=") == 12 + 3  # the map, plus one dot per transcript
    assert "suggestions only" in section(page, "summary")
    # a code that fits no theme is a candidate new theme, with its quotes
    new = section(page, "new-themes")
    assert "C04" in new and "Nobody asks about the staff&#x27;s own wellbeing." in new
    assert "C01" not in new
    # prevalence per transcript, in interview order
    rows = table_rows(section(page, "prevalence"))
    assert list(rows)[1:] == ["fg_a", "fg_b", "fg_c"]
    assert rows["fg_a"] == ["2", "0", "1", "1", "1", "5"]  # rel, hope, struct, sympt, none, units
    per_speaker = table_rows(section(page, "prevalence"), 1)
    assert per_speaker["fg_c · P1"] == ["0", "0", "0", "0", "2", "2"]
    assert "No human coding yet" in section(page, "agreement")


def test_counts_read_in_the_singular_and_a_framework_without_version_shows_none():
    import dataclasses

    result = hand_made_result()
    result = dataclasses.replace(result, framework=dataclasses.replace(result.framework,
                                                                       version=""))
    page = render_report(result)
    assert "(version )" not in page and "1 codes" not in page and "1 meaning units" not in page
    assert re.search(r"\b1 code\.", page) or re.search(r"\b1 meaning unit,", page)


def test_batch_report_without_coordinates_says_the_map_is_left_out():
    page = render_report(hand_made_result())
    assert "no unit coordinates, so the map is left out" in section(page, "map")


def test_wide_tables_scroll_inside_the_page():
    page = render_report(hand_made_result())
    assert ".wide{overflow-x:auto" in page
    assert page.count("<table") == page.count("<div class='wide'><table") > 0


def test_page_asks_for_nothing_from_the_network():
    page = render_report(with_map(hand_made_result()))
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # the browser would refuse any request anyway


def test_every_text_is_escaped():
    page = render_report(with_map(hand_made_result()))
    assert "<script>alert(1)" not in page
    assert "She said &quot;no&quot; &amp; walked out &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "O&#x27;Neil &lt;RN&gt;" in page and "<RN>" not in page
    assert page.count("<script>") == 1  # only the page's own sorting script


# -- saturation --------------------------------------------------------------------------------

def test_saturation_by_hand():
    curve = saturation(hand_made_result())
    assert list(curve["transcript"]) == ["fg_a", "fg_b", "fg_c"]
    # fg_a: C01, C02 (C03 has one unit there); fg_b: C03; fg_c: C04 (C01 has one unit there)
    assert list(curve["new_codes"]) == [2, 1, 1]
    assert list(curve["new_code_ids"]) == ["C01 | C02", "C03", "C04"]
    assert list(curve["cumulative_codes"]) == [2, 3, 4]
    assert list(curve["themes_reached"]) == [3, 3, 3]  # hope never suggested
    # all 6 orderings: first transcript gives 2, 2 or 1 codes; any two give 3; all three 4
    assert curve.attrs == {"codes_total": 4, "orderings": 6, "min_units": 2}
    assert curve["codes_mean"].tolist() == [pytest.approx(10 / 6, abs=1e-3), 3, 4]
    assert curve["codes_low"].tolist() == [1, 3, 4]
    assert curve["codes_high"].tolist() == [2, 3, 4]


def test_saturation_with_one_unit_enough_counts_single_mentions():
    curve = saturation(hand_made_result(), min_units=1)
    assert list(curve["new_codes"]) == [3, 0, 1]
    assert list(curve["cumulative_codes"]) == [3, 3, 4]


def test_saturation_of_a_study_uses_the_analysts_coding(coded_study):
    curve = saturation(coded_study)
    assert list(curve["cumulative_codes"]) == [2, 3, 4]
    # u3, the only structural-tension unit, was rejected: no theme; u9 (fg_c), recoded as
    # hope, reaches a third theme (the machine suggested none)
    assert list(curve["themes_reached"]) == [2, 2, 3]
    assert saturation(coded_study.path.parent).equals(curve)


def test_saturation_band_over_random_orderings_is_deterministic_for_a_seed():
    answers = {f"fg{i}": [("P1", f"words {i} one"), ("P2", f"words {i} two")] for i in range(6)}
    corpus = fakes.make_corpus_of(answers)
    codes = {f"C{i}": [2 * i, 2 * i + 1] for i in range(6)}  # one new code per transcript
    result = fakes.result_of(corpus, ts.load_framework("recovery"), answers, codes=codes,
                             themes=["hope"] * 12, code_themes=dict.fromkeys(codes, "hope"))
    curve = saturation(result, orderings=50, seed=3)
    assert curve.attrs["orderings"] == 50  # 720 orderings: 50 random ones
    assert curve.equals(saturation(result, orderings=50, seed=3))
    assert list(curve["codes_low"]) == list(curve["codes_high"]) == list(range(1, 7))
    uneven = dict(codes, C5=[0, 1])  # fg0 now holds two codes, fg5 none
    curve = saturation(with_codes(result, uneven), orderings=50, seed=3)
    assert curve["codes_low"].iloc[0] == 0 and curve["codes_high"].iloc[0] == 2
    assert (curve["codes_low"] <= curve["codes_mean"]).all()
    assert (curve["codes_mean"] <= curve["codes_high"]).all()


def with_codes(result, codes):
    members = pd.DataFrame([{"unit_id": f"u{i}", "code_id": c} for c, m in codes.items()
                            for i in m])
    return ts.pipeline.PipelineResult(
        result.corpus, result.framework, result.units,
        ts.model.CandidateCodes(result.codes.table, members), result.suggestions,
        result.unit_suggestions, result.manifest)


@pytest.mark.parametrize("kwargs, message", [
    ({"orderings": 0}, "'orderings' parameter of saturation\\(\\) must be an int in \\[1, inf\\)"),
    ({"min_units": 1.5}, "'min_units' parameter .* Got 1.5 instead"),
])
def test_saturation_rejects_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        saturation(hand_made_result(), **kwargs)


# -- a study's report --------------------------------------------------------------------------

def test_study_report_shows_decisions_agreement_and_the_map(coded_study, tmp_path):
    out = export_report(coded_study, tmp_path / "report.html", embedder=FakeEmbedder())
    page = out.read_text(encoding="utf-8")
    assert [m for m in re.findall(r"<section id='([\w-]+)'>", page)] == SECTIONS
    assert page.count("<circle cx=") == 12 + 3
    agreement = section(page, "agreement")
    units = table_rows(agreement, 0)  # suggested theme: accepted, reassigned, rejected, undecided
    assert units["Relationships"] == ["1", "0", "0", "4", "100%"]
    assert units["Structural tension"] == ["0", "0", "1", "0", "0%"]
    assert units["Fits no theme"] == ["0", "1", "0", "2", "0%"]
    assert table_rows(agreement, 1)["Relationships"] == ["1", "0", "0", "0", "100%"]
    # analyst (u0 relationships, u9 hope; u3's suggestion rejected) vs machine (u9 none, u3
    # structural tension): 1 of 3, the rejection a disagreement. u1 u5 u6 u11, coded by
    # accepting C01, agree by construction (only members suggested its theme are coded): in,
    # they made it 5 of 7, 0.71, for the machine being right once in three.
    stats = table_rows(agreement, 2)
    assert stats["Percent agreement"][0] == "0.33"
    assert "3 units coded by both" in agreement and "(rejected)" in agreement
    assert ("4 units coded by accepting a code are left out of the analyst's figures: "
            "accepting a code codes only the members suggested its theme") in agreement
    assert "6 units" in section(page, "summary")
    # the parts add up: u3's suggestion was rejected, so it has no theme
    assert ("12 (9 with a framework theme, 2 fitting no theme, 1 with no theme: the analyst "
            "rejected the suggested one)") in section(page, "summary")
    # the rejected unit has no theme; the analyst's theme shows in the units table
    assert "No theme (suggestion rejected)" in section(page, "prevalence")
    assert table_rows(section(page, "themes"))["C01 label C01a, b"][3] == "accepted"


def test_agreement_after_a_rerun_is_with_what_the_machine_suggested_before(
        coded_study, tmp_path, monkeypatch):
    def echo(corpus=None, framework=None, **_):  # a re-run repeats the analyst's coding back
        result = hand_made_result(corpus, framework)
        coded = coded_study.coding().set_index("unit_id")["theme_id"]
        result.unit_suggestions["theme_id"] = [coded.get(u, t) for u, t in zip(
            result.unit_suggestions["unit_id"], result.unit_suggestions["theme_id"])]
        return result

    first = coded_study.latest_run_id()
    monkeypatch.setattr(pipeline_module, "run_pipeline", echo)
    second = coded_study.run(fakes.make_corpus_of(ANSWERS)).id
    pages = {run: section(export_report(coded_study, tmp_path / f"{run}.html", run_id=run,
                                        embedder=FakeEmbedder()).read_text(encoding="utf-8"),
                          "agreement") for run in (first, second)}
    for agreement in pages.values():  # the same figures, whichever run is reported
        assert table_rows(agreement, 2)["Percent agreement"][0] == "0.33"  # not 1.00
        assert "3 units coded by both" in agreement
        assert "the suggestion of the run in which the analyst first decided on it" in agreement
        # per suggested theme: what the run decided on suggested, not the echo
        assert table_rows(agreement, 0)["Fits no theme"] == ["0", "1", "0", "2", "0%"]
        assert "The analyst coded 6 of this run's 12 meaning units (2 decided one by one, " \
               "4 through a decision on a code)" in agreement
    assert "4 made on this run's suggestions, 0 on other runs'" in pages[first]
    assert "0 made on this run's suggestions, 4 on other runs'" in pages[second]
    # An external coding (here: the analyst's own) is compared the same way: for the units
    # the analyst decided, with what the machine suggested before the decision.
    human = coded_study.coding()[["unit_id", "theme_id"]].rename(columns={"unit_id": "id"})
    external = [table_rows(section(export_report(
        coded_study, tmp_path / f"h-{run}.html", run_id=run, human=human,
        embedder=FakeEmbedder()).read_text(encoding="utf-8"), "agreement"), 5)  # its figures
        for run in (first, second)]
    assert external[0] == external[1]
    assert external[1]["Percent agreement"][0] == "0.83"


def test_a_reassign_on_a_run_that_kept_no_unit_suggestions_is_counted_apart(
        coded_study, tmp_path, monkeypatch):
    first = coded_study.latest_run_id()
    coded_study.run(fakes.make_corpus_of(ANSWERS))
    with sqlite3.connect(coded_study.path) as conn:  # as a store before schema 4 left it
        conn.execute("DELETE FROM unit_suggestions WHERE run_id = ?", (first,))
    page = export_report(coded_study, tmp_path / "r.html", embedder=FakeEmbedder())
    units = table_rows(section(page.read_text(encoding="utf-8"), "agreement"), 0)
    # u9's reassign to hope: what run 1 suggested is unknown, not this run's suggestion
    assert units["(not kept: a run stored before schema 4)"] == ["0", "1", "0", "0", "0%"]
    assert units.get("Hope", ["0", "0"])[1] == "0"  # not counted under this run's theme


def test_a_rejected_code_sits_under_no_theme_but_among_the_candidate_new_themes(
        coded_study, tmp_path):
    run_id = coded_study.latest_run_id()
    coded_study.decide(f"code:{run_id}:C02", "reject", analyst="KJ")  # structural_tension
    coded_study.decide(f"code:{run_id}:C03", "reassign", theme_id="hope", analyst="KJ")
    page = export_report(coded_study, tmp_path / "r.html",
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    themes = section(page, "themes")
    structural = themes[themes.index(">Structural"):themes.index(">Symptoms")]
    assert "0 codes" in structural and "No code is mapped to this theme" in structural
    assert "C02" not in themes and "C03" not in themes[themes.index(">Symptoms"):]
    assert "C03" in themes[themes.index(">Hope<"):themes.index(">Structural")]
    assert table_rows(section(page, "new-themes"))["C02 label C02a, b"][3] == "rejected"
    assert "1 rejected code (2 units not coded otherwise) is not in the unit figures below" in \
        section(page, "agreement")
    assert "these are not counts of coded units until every unit is decided" in \
        section(page, "prevalence")


def test_study_report_compares_with_an_external_coding(coded_study, tmp_path):
    human = tmp_path / "coder_b.csv"
    pd.DataFrame({"id": ["u0", "u1", "u2", "u3"],
                  "theme_id": ["relationships", "hope", "none", "structural_tension"]}
                 ).to_csv(human, index=False)
    page = export_report(coded_study, tmp_path / "r.html", human=human,
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    agreement = section(page, "agreement")
    assert "The external human coding (reference)" in agreement
    assert "4 units coded by both" in agreement
    assert table_rows(agreement, 5)["Percent agreement"][0] == "0.75"
    assert "exact set agreement" not in agreement
    # multi-label: the headline is the strict figure (the whole set of themes), rule said
    pd.DataFrame({"id": ["u0", "u0", "u1", "u2", "u3"],
                  "theme_id": ["relationships", "hope", "hope", "none", "structural_tension"]}
                 ).to_csv(human, index=False)
    page = export_report(coded_study, tmp_path / "r2.html", human=human,
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    agreement = section(page, "agreement")
    assert "Multi-label coding: percent agreement counts a unit only when its whole set" in agreement
    assert table_rows(agreement, 5)["Percent agreement"][0] == "0.50"  # u0 no longer matches


def test_study_report_bootstraps_as_often_as_compare(coded_study, tmp_path, monkeypatch):
    import inspect
    import sys

    compare_module = sys.modules["themesift.compare"]  # themesift.compare is also the function

    calls = []
    real = compare_module.compare
    monkeypatch.setattr(compare_module, "compare",
                        lambda *args, **kwargs: calls.append(kwargs) or real(*args, **kwargs))
    export_report(coded_study, tmp_path / "r.html", embedder=FakeEmbedder())
    default = inspect.signature(real).parameters["bootstrap"].default
    assert default == compare_module.BOOTSTRAP
    assert calls and all(c.get("bootstrap", default) == default for c in calls)


@pytest.mark.parametrize("pseudonymise", [False, True])
def test_study_report_aligns_a_human_coding_of_character_spans(coded_study, tmp_path,
                                                                pseudonymise):
    # spans as NVivo codes them: u0-u3 whole, and the first 5 characters of u4, whose
    # speaker "O'Neil" is renamed when pseudonymised (which moves the unit's offsets)
    human = tmp_path / "spans.csv"
    # and one span in a transcript the study does not have: it reaches no unit
    pd.DataFrame({"doc_id": ["fg_a"] * 5 + ["fg_z"], "start": [28, 83, 135, 193, 251, 0],
                  "end": [77, 129, 187, 236, 256, 10],
                  "theme_id": ["relationships", "hope", "none", "structural_tension",
                               "symptoms_barrier", "hope"]}).to_csv(human, index=False)
    page = export_report(coded_study, tmp_path / "r.html", human=human, pseudonymise=pseudonymise,
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    agreement = section(page, "agreement")
    assert "5 units coded by both" in agreement
    assert table_rows(agreement, 5)["Percent agreement"][0] == "0.80"
    # what the figures leave out is said: the span, and the transcripts the human did not code
    assert re.search(r"1 coded span of A \(\S*spans.csv\) reaches no meaning unit\b.*fg_z:0-10",
                     agreement)
    assert "7 units of transcripts the reference did not code are left out" in agreement


def test_study_report_without_the_runs_model_leaves_the_map_out(coded_study, tmp_path):
    page = export_report(coded_study, tmp_path / "r.htm").read_text(encoding="utf-8")
    assert "names no embedding model, so the map is left out" in section(page, "map")
    assert "<circle" not in section(page, "map")


# -- refusals: clear message, nothing left behind -----------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("report.html", "already exists.*--force"),
    ("nowhere/report.html", "folder for the output file does not exist"),
    ("report.pdf", "should end with .html or .htm"),
])
def test_bad_output_paths_are_refused_and_nothing_is_written(coded_study, tmp_path, name,
                                                              message):
    (tmp_path / "report.html").write_text("mine")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(InputError, match=message):
        export_report(coded_study, tmp_path / name)
    assert sorted(tmp_path.iterdir()) == before  # no temporary file, no folder
    assert (tmp_path / "report.html").read_text() == "mine"


def test_force_replaces_an_existing_report(coded_study, tmp_path):
    (tmp_path / "report.html").write_text("mine")
    export_report(coded_study, tmp_path / "report.html", force=True)
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "s"]


def test_empty_study_is_refused_and_no_file_is_left(tmp_path):
    with Study.open(tmp_path / "empty") as study:
        with pytest.raises(InputError, match="no complete run"):
            export_report(study, tmp_path / "report.html")
    with pytest.raises(InputError, match="There is no study here"):
        export_report(tmp_path / "not-a-study", tmp_path / "report.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


# -- the map's coordinates --------------------------------------------------------------

def test_unit_map_is_deterministic_and_keeps_the_unit_order():
    units = pd.DataFrame({"unit_id": ["a", "b", "c", "d"]})
    vectors = FakeEmbedder().encode(["trust time", "trust visits", "goals council", "drugs"])
    first = unit_map(units, vectors)
    assert first["unit_id"].tolist() == ["a", "b", "c", "d"]
    # the same units in another order land on the same places (each axis' sign is fixed)
    again = unit_map(units[::-1], vectors[::-1]).set_index("unit_id").loc[list("abcd")]
    assert again.to_numpy() == pytest.approx(first.set_index("unit_id").to_numpy(), abs=1e-6)
    with pytest.raises(InputError, match="got 3 vectors for 4 units"):
        unit_map(units, vectors[:3])



def test_after_a_rerun_the_codes_decided_before_show_those_decisions(coded_study, tmp_path):
    """A re-run finds the same codes under the same groups: the report showed them undecided
    (and a rejected one back under its theme), where the sheet and the widget leave them out."""
    first = coded_study.latest_run_id()
    coded_study.decide(f"code:{first}:C02", "reject", analyst="KJ")  # structural_tension
    coded_study.run(fakes.make_corpus_of(ANSWERS))
    page = export_report(coded_study, tmp_path / "r.html",
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    themes = section(page, "themes")
    assert "C02" not in themes  # rejected before: among the candidate new themes
    assert table_rows(section(page, "new-themes"))["C02 label C02a, b"][3] == \
        "rejected in an earlier run"
    relationships = themes[themes.index(">Relationships<"):themes.index(">Hope<")]
    assert table_rows(relationships)["C01 label C01a, b"][3] == "accepted in an earlier run"
    codes = table_rows(section(page, "agreement"), 1)  # decisions on code suggestions
    assert codes["Relationships"][0] == "1" and codes["Structural tension"][2] == "1"
    # only decisions on earlier runs carry: not the first run's view of a later rejection
    second = coded_study.latest_run_id()
    coded_study.decide(f"code:{second}:C03", "reject", analyst="KJ")
    view = study_view(coded_study, run_id=first)
    assert "C03" not in view.carried_codes and view.carried_codes == {}


def test_a_code_whose_units_were_coded_one_by_one_in_its_own_run_is_not_carried(tmp_path,
                                                                                monkeypatch):
    with open_coded_study(tmp_path / "s", monkeypatch) as study:  # one run: nothing earlier
        run_id = study.latest_run_id()
        members = study.load_run(run_id).assignments.query("code_id == 'C02'")["unit_id"]
        for unit in members:
            study.decide(f"unit:{unit}", "accept", analyst="KJ")
        assert study_view(study).carried_codes == {}


def test_a_codes_quotes_in_the_report_are_of_units_under_its_theme():
    from types import SimpleNamespace

    from themesift.export.report import _quotes

    code = SimpleNamespace(exemplar_ids="u1 | u2 | u3", theme_id="hope")
    text_of = {"u1": "Other theme.", "u2": "Hope one.", "u3": "Hope two."}
    theme_of = {"u1": "relationships", "u2": "hope", "u3": "hope"}
    assert _quotes(code, text_of, theme_of) == ("<div class='quote'>“Hope one.”</div>"
                                                "<div class='quote'>“Hope two.”</div>")
    # a code under no theme (members disagree), or none of its units under it: the first ones
    assert "Other theme." in _quotes(SimpleNamespace(exemplar_ids="u1 | u2", theme_id=None),
                                     text_of, theme_of)


# -- what the analyst decided, and what to do next -------------------------------------------

def test_study_report_logs_who_decided_what_and_when(coded_study, tmp_path):
    import datetime

    coded_study.decide("unit:u4", "accept", analyst="MR", note="ask the team")
    page = export_report(coded_study, tmp_path / "r.html",
                         embedder=FakeEmbedder()).read_text(encoding="utf-8")
    log = _Tables(section(page, "decisions")).tables[0]
    assert log[0] == ["decided", "analyst", "meaning unit or code", "decision", "theme", "note",
                      "made on run"]
    # newest first, one row per suggestion: its latest decision
    what = [(row[1], " ".join(row[2].split()[:2]), row[3], row[4]) for row in log[1:]]
    assert what == [("MR", "unit: “Paranoia", "accepted", "Symptoms as a barrier"),
                    ("AB", "unit: “Nobody", "reassigned to Hope", "Hope"),
                    ("KJ", "unit: “The", "rejected", "Structural tension"),
                    ("KJ", "unit: “Trust", "accepted", "Relationships"),
                    ("KJ", "code: C01", "accepted", "Relationships")]
    assert log[1][5] == "ask the team" and {row[6] for row in log[1:]} == {"this run"}
    when = datetime.datetime.fromisoformat(coded_study.decisions["time"].iloc[-1])
    assert log[1][0] == f"{when.day} {when:%b %Y, %H:%M} UTC"
    # the header says when the run was made, as people read a date
    made = datetime.datetime.strptime(coded_study.latest_run_id().split("-")[1],
                                      "%Y%m%dT%H%M%SZ")
    assert f"(made {made.day} {made:%b %Y, %H:%M} UTC) of study" in page
    assert "No decisions: a batch run" in section(render_report(hand_made_result()), "decisions")


def test_a_long_decision_log_folds_away(coded_study, tmp_path):
    for unit in ("u1", "u2", "u4", "u5", "u6", "u7", "u8", "u10"):
        coded_study.decide(f"unit:{unit}", "accept", analyst="KJ")
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<details><summary>Show all 12 decisions</summary><div class='wide'><table" in \
        section(page, "decisions")


def test_a_code_answered_by_an_earlier_reassignment_is_not_called_accepted(
        coded_study, tmp_path, monkeypatch):
    """The code of a re-run whose members an earlier run's reassignment coded: the report said
    "accepted in an earlier run" (a reviewer's "C11 reassigned to relationships")."""
    first = coded_study.latest_run_id()
    coded_study.decide(f"code:{first}:C03", "reassign", theme_id="hope", analyst="MR")

    def learnt(corpus=None, framework=None, **_):  # the re-run suggests the analyst's theme
        coded = coded_study.coding().set_index("unit_id")["theme_id"]
        return fakes.result_of(corpus, framework or ts.load_framework("recovery"), ANSWERS,
                               codes=CODES, code_themes={**CODE_THEMES, "C03": "hope"},
                               themes=[coded.get(f"u{i}", t) for i, t in enumerate(UNIT_THEMES)])

    monkeypatch.setattr(pipeline_module, "run_pipeline", learnt)
    coded_study.run(fakes.make_corpus_of(ANSWERS))
    assert study_view(coded_study).carried_codes["C03"] == "accept"
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    themes = section(page, "themes")
    hope = table_rows(themes[themes.index(">Hope<"):themes.index(">Structural")])
    assert hope["C03 label C03a, b"][3] == \
        "coded Hope by earlier decisions, reassignments among them (see the decision log)"
    # the decision that did it is in the log, as a reassignment, on the first run
    row = next(r for r in _Tables(section(page, "decisions")).tables[0] if "C03" in r[2])
    assert row[1:5] == ["MR", "code: C03 label C03", "reassigned to Hope", "Hope"]
    assert row[6] == first


# -- accessibility ---------------------------------------------------------------------------

def contrast(first, second):
    """The WCAG 2 contrast ratio of two colours (#rgb or #rrggbb)."""
    def luminance(colour):
        colour = colour.lstrip("#")
        colour = "".join(c * 2 for c in colour) if len(colour) == 3 else colour
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_theme_badge_reaches_wcag_contrast(coded_study, tmp_path):
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    badges = set(re.findall(r"<span class='theme' style='background:(#\w+);color:(#\w+)'>"
                            r"([^<]*)</span>", page))
    # every framework theme, "Fits no theme" and a rejected suggestion's "No theme"
    assert {name for _, _, name in badges} >= {"Relationships", "Hope", "Structural tension",
                                               "Symptoms as a barrier", "Fits no theme",
                                               "No theme (suggestion rejected)"}
    low = {name: round(contrast(bg, fg), 2) for bg, fg, name in badges if contrast(bg, fg) < 4.5}
    assert low == {}


def test_summary_rows_have_header_cells_and_sortable_headers_are_buttons():
    page = render_report(hand_made_result())
    assert "<th scope='row'>Framework</th>" in section(page, "summary")
    assert "<b>" not in section(page, "summary")
    head = re.search(r"<table class='sortable'><thead><tr>(.*?)</tr>", page).group(1)
    assert head.startswith("<th scope='col'><button type='button'>transcript</button></th>")
    assert "aria-sort" in page  # the script marks the sorted column


# -- words the analyst uses ------------------------------------------------------------------

def test_rationales_in_the_report_name_themes_not_ids():
    # An id that is a word ("hope") stays: it is a shared word or a unit's own word as often
    # ("words shared with the theme's texts: hope", "'I hope so' says nothing ...").
    result = hand_made_result()
    result.unit_suggestions["rationale"] = [
        'Closest indicator of structural_tension: "I hope symptoms_barrier stays"; words '
        "shared with the theme's texts: hope; runner-up symptoms_barrier (score 0.45)."
    ] * len(result.unit_suggestions)
    units = section(render_report(result), "units")
    assert ("Closest indicator of Structural tension: &quot;I hope symptoms_barrier "
            "stays&quot;; words shared with the theme&#x27;s texts: hope; runner-up Symptoms "
            "as a barrier (score 0.45).") in units  # the quote as said
    assert "structural_tension" not in units


def test_the_report_says_how_to_give_an_external_coding_on_the_command_line_too():
    agreement = section(render_report(hand_made_result()), "agreement")
    assert "--human FILE with themesift export --format report, or human= in Python" in agreement
    assert "(human=)" not in agreement


def test_next_steps_of_a_batch_run_and_of_a_study(coded_study, tmp_path):
    top = render_report(hand_made_result()).split("<nav>")[0]
    assert "Next steps" in top and "<b>decision</b> column of review.xlsx" in top
    assert "run with <code>--study FOLDER</code>" in top and "themesift apply" in top
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    top = page.split("<nav>")[0]
    # decided: u0 u1 u5 u6 u11 (C01), u3, u9; codes C02, C03, C04 are not
    assert "5 meaning units and 3 codes of this run are still to decide." in top
    assert "themesift apply" in top and "review widget" in top


def test_the_saturation_section_gives_a_verdict():
    text = section(render_report(hand_made_result()), "saturation")
    assert "The last transcript (fg_c) added 1 new code: not saturated by this measure." in text
    assert "machine's groupings of meaning units (candidate codes), not the analyst's codes" \
        in text
    codes = dict(CODES, C04=[0, 2])  # fg_c's own code gone: its units join others' in fg_a
    result = with_codes(hand_made_result(), codes)
    assert "The last transcript (fg_c) added no new code: saturated by this measure" in \
        section(render_report(result), "saturation")


# -- reading the figures -----------------------------------------------------------------------

def test_agreement_statistics_have_plain_names_and_kappa_read_in_words(coded_study, tmp_path):
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    agreement = section(page, "agreement")
    stats = table_rows(agreement, 2)  # after the two tables of decisions
    assert list(stats)[1:] == ["Percent agreement", "Cohen's kappa", "Krippendorff's alpha",
                               "Gwet's AC1"]
    assert "cohen kappa" not in agreement and "gwet ac1" not in agreement
    kappa = stats["Cohen's kappa"][0]
    # once per agreement table, in Landis and Koch's words, called a convention
    assert agreement.count("agreement beyond chance") == agreement.count(">statistic<") == 1
    assert (f"Cohen&#x27;s kappa {kappa}: fair agreement beyond chance (Landis and Koch&#x27;s "
            "bands, a convention") in agreement
    assert "precision is the share" in agreement and "support is" in agreement


@pytest.mark.parametrize("kappa, words", [
    (-0.1, "poor"), (0.0, "slight"), (0.2, "slight"), (0.21, "fair"), (0.4, "fair"),
    (0.41, "moderate"), (0.6, "moderate"), (0.61, "substantial"), (0.8, "substantial"),
    (0.81, "almost perfect"), (1.0, "almost perfect")])
def test_kappa_reads_in_landis_and_kochs_bands(kappa, words):
    from themesift.export.report import _kappa_in_words
    assert f": {words} agreement beyond chance" in _kappa_in_words(kappa)
    assert _kappa_in_words(float("nan")) == _kappa_in_words(None) == ""


def test_the_units_score_is_explained_once_and_told_apart_from_fit(coded_study, tmp_path):
    units = section(export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8"),
                    "units")
    assert units.count("its score: how sure the suggestion is, from 0 to 1") == 1
    assert "probability among the framework&#x27;s themes" in units
    assert "not a measure of how well the unit fits the theme" in units and "fit column" in units


def test_the_summary_reconciles_this_runs_units_by_decision(coded_study, tmp_path):
    page = export_report(coded_study, tmp_path / "r.html").read_text(encoding="utf-8")
    rows = table_rows(section(page, "summary"))
    line = rows["Meaning units by decision"][0]
    # u0 and u9 decided one by one, u3 rejected; C01 codes u1 u5 u6 u11; five left
    assert line == ("2 coded one by one + 1 rejected one by one (no theme) + 4 coded through a "
                    "decision on a code + 5 still to decide = 12 meaning units")
    parts, total = line.split(" = ")
    assert sum(int(p.split()[0]) for p in parts.split(" + ")) == int(total.split()[0]) == 12
    coded = int(rows["Coded by the analyst"][0].split()[0])
    assert coded == 2 + 4  # one by one and through a code, as the line says
    assert "5 meaning units and" in page  # the Next steps box: the same five still to decide
    # the table's "undecided" includes the units coded through a code, and says so
    assert "Undecided here: no decision on the unit itself; 4 of them are coded" in page

"""Frameworks: the built-in seed framework, custom YAML files and every kind of bad file."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from themesift.errors import FrameworkError
from themesift.frameworks import (
    check_framework,
    describe_framework,
    list_frameworks,
    load_framework,
)
from themesift.model import Framework

RECOVERY_IDS = ["relationships", "hope", "structural_tension", "symptoms_barrier"]

# Line numbers of this file are used in the tests below: keep them in step when editing.
NESTED = """\
name: test-framework
version: 2
description: A small framework for tests.
themes:
  - id: alpha
    name: Alpha
    description: >
      Talk about alpha
      things.
    indicators: ["first alpha", "second   alpha"]
    examples:
      - "An alpha example."
    subthemes:
      - id: alpha_one
        name: Alpha one
        description: A part of alpha.
        subthemes:
          - id: alpha_one_deep
            name: Deep
            description: A part of alpha one.
      - id: alpha_two
        name: Alpha two
        description: Another part of alpha.
  - id: beta
    name: Beta
    description: Talk about beta things.
    indicators:
"""


def _write(tmp_path: Path, text: str, name: str = "fw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- the built-in framework -----------------------------------------------------------------

def test_builtin_recovery_loads_with_the_four_seed_themes():
    fw = load_framework("recovery")
    assert isinstance(fw, Framework)
    assert fw.name == "recovery-oriented-practice"
    assert fw.version == "1"
    assert fw.description
    assert fw.theme_ids == RECOVERY_IDS
    assert fw.source == "builtin:recovery"


def test_every_builtin_theme_has_description_indicators_examples_and_subthemes():
    fw = load_framework("recovery")
    for theme in fw.themes:
        assert theme.name and theme.description
        assert 6 <= len(theme.indicators) <= 12, theme.id
        assert 3 <= len(theme.examples) <= 5, theme.id
        assert 2 <= len(theme.subthemes) <= 4, theme.id
        assert all(sub.parent == theme.id for sub in theme.subthemes)
    for theme in fw.all_themes():
        assert theme.description and theme.line is not None


def test_builtin_names_are_case_insensitive():
    assert load_framework(" Recovery ") == load_framework("recovery")


def test_list_frameworks_includes_recovery_with_its_theme_count():
    table = list_frameworks()
    assert list(table.columns) == ["name", "themes", "description", "version"]
    row = table.set_index("name").loc["recovery"]
    assert row["themes"] == 4
    assert row["version"] == "1"
    assert "recovery" in row["description"]


def test_a_framework_object_is_passed_through():
    fw = load_framework("recovery")
    assert load_framework(fw) is fw


def test_importing_frameworks_does_not_import_yaml_or_pandas():
    code = ("import sys, themesift.frameworks; "
            "print('yaml' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


# --- custom frameworks ----------------------------------------------------------------------

def test_custom_framework_with_nested_subthemes_loads(tmp_path):
    path = _write(tmp_path, NESTED)
    fw = load_framework(path)
    assert fw.name == "test-framework"
    assert fw.version == "2"
    assert fw.source == str(path)
    assert fw.theme_ids == ["alpha", "beta"]
    assert [t.id for t in fw.all_themes()] == [
        "alpha", "alpha_one", "alpha_one_deep", "alpha_two", "beta",
    ]
    assert [t.parent for t in fw.all_themes()] == [None, "alpha", "alpha_one", "alpha", None]
    assert [t.line for t in fw.all_themes()] == [5, 14, 18, 21, 24]
    alpha = fw.theme("alpha")
    assert alpha.description == "Talk about alpha things."  # folded, whitespace collapsed
    assert alpha.indicators == ("first alpha", "second alpha")
    assert alpha.examples == ("An alpha example.",)
    assert fw.theme("alpha_one_deep").name == "Deep"
    assert fw.theme("beta").indicators == ()  # 'indicators:' with nothing below it


def test_a_path_given_as_text_and_a_yml_suffix_both_work(tmp_path):
    path = _write(tmp_path, NESTED, name="fw.yml")
    assert load_framework(str(path)).theme_ids == ["alpha", "beta"]


def test_version_may_be_text_and_description_may_be_left_out(tmp_path):
    path = _write(tmp_path, """\
        name: dated
        version: 2024-03a
        themes:
          - {id: a, name: A, description: About a.}
        """)
    fw = load_framework(path)
    assert fw.version == "2024-03a"
    assert fw.description == ""


def test_check_framework_returns_the_loaded_framework(tmp_path):
    path = _write(tmp_path, NESTED)
    assert check_framework(path) == load_framework(path)


def test_describe_framework_mentions_every_theme_id_and_counts():
    fw = load_framework("recovery")
    text = describe_framework(fw)
    assert text.startswith("# recovery-oriented-practice (version 1)")
    for theme in fw.all_themes():
        assert f"`{theme.id}`" in text
        assert theme.name in text
    assert "12 indicators, 5 examples, 4 subthemes" in text


def test_describe_framework_notes_themes_with_nothing_but_a_description(tmp_path):
    text = describe_framework(load_framework(_write(tmp_path, NESTED)))
    assert "## Notes" in text
    assert "`beta` has no indicators or examples; suggestions for it rest on its description" in text
    # a subtheme is never suggested itself: its texts speak for its theme
    assert ("Subtheme `alpha_two` has no indicators or examples: its description alone speaks "
            "for `alpha`") in text
    assert "Subtheme `alpha_one_deep` has no indicators or examples: its description alone " \
           "speaks for `alpha`" in text
    assert "    - `alpha_one_deep`: Deep" not in text  # depth 2 is indented by two levels
    assert "  - `alpha_one_deep`: Deep" in text


def test_describe_framework_says_how_none_goes_with_fewer_than_three_themes():
    fw = load_framework("recovery")
    assert "Fewer than three themes" not in describe_framework(fw)
    two = Framework(name="two", version="1", description="", themes=fw.themes[:2])
    assert "- Fewer than three themes: a unit is suggested `none` where" in describe_framework(two)


def test_describe_framework_says_what_a_run_does_with_names_and_descriptions_only(
        tmp_path, fake_embedder):
    # Not "rest on its description alone": a run learns from the study's clearest units, and
    # says so in every rationale; the note must say what the run does.
    import pandas as pd

    import themesift as ts

    fw = load_framework(_write(tmp_path,
        "name: c\nversion: 1\nthemes:\n"
        "  - {id: sorting, name: Sorting, description: Sorting the columns of the table.}\n"
        "  - {id: searching, name: Searching, description: Searching the table for a value.}\n"))
    text = describe_framework(fw)
    assert "description alone" not in text
    assert ("learns how its participants talk from the units the descriptions suggest most "
            "clearly") in text
    texts = ["Sorting the columns.", "Sorting by date.", "Sorting works.", "Sorting again.",
             "Searching for a value.", "Searching found it.", "Searching again.",
             "Searching the table."]
    out = ts.suggest_units(pd.DataFrame({"unit_id": range(8), "text": texts}), fw,
                           embedder=fake_embedder)
    themed = out[out["theme_id"] != "none"]
    assert len(themed) >= 6
    assert themed["rationale"].str.contains("that the descriptions suggest most clearly").all()


# --- names and paths that do not lead to a framework ----------------------------------------

def test_unknown_builtin_name_lists_the_available_ones():
    with pytest.raises(FrameworkError) as info:
        load_framework("recovry")
    message = str(info.value)
    assert "Unknown framework 'recovry'. Available: recovery." in message
    assert "Did you mean 'recovery'?" in message
    assert "Give a built-in name or the path to a .yaml file." in message


def test_missing_file_names_the_path_and_the_builtins(tmp_path):
    missing = tmp_path / "nothere.yaml"
    with pytest.raises(FrameworkError) as info:
        load_framework(missing)
    assert str(missing) in str(info.value)
    assert "available: recovery" in str(info.value)


def test_a_folder_is_not_a_framework_file(tmp_path):
    with pytest.raises(FrameworkError, match="folder, not a framework file"):
        load_framework(tmp_path)


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path):
    path = tmp_path / "fw.yaml"
    path.write_bytes("name: x\nthemes:\n  - id: h\u00e5b\n".encode("cp1252"))
    with pytest.raises(FrameworkError, match=r"fw\.yaml, line 3: The file is not UTF-8"):
        load_framework(path)


# --- bad framework files: every problem names file, line and fix ----------------------------

BAD_FILES = {
    "yaml_syntax_error": (
        """\
        name: x
        themes:
          - id: a
            name: A: the first
            description: d
        """, 4, ["not valid YAML", "double quotes"]),
    "key_indented_too_far": (
        """\
        name: x
        themes:
          - id: a
            name: A
             description: About a.
        """, 5, ["The key 'description:' on line 5 is indented by 5 spaces, but 'name:' on "
                 "line 4 above it by 4", "must start in the same column",
                 "indent line 5 by 4 spaces, like line 4"]),
    "key_indented_too_little": (
        """\
        name: x
        themes:
          - id: a
            name: A
          description: About a.
        """, 5, ["'description:' on line 5 is indented by 2 spaces, but 'name:' on line 4 "
                 "above it by 4", "indent line 5 by 4 spaces"]),
    "list_item_out_of_line": (
        """\
        name: x
        themes:
          - {id: a, name: A, description: d}
           - {id: b, name: B, description: d}
        """, 4, ["The list item on line 4 is indented by 3 spaces, but the list item on line 3",
                 "indent line 4 by 2 spaces"]),
    "tab_indentation": (
        "name: x\nthemes:\n\t- id: a\n", 3, ["not valid YAML", "spaces, not tabs"]),
    "non_breaking_space_indentation": (
        "name: x\nthemes:\n  - id: a\n\u00a0\u00a0\u00a0 name: A\n    description: d\n", 4,
        ["indented with a non-breaking space", "type it again with spaces"]),
    "two_documents": (
        "name: x\n---\nname: y\n", 2, ["another document", "one framework per file"]),
    "empty_file": (
        "# only a comment\n", 1, ["The file is empty", "name: my-framework"]),
    "top_level_is_a_list": (
        """\
        - id: a
          name: A
        """, 1, ["must be a mapping", "starts with a list", "themes:"]),
    "missing_name": (
        """\
        version: 1
        themes:
          - {id: a, name: A, description: About a.}
        """, 1, ["The framework has no name", "name: my-framework"]),
    "missing_themes": (
        """\
        name: x
        version: 1
        """, 1, ["no 'themes:' list", "at least one theme"]),
    "empty_themes_list": (
        """\
        name: x
        themes: []
        """, 2, ["'themes:' list is empty", "at least one theme"]),
    "themes_with_nothing_below": (
        """\
        name: x

        themes:
        """, 3, ["'themes:' list is empty", "at least one theme"]),
    "themes_not_a_list": (
        """\
        name: x
        themes:
          id: a
        """, 2, ["'themes' must be a list of themes, not a mapping", "- id: some_id"]),
    "theme_not_a_mapping": (
        """\
        name: x
        themes:
          - {id: a, name: A, description: About a.}
          - relationships
        """, 4, ["Theme 2 must be a mapping", "the text 'relationships'", "- id: some_id"]),
    "missing_id": (
        """\
        name: x
        themes:
          - name: Hope For Tomorrow
            description: About hope.
        """, 3, ["Theme 1 has no id", "id: hope_for_tomorrow"]),
    "missing_theme_name": (
        """\
        name: x
        themes:
          - id: alpha
            description: About alpha.
        """, 3, ["Theme 'alpha' has no name", "name: Alpha"]),
    "missing_description": (
        """\
        name: x
        themes:
          - id: a
            name: A
        """, 3, ["Theme 'a' has no description", "one to three sentences"]),
    "empty_description": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description:
        """, 5, ["The description of theme 'a' is empty", "one to three sentences"]),
    "blank_quoted_description": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: "   "
        """, 5, ["The description of theme 'a' is empty", "one to three sentences"]),
    "description_is_a_list": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: [one, two]
        """, 5, ["The description of theme 'a' must be text, not a list"]),
    "id_with_capitals_and_spaces": (
        """\
        name: x
        themes:
          - id: Structural Tension
            name: S
            description: d
        """, 3, ["The id 'Structural Tension' may only use", "Write 'id: structural_tension'"]),
    "id_with_accents_and_dashes": (
        """\
        name: x
        themes:
          - id: håb-og-mål
            name: H
            description: d
        """, 3, ["may only use lowercase", "Write 'id: hab_og_mal'"]),
    "reserved_id_none": (
        """\
        name: x
        themes:
          - id: none
            name: Nothing
            description: d
        """, 3, ["'none' is reserved", "Choose another id"]),
    "duplicate_top_level_ids": (
        """\
        name: x
        themes:
          - id: hope
            name: Hope
            description: d
          - id: hope
            name: Hope again
            description: d
        """, 6, ["'hope' is already used on line 3", "its own id, e.g. 'hope_2'"]),
    "subtheme_repeats_a_theme_id": (
        """\
        name: x
        themes:
          - id: hope
            name: Hope
            description: d
            subthemes:
              - id: goals
                name: Goals
                description: d
          - id: other
            name: Other
            description: d
            subthemes:
              - id: goals
                name: Goals again
                description: d
        """, 14, ["'goals' is already used on line 7", "themes and subthemes share"]),
    "indicators_not_a_list": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            indicators: trust over time
        """, 6, ["'indicators' of theme 'a' must be a list of texts, not the text",
                 "one '- indicator text' line per indicator"]),
    "indicator_with_an_unquoted_colon": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            indicators:
              - trust
              - staff: we talk
        """, 8, ["Indicator 2 of theme 'a' is a mapping", "double quotes"]),
    "empty_indicator": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            indicators:
              - trust
              -
              - time
        """, 8, ["Indicator 2 of theme 'a' is empty", "remove the line"]),
    "example_is_a_list": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            examples:
              - [one, two]
        """, 7, ["Example 1 of theme 'a' is a list, not text", "double quotes"]),
    "examples_is_a_mapping": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            examples: {one: two}
        """, 6, ["'examples' of theme 'a' must be a list of texts, not a mapping"]),
    "subthemes_not_a_list": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            subthemes: a_one
        """, 6, ["'subthemes' of theme 'a' must be a list", "one '- id: ...' item each"]),
    "subtheme_missing_description": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            subthemes:
              - id: a_one
                name: A one
        """, 7, ["Subtheme 'a_one' has no description"]),
    "subtheme_not_a_mapping": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            subthemes:
              - just text
        """, 7, ["Subtheme 1 of 'a' must be a mapping"]),
    "unknown_theme_key": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            indicator: [trust]
        """, 6, ["Unknown key 'indicator' in theme 'a'", "Did you mean 'indicators'?",
                 "Known keys: id, name"]),
    "unknown_key_in_a_different_case": (
        """\
        name: x
        themes:
          - id: a
            Name: A
            description: d
        """, 4, ["Unknown key 'Name' in theme 'a'", "Did you mean 'name'?"]),
    "comma_in_an_unquoted_text_inside_braces": (
        """\
        name: x
        themes:
          - {id: cost, name: Cost, description: Paying for care, prescriptions or parking.}
        """, 3, ["Unknown key 'prescriptions or parking.' in theme 'cost'",
                 "Inside { } a comma ends a value: put a text with a comma in quotes"]),
    "unknown_top_level_key": (
        """\
        name: x
        theme:
          - {id: a, name: A, description: d}
        """, 2, ["Unknown key 'theme' at the top of the file", "Did you mean 'themes'?"]),
    "unknown_key_with_no_close_match": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: d
            colour: red
        """, 6, ["Unknown key 'colour'", "Known keys: id, name, description, indicators"]),
    "repeated_key": (
        """\
        name: x
        themes:
          - id: a
            name: A
            description: first
            description: second
        """, 6, ["'description' appears twice", "first given on line 5", "in theme 'a'"]),
    "version_is_a_list": (
        """\
        name: x
        version: [1, 2]
        themes:
          - {id: a, name: A, description: d}
        """, 2, ["The version must be a number or text, not a list", "version: 1"]),
    "empty_framework_description": (
        """\
        name: x
        description: ""
        themes:
          - {id: a, name: A, description: d}
        """, 2, ["The description of the framework is empty", "remove the 'description:'"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_framework_file_names_file_line_and_fix(tmp_path, case):
    text, line, fragments = BAD_FILES[case]
    path = _write(tmp_path, text)
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    error = info.value
    message = str(error)
    assert isinstance(error, ValueError)
    assert message.startswith(f"{path}, line {line}: "), message
    assert error.path == str(path) and error.line == line
    assert error.fix, message
    for fragment in fragments:
        assert fragment in message, message


def test_a_colon_inside_the_text_is_still_explained_as_quoting(tmp_path):
    text, line, _ = BAD_FILES["yaml_syntax_error"]
    with pytest.raises(FrameworkError) as info:
        load_framework(_write(tmp_path, text))
    assert "indented" not in str(info.value) and "double quotes" in str(info.value)


def test_every_mistake_is_reported_at_once(tmp_path):
    path = _write(tmp_path, """\
        name: x
        themes:
          - id: a
            name: A
            descripton: About a.
          - name: B
            description: About b.
            indicators: trust
          - id: Hope
            name: Hope
            description: About hope.
        """)
    with pytest.raises(FrameworkError) as info:
        load_framework(path)
    error = info.value
    assert str(error).startswith(f"{path}: 4 problems; correct them, then check the file "
                                 "again:\n")
    assert [p.line for p in error.problems] == [5, 6, 8, 9] and error.line == 5
    lines = str(error).splitlines()[1:]
    assert lines[0] == ("  line 5: Unknown key 'descripton' in theme 'a'. Did you mean "
                        "'description'? Known keys: id, name, description, indicators, "
                        "examples, subthemes.")
    # the misspelt key is read as the one it resembles: no second 'has no description'
    assert not any("has no description" in line for line in lines)
    assert lines[1].startswith("  line 6: Theme 2 has no id. Add a line 'id: b'")
    assert lines[2].startswith("  line 8: 'indicators' of theme 2 must be a list of texts")
    assert lines[3].startswith("  line 9: The id 'Hope' may only use lowercase letters")


def test_duplicate_id_message_names_both_lines(tmp_path):
    text, _, _ = BAD_FILES["subtheme_repeats_a_theme_id"]
    with pytest.raises(FrameworkError) as info:
        load_framework(_write(tmp_path, text))
    assert "line 14" in str(info.value) and "line 7" in str(info.value)


def test_check_framework_raises_the_same_errors(tmp_path):
    text, line, _ = BAD_FILES["unknown_theme_key"]
    with pytest.raises(FrameworkError, match=f"line {line}: Unknown key 'indicator'"):
        check_framework(_write(tmp_path, text))


TWO_THEMES = ("name: x\nversion: '1'\ndescription: d\nthemes:\n  - id: a\n    name: A\n"
              "    description: DESC\n  - id: b\n    name: B\n    description: Bee\n")


def test_a_description_of_zero_width_characters_only_is_empty(tmp_path):
    path = _write(tmp_path, TWO_THEMES.replace("DESC", '"\u200b"'))
    with pytest.raises(FrameworkError, match=r"line 7: The description of theme 'a' is empty"):
        load_framework(path)


def test_a_control_character_is_placed_on_its_line(tmp_path):
    path = _write(tmp_path, TWO_THEMES.replace("DESC", "Aye\x07"))
    with pytest.raises(FrameworkError, match=r"line 7: The file is not valid YAML"):
        load_framework(path)


def test_a_subtheme_of_a_theme_without_a_valid_id_names_the_theme_by_its_place(tmp_path):
    text = TWO_THEMES.replace("id: b", "id: a").replace(
        "description: Bee\n", "description: Bee\n    subthemes:\n      - name: Sub\n"
                              "        description: S\n")
    with pytest.raises(FrameworkError) as info:
        load_framework(_write(tmp_path, text))
    assert "line 12: Subtheme 1 of theme 2 has no id" in str(info.value)
    assert "'None'" not in str(info.value)


def test_an_unclosed_quote_is_placed_where_it_opens_and_curly_quotes_are_named(tmp_path):
    path = _write(tmp_path, TWO_THEMES.replace("DESC", '"How staff treat patients.\u201d'))
    with pytest.raises(FrameworkError, match=r"line 7: The file is not valid YAML: .*quoted "
                                             r"scalar\. Curly quotes .* are not quotes in YAML"):
        load_framework(path)


def test_a_curly_quoted_text_cut_at_its_comma_in_a_list_is_refused(tmp_path):
    path = _write(tmp_path, TWO_THEMES.replace(
        "DESC", "D\n    indicators: [\u201cthe bus, it only comes hourly\u201d, the nurses\u2019]"))
    with pytest.raises(FrameworkError, match=r"line 8: Indicator 1 of theme 'a', '\u201cthe bus', "
                                             r"holds a curly quote that the next comma cut off"):
        load_framework(path)
    fine = _write(tmp_path, TWO_THEMES.replace(
        "DESC", "D\n    indicators: [\u201cthe bus only comes hourly\u201d, the nurses\u2019]"))
    assert load_framework(fine).themes[0].indicators == (
        "\u201cthe bus only comes hourly\u201d", "the nurses\u2019")


def test_a_text_cut_short_by_a_yaml_comment_is_warned_about_with_its_line(tmp_path, caplog):
    path = _write(tmp_path, TWO_THEMES.replace("DESC", "Getting there, e.g. bus #7"))
    assert load_framework(path).themes[0].description == "Getting there, e.g. bus"
    assert ("line 7: the description of theme 'a' ends at 'Getting there, e.g. bus': YAML reads "
            "'#7' as a comment") in caplog.text
    caplog.clear()
    load_framework(_write(tmp_path, TWO_THEMES.replace("DESC", '"Getting there, e.g. bus #7"')))
    load_framework(_write(tmp_path, TWO_THEMES.replace("DESC", "Themes.  # keep it short")))
    assert "comment" not in caplog.text  # quoted, or a comment meant as one

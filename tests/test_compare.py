"""Agreement statistics, proven against published reference values."""

import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from themesift.compare import (
    AgreementReport,
    CodeMatchReport,
    CoderAgreement,
    compare_codes,
    align_spans,
    character_agreement,
    cohen_kappa,
    compare,
    compare_coders,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    percent_agreement,
    rating_counts,
)
from themesift.errors import InputError

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", example C: 4 observers,
# 12 units, values 1-5, missing data. Nominal alpha = 0.743. Same data as irrCAC's
# cac.raw4raters (Gwet 2014), for which irrCAC reports AC1 = 0.77544, Fleiss = 0.76117,
# alpha = 0.74342, percent agreement = 0.8181818.
N = None
KRIPP = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]

# Fleiss (1971) as on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters,
# 5 categories; kappa = 0.210.
FLEISS_1971 = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# irrCAC (Gwet) distrib.6raters: 15 subjects, 6 raters, 5 categories.
# AC1 = 0.4448007, Fleiss = 0.4139265, alpha = 0.4204384.
DISTRIB_6 = [
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
]

# irrCAC (Gwet 2014) cont3x3abstractors, two raters: kappa 0.7964094, AC1 0.8493305,
# Krippendorff alpha 0.7972585, percent agreement 0.89.
ABSTRACTORS = pd.DataFrame([[13, 0, 0], [0, 20, 7], [0, 4, 56]],
                           index=["ectopic", "aiu", "niu"], columns=["ectopic", "aiu", "niu"])


def tables_from_contingency(table):
    a, b = [], []
    for ra, row in table.iterrows():
        for rb, count in row.items():
            a += [ra] * count
            b += [rb] * count
    ids = [f"u{i}" for i in range(len(a))]
    return (pd.DataFrame({"id": ids, "theme_id": a}), pd.DataFrame({"id": ids, "theme_id": b}))


def table(pairs, **extra):
    ids, themes = zip(*pairs)
    return pd.DataFrame({"id": list(ids), "theme_id": list(themes), **extra})


# ---------------------------------------------------------------- reference values


def test_krippendorff_2011_example_with_missing_data():
    counts = rating_counts(KRIPP)
    assert krippendorff_alpha(counts) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(counts) == pytest.approx(0.74342, abs=1e-5)


def test_gwet_and_fleiss_on_irrcac_raw4raters():
    counts = rating_counts(KRIPP)
    assert gwet_ac1(counts) == pytest.approx(0.77544, abs=1e-5)
    assert fleiss_kappa(counts) == pytest.approx(0.76117, abs=1e-5)


def test_fleiss_1971_wikipedia_example():
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(0.210, abs=5e-4)


def test_irrcac_distribution_of_six_raters():
    assert gwet_ac1(DISTRIB_6) == pytest.approx(0.4448007, abs=1e-7)
    assert fleiss_kappa(DISTRIB_6) == pytest.approx(0.4139265, abs=1e-7)
    assert krippendorff_alpha(DISTRIB_6) == pytest.approx(0.4204384, abs=1e-7)


def test_two_rater_table_matches_gwet_handbook_values():
    a, b = tables_from_contingency(ABSTRACTORS)
    s = compare(a, b, bootstrap=0).summary
    assert s["n"] == 100
    assert s["percent_agreement"] == pytest.approx(0.89)
    assert s["cohen_kappa"] == pytest.approx(0.7964094, abs=1e-7)
    assert s["gwet_ac1"] == pytest.approx(0.8493305, abs=1e-7)
    assert s["krippendorff_alpha"] == pytest.approx(0.7972585, abs=1e-7)


def test_cohen_kappa_equals_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.choice(["x", "y", "z", "none"], size=60).tolist()
        b = [v if rng.random() < 0.6 else rng.choice(["x", "y", "z", "none"]) for v in a]
        b = [str(v) for v in b]
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
        ta = table(zip([f"u{i}" for i in range(60)], a))
        tb = table(zip([f"u{i}" for i in range(60)], b))
        assert compare(ta, tb, bootstrap=0).summary["cohen_kappa"] == pytest.approx(
            cohen_kappa_score(a, b))


def test_two_coder_alpha_equals_multi_coder_formula():
    a = ["x", "x", "y", "z", "y", "x"]
    b = ["x", "y", "y", "z", "x", "x"]
    ids = [f"u{i}" for i in range(6)]
    s = compare(table(zip(ids, a)), table(zip(ids, b)), bootstrap=0).summary
    assert s["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(rating_counts([a, b])))
    assert s["gwet_ac1"] == pytest.approx(gwet_ac1(rating_counts([a, b])))


# ---------------------------------------------------------------- two tables


def test_perfect_agreement_is_one():
    t = table([("u1", "housing"), ("u2", "family"), ("u3", "none"), ("u4", "family")])
    r = compare(t, t.copy(), bootstrap=200)
    assert isinstance(r, AgreementReport)
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert r.summary[name] == pytest.approx(1.0)
        assert r.summary[f"{name}_ci"] == pytest.approx((1.0, 1.0))
    assert r.disagreements.empty
    assert (r.per_theme["f1"] == 1.0).all()


def test_small_example_by_hand():
    a = table([("u1", "x"), ("u2", "x"), ("u3", "y"), ("u4", "y")])
    b = table([("u1", "x"), ("u2", "y"), ("u3", "y"), ("u4", "y")])
    r = compare(a, b, bootstrap=0)
    s = r.summary
    # po = 3/4; pe(kappa) = .5*.25 + .5*.75 = .5
    assert s["percent_agreement"] == pytest.approx(0.75)
    assert s["cohen_kappa"] == pytest.approx(0.5)
    # pi = (.375, .625); pe(AC1) = 2 * .375 * .625 = .46875
    assert s["gwet_ac1"] == pytest.approx((0.75 - 0.46875) / (1 - 0.46875))
    # 8 values: x 3, y 5; coincidences on the diagonal 6 -> (7*6 - 26) / (56 - 26)
    assert s["krippendorff_alpha"] == pytest.approx(16 / 30)
    assert s["n"] == 4 and s["only_a"] == 0 and s["only_b"] == 0
    x = r.per_theme.loc["x"]
    assert (x["precision"], x["recall"], x["support"]) == (1.0, 0.5, 2)
    assert x["f1"] == pytest.approx(2 / 3)
    assert r.confusion.loc["x", "y"] == 1 and r.confusion.loc["y", "y"] == 2
    assert r.disagreements[["id", "kind", "a_themes", "b_themes"]].values.tolist() == [
        ["u2", "disagree", "x", "y"]]
    assert r.multilabel["mode"] == "single-label"


def multilabel_tables():
    """Two codings of u1-u4 where only u3 has the same set of themes on both sides."""
    return (table([("u1", "x"), ("u1", "y"), ("u2", "y"), ("u3", "none"), ("u4", "x")]),
            table([("u1", "x"), ("u2", "y"), ("u2", "x"), ("u3", "none"), ("u4", "x"),
                   ("u4", "y")]))


def test_multilabel_uses_mean_of_per_theme_statistics():
    a, b = multilabel_tables()
    r = compare(a, b, bootstrap=0)
    assert r.multilabel["mode"] == "multi-label"
    assert r.multilabel["multi_label_units_a"] == 1 and r.multilabel["multi_label_units_b"] == 2
    assert r.multilabel["exact_set_agreement"] == pytest.approx(0.25)  # only u3
    assert r.multilabel["mean_jaccard"] == pytest.approx((0.5 + 0.5 + 1 + 0.5) / 4)
    # theme x: a = 1,0,0,1  b = 1,1,0,1 -> kappa by sklearn
    assert r.per_theme.loc["x", "kappa"] == pytest.approx(
        cohen_kappa_score([1, 0, 0, 1], [1, 1, 0, 1]))
    assert r.summary["cohen_kappa"] == pytest.approx(r.per_theme["kappa"].mean())
    assert r.summary["cohen_kappa"] == pytest.approx(r.multilabel["macro_cohen_kappa"])
    # the headline percent agreement is the strict one: the whole set of themes alike
    assert r.summary["percent_agreement"] == pytest.approx(0.25)
    assert r.multilabel["macro_percent_agreement"] == pytest.approx(r.per_theme["agreement"].mean())
    # the confusion matrix holds the units with one theme on each side (u3), and says so
    assert r.confusion.to_numpy().sum() == 1 and r.confusion.loc["none", "none"] == 1
    assert any("leaves out the 3 given several themes" in w for w in r.warnings)
    assert set(r.per_theme.index) == {"none", "x", "y"}


def test_units_coded_by_one_side_are_counted_and_listed():
    a = table([("u1", "x"), ("u2", "y"), ("u3", "x")], text=["one", "two", "three"])
    b = pd.DataFrame({"unit_id": ["u1", "u2", "u4"], "theme_id": ["x", "y", "none"]})
    r = compare(a, b, bootstrap=0)
    assert r.summary["n"] == 2
    assert (r.summary["only_a"], r.summary["only_b"]) == (1, 1)
    assert (r.only_a_ids, r.only_b_ids) == (("u3",), ("u4",))
    d = r.disagreements.set_index("id")
    assert d.loc["u3", "kind"] == "only_a" and d.loc["u3", "text"] == "three"
    assert d.loc["u4", "kind"] == "only_b" and d.loc["u4", "b_themes"] == "none"


def test_bootstrap_interval_contains_estimate_and_is_deterministic():
    a, b = tables_from_contingency(ABSTRACTORS)
    r1 = compare(a, b, bootstrap=300, seed=7)
    r2 = compare(a, b, bootstrap=300, seed=7)
    r3 = compare(a, b, bootstrap=300, seed=8)
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1"):
        lo, hi = r1.summary[f"{name}_ci"]
        assert lo <= r1.summary[name] <= hi and lo < hi
        assert r1.summary[f"{name}_ci"] == r2.summary[f"{name}_ci"]
    assert r1.summary["cohen_kappa_ci"] != r3.summary["cohen_kappa_ci"]
    # roughly the analytic 95% interval irrCAC reports for kappa, (0.68, 0.913)
    lo, hi = r1.summary["cohen_kappa_ci"]
    assert 0.62 < lo < 0.74 and 0.86 < hi < 0.96


def test_multilabel_bootstrap_interval():
    rng = np.random.default_rng(0)
    rows_a, rows_b = [], []
    for i in range(40):
        for t in ("x", "y", "z"):
            if rng.random() < 0.4:
                rows_a.append((f"u{i}", t))
                if rng.random() < 0.8:
                    rows_b.append((f"u{i}", t))
            elif rng.random() < 0.1:
                rows_b.append((f"u{i}", t))
        for rows in (rows_a, rows_b):  # a unit with no theme is coded "none"
            if not any(r[0] == f"u{i}" for r in rows):
                rows.append((f"u{i}", "none"))
    r = compare(table(rows_a), table(rows_b), bootstrap=200, seed=1)
    assert r.multilabel["mode"] == "multi-label"
    lo, hi = r.summary["cohen_kappa_ci"]
    assert lo <= r.summary["cohen_kappa"] <= hi


def test_multilabel_headline_percent_agreement_is_exact_set_agreement_with_its_rule():
    a, b = multilabel_tables()
    r = compare(a, b, bootstrap=0)
    assert r.summary["rule"].startswith("multi-label: percent agreement is the share of units "
                                        "with the same set of themes")
    assert r.summary["exact_set_agreement"] == r.summary["percent_agreement"] == pytest.approx(0.25)
    md = r.to_markdown()
    summary = md.split("## Summary")[1].split("##")[0]
    rows = [line for line in summary.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith("| percent_agreement | 0.250") and "whole set of themes" in rows[0]
    assert rows[1].startswith("| cohen_kappa") and "mean over themes, present/absent" in rows[1]
    assert "multi-label coding: percent_agreement counts a unit when its whole set" in md


def test_percent_agreement_is_not_inflated_by_a_large_codebook():
    """200 codes, each unit one or two of them: the mean over codes of present/absent
    agreement is near 1 whatever the coders do; the headline counts identical sets."""
    rng = np.random.default_rng(0)
    rows_a, rows_b = [], []
    for i in range(50):
        codes = [f"c{j:03d}" for j in rng.choice(200, size=2, replace=False)]
        rows_a += [(f"u{i}", c) for c in codes]
        rows_b += [(f"u{i}", c) for c in (codes if i % 2 else codes[:1] + ["c999"])]
    r = compare(table(rows_a), table(rows_b), bootstrap=0)
    assert r.summary["percent_agreement"] == pytest.approx(0.5)
    assert r.multilabel["macro_percent_agreement"] > 0.98


def test_markdown_and_dict():
    a = table([("u1", "x"), ("u2", "x"), ("u3", "y"), ("u5", "y")], text=["a|b", "c", "d", "e"])
    b = table([("u1", "x"), ("u2", "y"), ("u3", "y"), ("u4", "none")])
    r = compare(a, b, bootstrap=50)
    md = r.to_markdown()
    for key in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
                "only_a", "only_b", "Per theme", "Confusion", "u2"):
        assert key in md
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["summary"]["n"] == 3
    assert d["summary"]["cohen_kappa_ci"][0] <= d["summary"]["cohen_kappa"]
    assert set(d) >= {"summary", "per_theme", "confusion", "disagreements", "multilabel"}
    assert set(r.summary) == {
        "percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "n",
        "percent_agreement_ci", "cohen_kappa_ci", "krippendorff_alpha_ci", "gwet_ac1_ci",
        "only_a", "only_b", "left_out_a", "left_out_b", "unaligned_spans_a",
        "unaligned_spans_b", "none_overruled_a", "none_overruled_b", "exact_set_agreement",
        "rule"}
    assert r.summary["rule"] == "single-label"
    assert "exact_set_agreement" not in md.split("## Summary")[1].split("##")[0]
    assert "left_out_a" not in md  # counts that are 0 stay out of the markdown


def test_undefined_statistics_are_nan_and_json_null():
    t = table([("u1", "x"), ("u2", "x")])
    r = compare(t, t, bootstrap=20)
    assert r.summary["percent_agreement"] == 1.0
    assert np.isnan(r.summary["cohen_kappa"])
    json.dumps(r.to_dict(), allow_nan=False)


def test_reads_csv_and_xlsx_and_keeps_none(tmp_path):
    a = table([("1", "none"), ("2", "NA"), ("3", "x")])
    a.to_csv(tmp_path / "a.csv", index=False)
    b = pd.DataFrame({"unit_id": [1, 2, 3], "theme_id": ["none", "NA", "y"]})
    b.to_excel(tmp_path / "b.xlsx", index=False)
    r = compare(tmp_path / "a.csv", str(tmp_path / "b.xlsx"), bootstrap=0)
    assert r.summary["n"] == 3
    assert r.summary["percent_agreement"] == pytest.approx(2 / 3)
    assert {"none", "NA"} <= set(r.per_theme.index)


def test_column_names_with_spaces_around_them_are_read_as_seen(tmp_path):
    (tmp_path / "a.csv").write_text("unit_id , theme_id \n1,x\n2,y\n", encoding="utf-8")
    pd.DataFrame({" unit_id": [1, 2], "theme_id  ": ["x", "z"]}).to_excel(tmp_path / "b.xlsx",
                                                                        index=False)
    r = compare(tmp_path / "a.csv", tmp_path / "b.xlsx", bootstrap=0)
    assert r.summary["n"] == 2
    assert r.summary["percent_agreement"] == pytest.approx(1 / 2)


def test_named_columns_fall_back_to_themesifts_own_names_in_a_table_without_them(caplog):
    hand = pd.DataFrame({"uid": ["u1", "u2"], "lab": ["hope", "relationships"]})
    machine = pd.DataFrame({"unit_id": ["u1", "u2"], "theme_id": ["hope", "hope"]})
    r = compare(hand, machine, id_column="uid", label_column="lab", bootstrap=0)
    assert r.summary["n"] == 2 and r.summary["percent_agreement"] == pytest.approx(0.5)
    assert ("Table B has no column 'uid' or 'lab'; it is read by themesift's own names, "
            "unit_id and theme_id") in caplog.text
    with pytest.raises(InputError, match="Coding table B lacks the column"):
        compare(hand, machine.rename(columns={"theme_id": "code"}), id_column="uid",
                label_column="lab")


def test_a_coder_picked_from_a_table_without_coders_is_told_so():
    a = pd.DataFrame({"id": ["u1"], "theme_id": ["hope"]})
    with pytest.raises(InputError, match=r"names no coders, so there is no coder 'X' to pick"):
        compare(a, a, coder="X")


# ---------------------------------------------------------------- several coders


def long_table(matrix, coders=("A", "B", "C", "D")):
    rows = []
    for coder, values in zip(coders, matrix):
        for u, v in enumerate(values):
            if v is not None:
                rows.append((f"u{u + 1}", str(v), coder))
    return pd.DataFrame(rows, columns=["id", "theme_id", "coder"])


def test_compare_coders_on_krippendorff_example():
    t = long_table(KRIPP)
    r = compare_coders(t)
    assert isinstance(r, CoderAgreement)
    assert r.coders == ("A", "B", "C", "D")
    assert r.summary["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    assert r.summary["percent_agreement"] == pytest.approx(0.8181818, abs=1e-7)
    assert r.summary["n"] == 11  # unit 12 has a single value
    # every figure is on the 11 units coded by two or more coders: alpha and percent
    # agreement ignore a lone value anyway; Fleiss' kappa and AC1 (irrCAC's 0.76117 and
    # 0.77544 count unit 12 in the theme shares) are those of the 11 units
    paired = rating_counts([row[:11] for row in KRIPP])
    assert r.summary["gwet_ac1"] == pytest.approx(gwet_ac1(paired))
    assert r.summary["fleiss_kappa"] == pytest.approx(fleiss_kappa(paired))
    assert r.summary["one_coder_only"] == 1
    assert r.warnings == ("1 unit coded by one coder only (B: 1 of 11) is left out of every "
                          "figure, which cover the 11 units coded by two or more coders.",)
    # pairwise Cohen's kappa on shared units equals sklearn
    both = [u for u in range(12) if KRIPP[0][u] is not None and KRIPP[1][u] is not None]
    expected = cohen_kappa_score([str(KRIPP[0][u]) for u in both],
                                 [str(KRIPP[1][u]) for u in both])
    assert r.pairwise_kappa.loc["A", "B"] == pytest.approx(expected)
    assert r.pairwise_kappa.loc["B", "A"] == pytest.approx(expected)
    assert r.pairwise_n.loc["A", "B"] == len(both)
    assert r.pairwise_agreement.loc["C", "C"] == 1.0
    # one argument to compare() means "all coders in this table"
    one = compare(t)
    assert isinstance(one, CoderAgreement)
    assert one.summary == r.summary
    assert "Pairwise Cohen's kappa" in r.to_markdown()
    json.dumps(r.to_dict(), allow_nan=False)


def test_compare_coders_fleiss_1971():
    rows = []
    for s, counts in enumerate(FLEISS_1971):
        coder = 0
        for cat, count in enumerate(counts):
            for _ in range(count):
                rows.append((f"s{s}", f"c{cat}", f"r{coder}"))
                coder += 1
    r = compare_coders(pd.DataFrame(rows, columns=["id", "theme_id", "coder"]))
    assert r.summary["fleiss_kappa"] == pytest.approx(0.210, abs=5e-4)


def test_percent_agreement_helper():
    assert percent_agreement(["x", "y"], ["x", "x"]) == 0.5


# ---------------------------------------------------------------- bad input


def test_missing_columns_lists_the_columns_present():
    bad = pd.DataFrame({"unit": ["u1"], "code": ["x"]})
    with pytest.raises(InputError, match=r"lacks the column\(s\) id, theme_id.*unit, code"):
        compare(bad, table([("u1", "x")]))


def test_missing_column_in_file_names_the_file(tmp_path):
    path = tmp_path / "human.csv"
    path.write_text("id,theme\nu1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"human\.csv.*theme_id.*id, theme"):
        compare(path, table([("u1", "x")]))


def test_empty_labels_give_line_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,theme_id\nu1,x\nu2,\nu3,y\nu4,  \n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        compare(path, table([("u1", "x")]))
    msg = str(info.value)
    assert "a.csv, line 3: Empty theme_id in rows 3, 5. Give every row" in msg
    assert info.value.line == 3
    # a blank line is no row, but rows after it keep the numbers a spreadsheet shows
    path.write_text("id,theme_id\nu1,x\n\nu2,\nu3,y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.csv, line 4: Empty theme_id in row 4\."):
        compare(path, table([("u1", "x")]))
    # a DataFrame's rows are counted as in the file it would be: the header is row 1
    with pytest.raises(InputError, match=r"^Table A: Empty theme_id in row 3 \(the header is "
                                         r"row 1, as in a spreadsheet\)"):
        compare(table([("u1", "x"), ("u2", None)]), table([("u1", "x")]))
    with pytest.raises(InputError, match=r"^Span table human: Empty coder in rows 3, 4 \(the"):
        align_spans(SPANS.head(3).assign(coder=["A", "", " "]), UNITS)
    # a coder column left blank throughout (a .qdpx naming no users) is no coder column
    assert "coder" not in align_spans(SPANS.head(3).assign(coder=""), UNITS)


def test_no_ids_in_common():
    a = table([("a1", "x"), ("a2", "y")])
    b = table([("b1", "x"), ("b2", "y")])
    with pytest.raises(InputError, match=r"^The two tables share no unit ids: A has ids like "
                                         r"a1, a2; B has ids like b1, b2"):
        compare(a, b)


def test_duplicate_rows_are_an_error_with_rows(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,theme_id\nu1,x\nu1,y\nu1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: Duplicate \(id, theme\) pairs in rows 2, 4"):
        compare(path, table([("u1", "x")]))


def test_fewer_than_two_coders():
    t = table([("u1", "x"), ("u2", "y")], coder=["A", "A"])
    with pytest.raises(InputError, match="at least 2 coders"):
        compare_coders(t)
    with pytest.raises(InputError, match="no 'coder' column"):
        compare(table([("u1", "x")]))


def test_several_coders_in_a_two_table_compare():
    t = table([("u1", "x"), ("u1", "y"), ("u1", "x")], coder=["A", "B", "C"])
    with pytest.raises(InputError, match=r"holds 3 coders.*compare_coders"):
        compare(t, table([("u1", "x")]))


def test_unreadable_or_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        compare(tmp_path / "nope.csv", table([("u1", "x")]))
    odd = tmp_path / "a.json"
    odd.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"'\.json' file"):
        compare(odd, table([("u1", "x")]))
    with pytest.raises(InputError, match="DataFrame, a path to a .csv, .xlsx or .qdpx file"):
        compare(42, table([("u1", "x")]))


# ---------------------------------------------------------------- span alignment (item 2)

UNITS = pd.DataFrame({
    "unit_id": ["u1", "u2", "u3", "u4", "v1"],
    "doc_id": ["d", "d", "d", "d", "e"],
    "start": [0, 100, 200, 400, 0],
    "end": [100, 200, 400, 500, 50],
})
SPANS = pd.DataFrame({
    "id": ["s1", "s2", "s3", "s4", "s5", "s6"],
    "doc_id": ["d", "d", "d", "d", "zz", "d"],
    "start": [10, 90, 150, 195, 0, 40],
    "end": [30, 210, 300, 206, 5, 60],
    "theme_id": ["x", "y", "z", "w", "x", "x"],
    "coder": ["A"] * 6,
})


def _aligned_pairs(aligned):
    return sorted(zip(aligned["id"], aligned["theme_id"]))


def test_align_spans_overlap_rule_by_hand():
    a = align_spans(SPANS, UNITS)
    # s1 inside u1 (all of the span); s2 covers all of u2 only; s3 covers half of u2 and half
    # of u3 (>= 0.5 counts); s4 (11 chars) has 6/11 in u3; s6 joins s1 on u1 (same theme);
    # s5 is in a document the units do not have.
    assert _aligned_pairs(a) == [("u1", "x"), ("u2", "y"), ("u2", "z"), ("u3", "w"),
                                 ("u3", "z")]
    u1 = a[(a["id"] == "u1")].iloc[0]
    assert u1["n_spans"] == 2 and u1["span_ids"] == "s1; s6"
    assert u1["overlap_chars"] == 40 and u1["unit_coverage"] == pytest.approx(0.4)
    u3z = a[(a["id"] == "u3") & (a["theme_id"] == "z")].iloc[0]
    assert u3z["overlap_chars"] == 100 and u3z["unit_coverage"] == pytest.approx(0.5)
    assert u3z["span_coverage"] == pytest.approx(100 / 150)
    assert a.attrs["uncoded_units"] == ["u4"]  # v1's document was not coded at all
    assert a.attrs["unaligned_spans"] == ["s5"]
    assert a.attrs["summary"]["documents_not_in_units"] == ["zz"]
    assert set(a["coder"]) == {"A"}


def test_align_spans_threshold_and_no_coder():
    a = align_spans(SPANS.drop(columns=["coder", "id"]), UNITS, min_overlap=0.6)
    # s3 now codes only u3 (2/3 of the span); s4 (6/11 < 0.6) codes nothing
    assert _aligned_pairs(a) == [("u1", "x"), ("u2", "y"), ("u3", "z")]
    assert "coder" not in a.columns
    assert "d:195-206" in a.attrs["unaligned_spans"]


def test_align_spans_feeds_compare():
    a = align_spans(SPANS, UNITS)
    machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                            "theme_id": ["x", "y", "z", "none"]})
    report = compare(a, machine, bootstrap=0)
    assert report.summary["n"] == 3 and report.summary["only_b"] == 1
    assert report.only_b_ids == ("u4",)


def test_compare_aligns_a_span_table_to_the_units_it_is_given(tmp_path):
    machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                            "theme_id": ["x", "y", "z", "none"]})
    by_hand = compare(align_spans(SPANS, UNITS, min_overlap=0.6), machine, bootstrap=0)
    report = compare(SPANS, machine, units=UNITS, min_overlap=0.6, bootstrap=0)
    assert report.summary == by_hand.summary and report.only_b_ids == ("u4",)
    # a span table read from a file, on either side
    SPANS.to_csv(tmp_path / "spans.csv", index=False)
    swapped = compare(machine, tmp_path / "spans.csv", units=UNITS, bootstrap=0)
    assert swapped.summary["n"] == compare(machine, align_spans(SPANS, UNITS), bootstrap=0).summary["n"]
    # tables already keyed by unit ids are left as they are
    assert compare(machine, machine, units=UNITS, bootstrap=0).summary["percent_agreement"] == 1


def test_comparing_spans_with_units_without_aligning_says_how_to_align():
    machine = pd.DataFrame({"unit_id": ["u1", "u2"], "theme_id": ["x", "y"]})
    with pytest.raises(InputError) as info:
        compare(SPANS, machine)
    message = str(info.value)
    assert "share no unit ids" in message
    assert "units=units" in message and "align_spans" in message and "--units" in message


def write_qdpx(path, codes, selections, text="a" * 500, users=None):
    """A REFI-QDA project with one text source 'd' (UNITS' document); ``selections`` are
    (start, end, code guid) triples, or with ``users`` ({guid: name}) (start, end, {user guid:
    code guid}): each user's coding of the selection."""
    def codings(i, c):
        by_user = c if isinstance(c, dict) else {"": c}
        return "".join(f'<Coding guid="k{i}{u}"' + (f' creatingUser="{u}"' if u else "")
                       + f'><CodeRef targetGUID="{code}"/></Coding>' for u, code in by_user.items())

    sels = "".join(f'<PlainTextSelection guid="s{i}" startPosition="{s}" endPosition="{e}">'
                   f'{codings(i, c)}</PlainTextSelection>' for i, (s, e, c) in enumerate(selections))
    people = "".join(f'<User guid="{g}" name="{n}"/>' for g, n in (users or {}).items())
    qde = ('<?xml version="1.0" encoding="UTF-8"?><Project xmlns="urn:QDA-XML:project:1.0" '
           f'name="p"><Users>{people}</Users><CodeBook><Codes>{codes}</Codes></CodeBook><Sources>'
           f'<TextSource guid="src" name="d"><PlainTextContent>{text}</PlainTextContent>{sels}'
           "</TextSource></Sources></Project>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", qde)
    return path


# a theme with a candidate code under it, as themesift's own export files them
THEME_CODES = ('<Code guid="h" name="Hope"><Code guid="c" name="own flat"/></Code>'
               '<Code guid="n" name="Fits no theme"/><Code guid="o" name="Other"/>')


def test_a_qdpx_compares_through_a_mapping_that_reaches_its_sub_codes(tmp_path, caplog):
    path = write_qdpx(tmp_path / "p.qdpx", THEME_CODES,
                      [(0, 100, "h"), (100, 200, "c"), (200, 400, "n"), (400, 500, "o")])
    machine = pd.DataFrame({"id": ["u1", "u2", "u3", "u4"],
                            "theme_id": ["hope", "hope", "none", "hope"]})
    report = compare(path, machine, units=UNITS, mapping={"Hope": "hope", "Fits no theme": "none"},
                     bootstrap=0)
    assert report.summary["n"] == 4 and report.summary["percent_agreement"] == 0.75
    assert report.disagreements["a_themes"].tolist() == ["Other"]  # unmapped: kept, and said
    assert "1 coding(s) have a code that the mapping does not name" in caplog.text
    # in the report too (its markdown and JSON), and said once
    assert any("1 coding(s) have a code that the mapping does not name" in w
               for w in report.warnings)
    assert caplog.text.count("1 coding(s) have a code that the mapping does not name") == 1
    assert "'Other' (1)" in caplog.text
    with pytest.raises(InputError, match="A mapping maps the codes of a .qdpx, and neither"):
        compare(machine, machine, mapping={"Hope": "hope"})


def test_a_qdpx_without_codings_says_so(tmp_path):
    path = write_qdpx(tmp_path / "empty.qdpx", THEME_CODES, [])
    with pytest.raises(InputError, match=r"empty\.qdpx: The \.qdpx has no codings \(1 sources, "
                                         r"4 codes\), so there is nothing to compare"):
        compare(path, pd.DataFrame({"id": ["u1"], "theme_id": ["hope"]}), units=UNITS)


def test_tables_that_share_no_label_are_warned_about(caplog):
    names = table([("u1", "Hope"), ("u2", "Fits no theme")])
    ids = table([("u1", "hope"), ("u2", "none")])
    report = compare(names, ids, bootstrap=0)
    assert report.summary["percent_agreement"] == 0
    case, warning = report.warnings
    assert case.startswith("Labels that differ only in case or spacing count as different "
                           "themes: Hope / hope.")
    assert warning.startswith("The two tables share no theme label: A uses Fits no theme, Hope; "
                              "B uses hope, none.")
    assert "--mapping" in warning and warning in caplog.text
    assert f"**Warning:** {warning}" in report.to_markdown()
    assert report.to_dict()["warnings"] == [case, warning]
    assert compare(ids, table([("u1", "hope"), ("u2", "hope")]), bootstrap=0).warnings == ()
    # one side with a single theme (a study's first decisions): disagreement, no naming slip
    first = compare(table([("u1", "hope"), ("u2", "hope")]),
                    table([("u1", "relationships"), ("u2", "structural_tension")]), bootstrap=0)
    assert first.warnings == ()


def test_markdown_without_disagreement_rows_has_no_empty_table():
    human, machine = table([("u1", "hope"), ("u2", "none")]), table([("u1", "none"), ("u2", "hope")])
    text = compare(human, machine, bootstrap=0).to_markdown(max_disagreements=0)
    assert text.rstrip().endswith("## Disagreements (2)") and "more." not in text


def test_labels_that_differ_only_in_case_are_warned_about():
    human = table([("u1", "HOPE"), ("u2", "Hope"), ("u3", "none"), ("u4", "Structural tension")])
    machine = table([("u1", "hope"), ("u2", "hope"), ("u3", "none"),
                     ("u4", "structural_tension")])
    (warning,) = compare(human, machine, bootstrap=0).warnings
    assert warning == ("Labels that differ only in case or spacing count as different themes: "
                       "HOPE / Hope / hope, Structural tension / structural_tension. Write each "
                       "theme the same way in both tables.")


def test_the_label_none_is_read_in_any_case():
    human = table([("u1", "None"), ("u2", "NONE "), ("u3", "hope")])
    machine = table([("u1", "none"), ("u2", "none"), ("u3", "hope")])
    report = compare(human, machine, bootstrap=0)
    assert report.summary["percent_agreement"] == 1
    assert list(report.per_theme.index) == ["hope", "none"]
    spans = SPANS.head(1).assign(theme_id="None")
    assert align_spans(spans, UNITS)["theme_id"].tolist() == ["none"]


def test_align_spans_bad_input():
    with pytest.raises(InputError, match="start < end"):
        align_spans(SPANS.assign(end=[5, 210, 300, 206, 5, 60]), UNITS)
    with pytest.raises(InputError, match="lacks the column"):
        align_spans(SPANS.drop(columns=["start"]), UNITS)
    with pytest.raises(InputError, match=r"^The human spans and the units share no document: "
                                         r"the spans name other; the units name d, e\."):
        align_spans(SPANS.assign(doc_id="other"), UNITS)
    with pytest.raises(InputError, match="^The human coding has no coded spans"):
        align_spans(SPANS.head(0), UNITS)
    with pytest.raises(InputError, match="min_overlap"):
        align_spans(SPANS, UNITS, min_overlap=0)
    with pytest.raises(InputError, match="units table lacks"):
        align_spans(SPANS, UNITS.drop(columns=["doc_id"]))
    edited = UNITS.astype({"start": object})  # a units.csv edited by hand: a blank start
    edited.loc[1, "start"] = None
    with pytest.raises(InputError, match=r"units table has an empty or bad character span .* "
                                         r"in row\(s\) 3 \(the header is row 1"):
        align_spans(SPANS, edited)


def test_align_spans_accepts_source_column_of_qdpx_tables():
    qdpx_like = SPANS.rename(columns={"doc_id": "source"})
    assert _aligned_pairs(align_spans(qdpx_like, UNITS)) == _aligned_pairs(
        align_spans(SPANS, UNITS))


def test_align_sample_coding_to_segmented_units():
    from pathlib import Path

    import themesift as ts

    root = Path(__file__).resolve().parents[1] / "data" / "sample"
    csv = root / "coding" / "fg1_act_team_coding.csv"
    units = ts.segment(ts.read_corpus(str(root / "fg1_act_team.txt")))
    aligned = align_spans(csv, units)
    human = pd.read_csv(csv)
    spans = {r.id: (r.start, r.end) for r in human.itertuples()}
    uinfo = units.set_index("unit_id")
    assert len(aligned) > 0 and set(aligned["id"]) <= set(units["unit_id"])
    for row in aligned.itertuples():
        us, ue = int(uinfo.loc[row.id, "start"]), int(uinfo.loc[row.id, "end"])
        assert (row.unit_start, row.unit_end) == (us, ue)
        for sid in row.span_ids.split("; "):
            ss, se = spans[sid]
            ov = min(ue, se) - max(us, ss)
            assert ov > 0 and (ov >= 0.5 * (ue - us) or ov >= 0.5 * (se - ss)), (row.id, sid)
            # the span's theme is really one of that span's themes in the human table
            assert row.theme_id in set(human.loc[human["id"] == sid, "theme_id"])
    assert aligned.attrs["warnings"] == ()  # its text is the transcript's at its offsets
    summ = aligned.attrs["summary"]
    assert summ["n_units_coded"] + summ["n_units_uncoded"] == summ["n_units"] == len(units)
    assert not set(aligned.attrs["uncoded_units"]) & set(aligned["id"])
    # nearly every hand-coded span lands on a unit
    assert summ["n_spans_aligned"] >= 0.9 * summ["n_spans"]
    machine = pd.DataFrame({"unit_id": units["unit_id"], "theme_id": "relationships"})
    report = compare(aligned, machine, bootstrap=0)
    assert report.summary["n"] == summ["n_units_coded"]
    assert report.summary["only_b"] == summ["n_units_uncoded"]


def test_character_agreement_by_hand():
    a = pd.DataFrame({"doc_id": ["d", "d"], "start": [0, 4], "end": [6, 10],
                      "theme_id": ["x", "x"]})  # overlapping spans: characters 0-9 once
    b = pd.DataFrame({"doc_id": ["d", "d"], "start": [0, 10], "end": [8, 12],
                      "theme_id": ["x", "y"]})
    r = character_agreement(a, b, lengths={"d": 20}).set_index("theme_id")
    x = r.loc["x"]
    assert (x["chars_a"], x["chars_b"], x["chars_both"]) == (10, 8, 8)
    # po = (8 both + 10 neither) / 20 = 0.9; pe = .5*.4 + .5*.6 = .5; kappa = .4/.5
    assert x["agreement_pct"] == pytest.approx(90.0)
    assert x["a_and_b_pct"] == pytest.approx(40.0)
    assert x["not_a_and_not_b_pct"] == pytest.approx(50.0)
    assert x["a_not_b_pct"] == pytest.approx(10.0) and x["b_not_a_pct"] == 0.0
    assert x["kappa"] == pytest.approx(0.8)
    y = r.loc["y"]  # only b coded y: po = .9, pe = 0*.1 + 1*.9 = .9, kappa = 0
    assert y["agreement_pct"] == pytest.approx(90.0) and y["kappa"] == pytest.approx(0.0)
    # equal to sklearn's kappa over the character vectors
    ca = np.zeros(20, int)
    ca[0:10] = 1
    cb = np.zeros(20, int)
    cb[0:8] = 1
    assert x["kappa"] == pytest.approx(cohen_kappa_score(ca, cb))


def test_character_agreement_machine_units_and_lengths():
    machine = pd.DataFrame({"unit_id": ["u1", "u2"], "theme_id": ["x", "y"]})
    r = character_agreement(SPANS[SPANS["doc_id"] == "d"], machine, units=UNITS,
                            lengths={"d": 500})
    x = r.set_index("theme_id").loc["x"]
    assert x["n_chars"] == 500 and x["chars_b"] == 100 and x["chars_both"] == 40
    # without lengths the document ends at the last coded character
    r2 = character_agreement(SPANS[SPANS["doc_id"] == "d"], machine, units=UNITS)
    assert set(r2["n_chars"]) == {300}
    with pytest.raises(InputError, match="past the"):
        character_agreement(SPANS[SPANS["doc_id"] == "d"], machine, units=UNITS,
                            lengths={"d": 100})
    with pytest.raises(InputError, match="no length"):
        character_agreement(SPANS, machine, units=UNITS, lengths={"other": 500})


def test_character_agreement_leaves_out_documents_one_side_did_not_code(caplog):
    """As compare() does: a coder who coded one of two transcripts is not scored on the other
    (where the machine codes every unit, that read as near-perfect agreement on "not coded")."""
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": ["d", "e"],
                          "start": [0, 0], "end": [100, 100]})
    human = pd.DataFrame({"doc_id": ["d"], "start": [0], "end": [50], "theme_id": ["x"]})
    machine = pd.DataFrame({"unit_id": ["u1", "u2"], "theme_id": ["x", "x"]})
    with caplog.at_level("WARNING"):
        r = character_agreement(human, machine, units=units, lengths={"d": 100, "e": 100})
    assert list(r["source"]) == ["d"] and r.attrs["left_out_documents"] == ["e"]
    assert "leaves out 1 document that only one side coded: e" in caplog.text
    with pytest.raises(InputError, match="no document in common"):
        character_agreement(human.assign(doc_id="zz"), machine, units=units)


# ---------------------------------------------------------------- codes vs themes (item 3)


def _codes_example():
    from themesift.model import CandidateCodes

    units = [f"u{i}" for i in range(1, 11)]
    code = ["C1", "C1", "C2", "C2", "C2", "C3", "C3", "C3", "C3", "C1"]
    theme = ["t1"] * 4 + ["t2"] * 4 + ["t3"] * 2
    table = pd.DataFrame({"code_id": ["C1", "C2", "C3"], "label": ["tea", "visits", "meds"]})
    codes = CandidateCodes(table=table, assignments=pd.DataFrame(
        {"unit_id": units, "code_id": code, "distance": 0.1, "outlier": False}))
    return codes, pd.DataFrame({"id": units, "theme_id": theme}), code, theme


def test_compare_codes_known_answers():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    codes, human, code, theme = _codes_example()
    r = compare_codes(codes, human)
    assert isinstance(r, CodeMatchReport)
    # contingency: C1 = t1 2, t3 1; C2 = t1 2, t2 1; C3 = t2 3, t3 1
    assert r.contingency.loc["C1"].tolist() == [2, 0, 1]
    assert r.contingency.loc["C2"].tolist() == [2, 1, 0]
    assert r.contingency.loc["C3"].tolist() == [0, 3, 1]
    # many-to-one: C1 -> t1, C2 -> t1, C3 -> t2: t1 split, t2 matched, t3 missed
    assert r.codes.set_index("code_id")["majority_theme"].to_dict() == {
        "C1": "t1", "C2": "t1", "C3": "t2"}
    assert r.split == ("t1",) and r.missed == ("t3",)
    status = r.themes.set_index("theme_id")["status"].to_dict()
    assert status == {"t1": "split", "t2": "matched", "t3": "missed"}
    assert r.themes.set_index("theme_id").loc["t1", "coverage"] == 1.0
    assert r.themes.set_index("theme_id").loc["t3", "covering_codes"] == "C1 (1); C3 (1)"
    assert r.summary["purity"] == pytest.approx(0.7)  # (2 + 2 + 3) / 10
    assert r.summary["inverse_purity"] == pytest.approx(0.6)  # (2 + 3 + 1) / 10
    # one-to-one: the unique best assignment (total 6) is C1-t3, C2-t1, C3-t2
    pairs = sorted(zip(r.matching["code_id"], r.matching["theme_id"]))
    assert pairs == [("C1", "t3"), ("C2", "t1"), ("C3", "t2")]
    assert r.summary["matched_overlap"] == pytest.approx(0.6)
    c3 = r.matching.set_index("code_id").loc["C3"]
    assert (c3["precision"], c3["recall"], c3["jaccard"]) == (0.75, 0.75, 0.6)
    assert r.summary["adjusted_rand"] == pytest.approx(adjusted_rand_score(theme, code))
    assert r.summary["nmi"] == pytest.approx(normalized_mutual_info_score(theme, code))
    assert r.codes.set_index("code_id").loc["C1", "label"] == "tea"
    text = r.to_markdown()
    assert "Missed themes: t3" in text and "Split themes: t1" in text
    assert json.loads(json.dumps(r.to_dict()))["missed"] == ["t3"]


def test_compare_codes_identical_partition_and_one_sided_units():
    codes = pd.DataFrame({"unit_id": ["a", "b", "c", "d", "e"],
                          "code_id": ["X", "X", "Y", "Y", "Y"]})
    human = pd.DataFrame({"unit_id": ["a", "b", "c", "d", "z", "a"],
                          "theme_id": ["p", "p", "q", "q", "q", "none"]})
    r = compare_codes(codes, human)
    assert r.summary["n"] == 4
    assert r.summary["only_codes"] == 1 and r.summary["only_human"] == 1
    # "a" carries p and none, which is p (none is the absence of a theme, as in compare)
    assert r.summary["multi_label_units"] == 0
    assert r.summary["adjusted_rand"] == pytest.approx(1.0)
    assert r.summary["nmi"] == pytest.approx(1.0)
    assert r.summary["purity"] == 1.0
    assert r.missed == () and r.split == ()


def test_compare_codes_aligns_span_tables_and_rejects_bad_input():
    codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                          "code_id": ["A", "B", "B", "A"]})
    r = compare_codes(codes, SPANS, units=UNITS)
    assert r.summary["n"] == 3  # u1, u2, u3 carry human themes after alignment
    with pytest.raises(InputError, match="share no unit ids"):
        compare_codes(codes, pd.DataFrame({"id": ["x"], "theme_id": ["t"]}))
    with pytest.raises(InputError, match="lack the column"):
        compare_codes(codes.rename(columns={"code_id": "topic"}), SPANS)
    with pytest.raises(InputError, match="two codes"):
        compare_codes(pd.concat([codes, codes.assign(code_id="Z")]),
                      pd.DataFrame({"id": ["u1"], "theme_id": ["t"]}))


def test_compare_codes_a_code_whose_top_themes_tie_supports_no_theme():
    # C1 holds one unit of alpha and one of zeta: no majority, so alpha is not matched by it
    # (the old rule gave a tie to the theme first in sorted order)
    codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
                          "code_id": ["C1", "C1", "C2", "C2", "C2", "C2"]})
    human = pd.DataFrame({"id": ["u1", "u2", "u3", "u4", "u5", "u6"],
                          "theme_id": ["zeta", "alpha", "zeta", "zeta", "zeta", "zeta"]})
    r = compare_codes(codes, human)
    by_code = r.codes.set_index("code_id")
    assert by_code.loc["C1", "majority_theme"] == ""
    assert by_code.loc["C1", "tied_themes"] == "alpha; zeta"
    assert by_code.loc["C2", "majority_theme"] == "zeta" and by_code.loc["C2", "tied_themes"] == ""
    themes = r.themes.set_index("theme_id")
    assert themes.loc["alpha", "status"] == "missed" and themes.loc["alpha", "coverage"] == 0
    assert themes.loc["zeta", "status"] == "matched"
    assert themes.loc["zeta", "coverage"] == pytest.approx(0.8)  # 4 of its 5 units in C2
    assert r.missed == ("alpha",) and r.summary["n_matched"] == 1
    assert r.summary["n_tied_codes"] == 1
    assert r.summary["purity"] == pytest.approx(5 / 6)  # a tie does not change purity
    assert "a code whose top themes tie has none" in r.to_markdown()


def test_compare_codes_lists_a_theme_no_code_holds_as_missed():
    # small talk and short replies (u5-u7) get no code; the human coded u5-u6 theme c
    codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                          "code_id": ["C1", "C1", "C2", "C2"]})
    human = pd.DataFrame({"id": ["u1", "u2", "u3", "u4", "u5", "u6", "u7"],
                          "theme_id": ["a", "a", "b", "b", "c", "c", "none"]})
    r = compare_codes(codes, human)
    assert r.missed == ("c",) and r.summary["n_missed"] == 1 and r.summary["n_themes"] == 3
    c = r.themes.set_index("theme_id").loc["c"]
    assert (c["status"], c["size"], c["only_human"], c["coverage"]) == ("missed", 0, 2, 0.0)
    assert r.contingency["c"].tolist() == [0, 0]
    # 'none' on a unit the machine gave no code is agreement, not a missed theme
    assert "none" not in set(r.themes["theme_id"])
    assert r.summary["only_human"] == 3 and r.summary["n"] == 4
    assert r.summary["purity"] == 1.0 and r.summary["adjusted_rand"] == pytest.approx(1.0)


def test_compare_codes_reads_a_span_table_from_a_path_as_from_a_frame(tmp_path):
    codes = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                          "code_id": ["A", "B", "B", "A"]})
    expected = compare_codes(codes, SPANS, units=UNITS).to_dict()
    SPANS.to_csv(tmp_path / "spans.csv", index=False)
    SPANS.to_excel(tmp_path / "spans.xlsx", index=False)
    for path in (tmp_path / "spans.csv", str(tmp_path / "spans.xlsx")):
        assert compare_codes(codes, path, units=UNITS).to_dict() == expected
    # a .qdpx, its codes named through a mapping as compare() does
    qdpx = write_qdpx(tmp_path / "p.qdpx", THEME_CODES,
                      [(0, 100, "h"), (100, 200, "c"), (200, 400, "n"), (400, 500, "o")])
    r = compare_codes(codes, qdpx, units=UNITS, mapping={"Hope": "hope", "Fits no theme": "none"})
    assert r.summary["n"] == 4
    assert r.contingency.to_dict() == {"Other": {"A": 1, "B": 0}, "hope": {"A": 1, "B": 1},
                                       "none": {"A": 0, "B": 1}}
    # without the units, a span table's message says to give them
    with pytest.raises(InputError, match=r"pass the run's units \(units=units\)"):
        compare_codes(codes, tmp_path / "spans.csv")


def test_compare_codes_counts_every_code_and_leaves_out_transcripts_the_human_did_not_code(
        caplog):
    units = pd.DataFrame({"unit_id": ["d1", "d2", "d3", "d4", "e1", "e2", "e3"],
                          "doc_id": ["d"] * 4 + ["e"] * 3})
    codes = pd.DataFrame({"unit_id": ["d1", "d2", "d3", "d4", "e1", "e2", "e3"],
                          "code_id": ["C1", "C1", "C2", "C2", "C3", "C3", "C4"]})
    human = pd.DataFrame({"id": ["d1", "d2", "d3"], "theme_id": ["a", "a", "b"]})
    r = compare_codes(codes, human, units=units)
    s = r.summary
    assert (s["n"], s["n_codes"], s["n_codes_all"]) == (3, 2, 4)
    # e1-e3 are in a transcript the human never coded: left out, not coded by the codes alone
    assert (s["only_codes"], s["left_out_codes"], s["left_out_human"]) == (1, 3, 0)
    assert "3 units of the codes in documents the human did not code (e)" in caplog.text
    # a human table that names its documents (align_spans' output does) without the units:
    # the codes' documents are unknown, so they count as before, and a warning says why
    s = compare_codes(codes, human.assign(doc_id="d")).summary
    assert (s["only_codes"], s["left_out_codes"]) == (4, 0)
    assert "pass the run's units (units=units)" in caplog.text
    text = r.to_markdown()
    assert "3 units both sides have, in 2 of the run's 4 machine codes" in text
    assert "3 units of the codes in documents the other side has nothing of are left out" in text
    for word in ("**matched**: exactly one code", "**split**: two or more", "**missed**: no code"):
        assert word in text
    with pytest.raises(InputError, match=r"share no document: the codes' units are in d, e; "
                                         r"the human coded zz"):
        compare_codes(codes, pd.DataFrame({"id": ["z1"], "theme_id": ["a"], "doc_id": ["zz"]}),
                      units=units)


def test_plots_for_notebooks():
    import matplotlib

    matplotlib.use("Agg")
    from themesift.compare import compare

    a = pd.DataFrame({"id": ["1", "2", "3", "4"], "theme_id": ["hope", "hope", "none", "relationships"]})
    b = pd.DataFrame({"id": ["1", "2", "3", "4"], "theme_id": ["hope", "relationships", "none", "relationships"]})
    report = compare(a, b, bootstrap=0)
    ax = report.plot_confusion()
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(i) for i in report.confusion.index]
    bars = report.plot_per_theme()
    assert len(bars.patches) == len(report.per_theme)


def test_coding_table_saved_by_excel_with_semicolons_and_cp1252(tmp_path):
    path = tmp_path / "human.csv"
    path.write_bytes("id;theme_id;note\r\nu1;x;“café”\r\nu2;y;a, b\r\n".encode("cp1252"))
    report = compare(path, table([("u1", "x"), ("u2", "y")]))
    assert report.summary["n"] == 2 and report.summary["percent_agreement"] == 1.0


# ---------------------------------------------------------------- what a comparison leaves out


def test_a_coded_span_that_reaches_no_unit_is_counted_and_warned_about(caplog):
    machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "theme_id": ["x"] * 4})
    report = compare(SPANS, machine, units=UNITS, bootstrap=0)
    assert report.summary["unaligned_spans_a"] == 1 and report.summary["unaligned_spans_b"] == 0
    warning = next(w for w in report.warnings if "reach" in w)
    assert warning.startswith("1 coded span of A reaches no meaning unit, so it counts nowhere")
    assert "1 in a document the units do not have (s5): check that the doc_id" in warning
    assert "--min-overlap" not in warning and warning in caplog.text  # it would not help
    assert "| unaligned_spans_a | 1 |" in report.to_markdown()


def test_unaligned_spans_are_told_apart_by_why():
    """A span on text no unit covers (a moderator's question) and one whose overlap is below
    the rule get different reasons and fixes: only the second is helped by --min-overlap."""
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": ["d", "d"],
                          "start": [100, 200], "end": [200, 300]})
    spans = pd.DataFrame({"id": ["q", "straddle", "ok"], "doc_id": ["d", "d", "d"],
                          "start": [0, 180, 100], "end": [60, 220, 200],
                          "theme_id": ["x", "y", "x"]})
    aligned = align_spans(spans, units, min_overlap=0.6)
    assert aligned.attrs["unaligned_reasons"] == {"q": "no unit", "straddle": "overlap"}
    machine = pd.DataFrame({"unit_id": ["u1", "u2"], "theme_id": ["x", "x"]})
    warning = compare(spans, machine, units=units, min_overlap=0.6, bootstrap=0).warnings[0]
    assert warning.startswith("2 coded spans of A reach no meaning unit, so they count")
    assert "1 where no meaning unit is (a moderator's question" in warning
    assert "1 overlapping units by less than the min_overlap share" in warning
    assert "(straddle): lower min_overlap (themesift compare --min-overlap)" in warning


def test_units_of_documents_one_side_did_not_code_are_left_out_and_counted():
    # the human coded document d only; the machine also coded v1, in document e
    machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4", "v1"], "theme_id": ["x"] * 5})
    spans = SPANS[SPANS["doc_id"] == "d"]
    report = compare(spans, machine, units=UNITS, bootstrap=0)
    assert report.summary["left_out_b"] == 1 and report.summary["left_out_a"] == 0
    assert report.only_b_ids == ("u4",)  # in document d, which the human coded
    warning = next(w for w in report.warnings if "left out" in w)
    assert warning.startswith("1 unit of B in documents that A did not code at all (e)")
    assert "| left_out_b | 1 |" in report.to_markdown()
    # tables keyed by unit ids that carry doc_id need no units table
    human = pd.DataFrame({"id": ["u1", "u2"], "doc_id": ["d", "d"], "theme_id": ["x", "y"]})
    keyed = machine.assign(doc_id=["d", "d", "d", "d", "e"])
    assert compare(human, keyed, bootstrap=0).summary["left_out_b"] == 1
    assert compare(human, keyed, bootstrap=0).summary["only_b"] == 2  # u3, u4 of document d
    # without a way to know the documents, every unit counts
    assert compare(human.drop(columns="doc_id"), machine, bootstrap=0).summary["only_b"] == 3
    with pytest.raises(InputError, match="code no document in common"):
        compare(human, keyed[keyed["doc_id"] == "e"], bootstrap=0)


# ---------------------------------------------------------------- one table or two, same figures


def test_several_coders_agree_the_same_whatever_the_themes_are_called():
    rows = [("u1", "hope", "A"), ("u1", "relationships", "A"), ("u1", "hope", "B"),
            ("u2", "none", "A"), ("u2", "none", "B"), ("u2", "hope", "C"),
            ("u3", "relationships", "A"), ("u3", "relationships", "B"),
            ("u3", "relationships", "C"), ("u3", "hope", "C"), ("u4", "hope", "A"),
            ("u4", "relationships", "B"), ("u4", "hope", "C"), ("u1", "hope", "C")]
    t = pd.DataFrame(rows, columns=["id", "theme_id", "coder"])
    renamed = t.assign(theme_id=t["theme_id"].replace({"hope": "z_hope", "relationships": "a"}))
    r, r2 = compare_coders(t), compare_coders(renamed)
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
                 "fleiss_kappa"):
        assert r.summary[name] == pytest.approx(r2.summary[name])
    assert r.summary["rule"].startswith("multi-label")
    assert r.ratings.loc["u1", "A"] == "hope; relationships"


def test_two_coders_in_one_table_or_two_tables_get_the_same_figures():
    a = table([("u1", "x"), ("u1", "y"), ("u2", "y"), ("u3", "x"), ("u4", "none"),
               ("u5", "y"), ("u6", "x"), ("u6", "y")])
    b = table([("u1", "x"), ("u2", "y"), ("u3", "y"), ("u4", "none"), ("u5", "y"),
               ("u6", "x"), ("u6", "y")])
    two = compare(a, b, bootstrap=0).summary
    one = compare_coders(pd.concat([a.assign(coder="A"), b.assign(coder="B")])).summary
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "n"):
        assert one[name] == pytest.approx(two[name]), name
    pairs = compare_coders(pd.concat([a.assign(coder="A"), b.assign(coder="B")]))
    assert pairs.pairwise_agreement.loc["A", "B"] == pytest.approx(two["percent_agreement"])
    assert pairs.pairwise_kappa.loc["A", "B"] == pytest.approx(two["cohen_kappa"])
    assert one["rule"] == two["rule"]


def test_coder_markdown_prints_counts_as_whole_numbers():
    md = compare_coders(long_table(KRIPP)).to_markdown()
    assert "| n | 11 |" in md and "| n_coders | 4 |" in md and "11.000" not in md


def test_a_single_coder_file_is_named_once(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("id,theme_id,coder\nu1,x,A\nu2,y,A\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        compare(path)
    assert str(info.value).count("one.csv") == 1 and "has 1 coder (A)" in str(info.value)


# ---------------------------------------------------------------- a .qdpx of several coders


def write_two_coder_qdpx(path):
    """A REFI-QDA project whose users AB and KJ coded the same three selections of 'd'."""
    return write_qdpx(path, '<Code guid="h" name="Hope"/><Code guid="n" name="Fits no theme"/>',
                      [(0, 100, {"ua": "h", "ub": "h"}), (100, 200, {"ua": "h", "ub": "n"}),
                       (400, 500, {"ua": "n", "ub": "n"})], users={"ua": "AB", "ub": "KJ"})


def test_a_qdpx_of_two_coders_compares_its_coders(tmp_path):
    import themesift as ts

    path = write_two_coder_qdpx(tmp_path / "two.qdpx")
    for given in (path, str(path), ts.read_qdpx(path)):
        result = compare(given)
        assert isinstance(result, CoderAgreement) and result.coders == ("AB", "KJ")
        assert result.summary["n"] == 3
        assert result.summary["percent_agreement"] == pytest.approx(2 / 3)
    assert compare_coders(path).summary == compare(path).summary
    # on meaning units: the spans are carried onto them first
    on_units = compare(path, units=UNITS, mapping={"Hope": "hope", "Fits no theme": "none"})
    assert on_units.summary["n"] == 3 and set(on_units.ratings.index) == {"u1", "u2", "u4"}


def test_coder_picks_one_coder_of_table_a(tmp_path):
    path = write_two_coder_qdpx(tmp_path / "two.qdpx")
    machine = pd.DataFrame({"id": ["u1", "u2", "u4"], "theme_id": ["Hope", "Hope", "Hope"]})
    with pytest.raises(InputError) as info:
        compare(path, machine, units=UNITS)
    message = str(info.value)
    assert f"Table A ({path}) holds 2 coders (AB, KJ)" in message and "--coder NAME" in message
    assert compare(path, machine, units=UNITS, coder="AB", bootstrap=0
                   ).summary["percent_agreement"] == pytest.approx(2 / 3)
    assert compare(path, machine, units=UNITS, coder="KJ", bootstrap=0
                   ).summary["percent_agreement"] == pytest.approx(1 / 3)
    with pytest.raises(InputError, match=r"no codings by the coder 'XX'.*AB, KJ"):
        compare(path, machine, units=UNITS, coder="XX")
    with pytest.raises(InputError, match="there is no table B"):
        compare(path, coder="AB")


def test_labels_pandas_read_as_missing_get_a_hint():
    b = pd.read_csv(io.StringIO("id,theme_id\nu1,None\nu2,x\n"))
    with pytest.raises(InputError) as info:
        compare(table([("u1", "none"), ("u2", "x")]), b)
    assert "keep_default_na=False" in str(info.value) and "None" in str(info.value)
    with pytest.raises(InputError, match="keep_default_na=False"):
        align_spans(SPANS.assign(theme_id=np.nan), UNITS)


# ---------------------------------------------------------------- a method researcher's review


def test_id_and_label_columns_hold_for_tables_carried_onto_units(tmp_path):
    """--id-column / --label-column name the user's own columns, also when a span table is
    aligned: the machine's table keeps its id column, the spans their theme column."""
    machine = pd.DataFrame({"uid": ["u1", "u2", "u3", "u4"], "theme_id": ["x", "y", "z", "x"]})
    spans = SPANS[SPANS["doc_id"] == "d"].drop(columns="coder")
    plain = compare(spans, machine.rename(columns={"uid": "id"}), units=UNITS, bootstrap=0)
    by_uid = compare(spans, machine, units=UNITS, id_column="uid", bootstrap=0)
    assert by_uid.summary == plain.summary
    labelled = compare(spans.rename(columns={"theme_id": "code"}),
                       machine.rename(columns={"uid": "id", "theme_id": "code"}),
                       units=UNITS, label_column="code", bootstrap=0)
    assert labelled.summary == plain.summary
    with pytest.raises(InputError, match="lacks the column.*code; its columns are: id, doc_id"):
        compare(spans, machine, units=UNITS, label_column="code", bootstrap=0)


def test_a_unit_reached_by_none_and_a_theme_is_the_theme():
    units = pd.DataFrame({"unit_id": ["u1", "u2"], "doc_id": ["d", "d"],
                          "start": [0, 100], "end": [100, 200]})
    spans = pd.DataFrame({"doc_id": ["d"] * 3, "start": [0, 50, 100], "end": [60, 100, 200],
                          "theme_id": ["hope", "none", "none"]})
    aligned = align_spans(spans, units)
    assert aligned[["id", "theme_id"]].values.tolist() == [["u1", "hope"], ["u2", "none"]]
    assert aligned.attrs["summary"]["none_overruled"] == 1
    machine = pd.DataFrame({"id": ["u1", "u2"], "theme_id": ["hope", "none"]})
    assert compare(spans, machine, units=units, bootstrap=0).summary["percent_agreement"] == 1.0


def test_a_span_coded_twice_with_one_theme_is_an_error_naming_its_rows(tmp_path):
    path = tmp_path / "spans.csv"
    path.write_text("doc_id,start,end,theme_id\nd,10,30,x\nd,40,60,y\nd,10,30,x\n")
    with pytest.raises(InputError) as info:
        compare(path, pd.DataFrame({"id": ["u1"], "theme_id": ["x"]}), units=UNITS)
    assert "The same span coded with the same theme twice in rows 2, 4" in str(info.value)
    # another theme on the same span is multi-label coding, and fine
    path.write_text("doc_id,start,end,theme_id\nd,10,30,x\nd,10,30,y\n")
    assert align_spans(path, UNITS)["theme_id"].tolist() == ["x", "y"]


def test_coders_of_spans_compared_without_units_are_warned_of_exact_matching(tmp_path, caplog):
    """Coders seldom select exactly the same characters: without units most spans would
    silently count as skipped by the other coder."""
    path = write_qdpx(tmp_path / "team.qdpx", '<Code guid="h" name="Hope"/>',
                      [(0, 100, {"ua": "h", "ub": "h"}), (100, 200, {"ua": "h"}),
                       (102, 198, {"ub": "h"})], users={"ua": "AB", "ub": "KJ"})
    result = compare(path)
    assert result.summary["n"] == 1
    warning, = result.warnings
    assert "matched only by their exact characters: 2 spans coded by one coder only (AB: 1 " \
           "of 2, KJ: 1 of 2) are left out of every figure" in warning
    assert "--units units.csv" in warning and "**Warning:**" in result.to_markdown()
    assert compare_coders(path).warnings == result.warnings  # the same, however it is asked
    assert compare(path, units=UNITS).warnings == ()  # on meaning units: nothing to say
    lone = write_qdpx(tmp_path / "one.qdpx", '<Code guid="h" name="Hope"/>',
                      [(0, 100, {"ua": "h"})], users={"ua": "AB"})
    caplog.clear()
    with caplog.at_level("WARNING"), pytest.raises(InputError, match="at least 2 coders"):
        compare(lone)
    assert "exact characters" not in caplog.text  # no warning before the error


def test_a_span_tables_own_coder_column_is_read_when_it_is_aligned():
    spans = SPANS[SPANS["doc_id"] == "d"].rename(columns={"coder": "annotator"})
    spans = pd.concat([spans, spans.assign(annotator="B")], ignore_index=True)
    result = compare(spans, units=UNITS, coder_column="annotator")
    assert result.coders == ("A", "B") and result.summary["percent_agreement"] == 1.0
    machine = pd.DataFrame({"id": ["u1", "u2", "u3"], "theme_id": ["x", "y", "z"]})
    assert compare(spans, machine, units=UNITS, coder_column="annotator", coder="B",
                   bootstrap=0).summary["n"] == 3


def test_undefined_kappa_of_a_theme_is_said_in_multi_label_mode():
    a = pd.DataFrame({"id": ["u1", "u1", "u2", "u3"], "theme_id": ["hope", "rel", "hope", "hope"]})
    b = pd.DataFrame({"id": ["u1", "u2", "u3"], "theme_id": ["hope"] * 3})
    report = compare(a, b, bootstrap=0)
    assert np.isnan(report.per_theme.loc["hope", "kappa"]) and report.per_theme.loc["hope", "ac1"] == 1
    assert ("Kappa and alpha are the means over 1 of the 2 themes: for hope chance agreement is "
            "1 (both sides gave it to every shared unit)") in " ".join(report.warnings)
    assert report.summary["cohen_kappa"] == report.per_theme.loc["rel", "kappa"]


def test_coder_limits_the_unmapped_code_warning_to_that_coder(tmp_path, caplog):
    path = write_qdpx(tmp_path / "two.qdpx", '<Code guid="h" name="Hope"/><Code guid="o" name="Other"/>',
                      [(0, 100, {"ua": "h", "ub": "o"}), (100, 200, {"ua": "h", "ub": "o"})],
                      users={"ua": "AB", "ub": "KJ"})
    machine = pd.DataFrame({"id": ["u1", "u2"], "theme_id": ["hope", "hope"]})
    report = compare(path, machine, units=UNITS, coder="AB", mapping={"Hope": "hope"}, bootstrap=0)
    assert report.summary["percent_agreement"] == 1.0
    assert "does not name" not in caplog.text and not report.warnings
    compare(path, machine, units=UNITS, coder="KJ", mapping={"Hope": "hope"}, bootstrap=0)
    assert "2 coding(s) have a code that the mapping does not name" in caplog.text


# ---------------------------------------------------------------- a methods researcher's checks


def test_units_one_coder_alone_coded_are_left_out_of_every_figure_and_said():
    """A coder who alone codes more units (all none) moved Fleiss' kappa and AC1 through the
    theme shares while n stayed the same: every figure is on the units two coders coded."""
    rng = np.random.default_rng(1)
    a = table([(f"u{i}", t) for i, t in enumerate(rng.choice(["hope", "rel", "st", "none"], 40))],
              coder="A")
    b = a.assign(coder="B")
    b.loc[::4, "theme_id"] = "rel"
    extra = pd.DataFrame({"id": [f"v{i}" for i in range(120)], "theme_id": "none", "coder": "B"})
    both = compare_coders(pd.concat([a, b]))
    more = compare_coders(pd.concat([a, b, extra]))
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1",
                 "fleiss_kappa", "n"):
        assert more.summary[name] == pytest.approx(both.summary[name]), name
    two = compare(a.drop(columns="coder"), pd.concat([b, extra]).drop(columns="coder"),
                  bootstrap=0).summary
    assert more.summary["gwet_ac1"] == pytest.approx(two["gwet_ac1"])
    assert more.summary["one_coder_only"] == 120 and both.warnings == ()
    assert more.warnings == ("120 units coded by one coder only (B: 120 of 160) are left out "
                             "of every figure, which cover the 40 units coded by two or more "
                             "coders.",)


def test_several_coders_are_warned_of_labels_that_differ_only_in_case():
    t = table([("u1", "Hope"), ("u2", "none"), ("u1", "hope"), ("u2", "none")],
              coder=["A", "A", "B", "B"])
    warning, = compare_coders(t).warnings
    assert warning == ("Labels that differ only in case or spacing count as different themes: "
                       "Hope / hope. Write each theme the same way for every coder.")
    assert compare(t).warnings == (warning,)


TRANSCRIPT = "Every day is a Thursday here.\nAnd it's raining, so visits will cancel.\n" * 3
_LINES = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", TRANSCRIPT)]
TEXT_UNITS = pd.DataFrame({  # one unit a line, each with its exact text; the "\n" in none
    "unit_id": [f"u{i}" for i in range(6)], "doc_id": "d",
    "start": [s for s, _ in _LINES], "end": [e for _, e in _LINES],
    "text": [TRANSCRIPT[s:e] for s, e in _LINES]})


def text_spans(shift=0, rows=range(6)):
    """A span table with a text column: the first 20 characters of each unit, the offsets of
    ``rows`` shifted by ``shift``."""
    starts = [s + shift * (i in rows) for i, s in enumerate(TEXT_UNITS["start"])]
    return pd.DataFrame({"doc_id": "d", "start": starts, "end": [s + 20 for s in starts],
                         "text": [t[:20] for t in TEXT_UNITS["text"]],
                         "theme_id": ["none", "hope"] * 3})


def test_span_offsets_that_do_not_match_the_transcript_text_are_an_error(tmp_path):
    assert align_spans(text_spans(), TEXT_UNITS).attrs["warnings"] == ()
    # whitespace and line endings as a spreadsheet keeps them are no mismatch
    loose = text_spans().assign(text=lambda t: t["text"].str.replace(".", ".\r\n  "))
    assert align_spans(loose, TEXT_UNITS).attrs["warnings"] == ()
    path = tmp_path / "shifted.csv"
    text_spans(shift=4).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        compare(path, table([("u0", "none")]), units=TEXT_UNITS)
    message = str(info.value)
    assert message.startswith(f"{path}: 6 of the 6 coded spans that the units' text "
                              "lets us check are not the transcript's text at their offsets "
                              "(line 2, characters 4-24: the row says 'Every day is a Thurs', "
                              "the transcript there says 'y day is a Thursday'; line 3, "
                              "characters 34-54")
    assert "; also lines 5, 6, 7)." in message
    assert "Offsets must count the characters of the transcript as themesift reads it" in message
    # a few rows only: a warning naming them, and the comparison goes on
    report = compare(text_spans(shift=4, rows=[3]), table([("u0", "none")]), units=TEXT_UNITS,
                     bootstrap=0)
    warning = report.warnings[0]
    assert warning.startswith("1 of the 6 coded spans that the units' text lets us check are "
                              "not the transcript's text at their offsets (row 5, characters "
                              "105-125: the row says \"And it's raining, so\"") \
        and "), in the span table (the header is row 1, as in a spreadsheet): they are " \
            "aligned by their offsets." in warning


def _each_row_named_once(message, at="row"):
    named = re.findall(rf"\b{at}s? (\d+(?:, \d+)*)", message)
    rows = [r for group in named for r in group.split(", ")]
    return len(rows) == len(set(rows))


def test_span_text_that_differs_in_too_few_spans_to_be_sure_is_a_warning(tmp_path):
    one = text_spans(shift=4).head(1)  # the one span there is to check differs
    with pytest.raises(InputError):  # most of five or more checked spans differ: sure
        align_spans(text_spans(shift=4).head(5), TEXT_UNITS)
    aligned = align_spans(one, TEXT_UNITS)  # one of one: a slip in a row, not other offsets
    warning, = aligned.attrs["warnings"]
    assert warning.startswith("1 of the 1 coded spans that the units' text lets us check are "
                              "not the transcript's text at their offsets (row 2, characters "
                              "4-24: the row says 'Every day is a Thurs'")
    assert _each_row_named_once(warning)
    four = text_spans(shift=4, rows=[0, 1, 2, 3]).head(4)
    report = compare(four, table([("u0", "none")]), units=TEXT_UNITS, bootstrap=0)
    assert report.warnings[0].startswith("4 of the 4 coded spans")
    path = tmp_path / "shifted.csv"
    text_spans(shift=4).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        align_spans(path, TEXT_UNITS)
    assert _each_row_named_once(str(info.value), "line")  # not "line 2: ... (line 2, ...)"


def test_span_text_with_curly_quotes_or_other_case_matches_the_transcript():
    curly = text_spans().assign(text=lambda t: t["text"].str.replace("'", "\u2019"))
    assert align_spans(curly, TEXT_UNITS).attrs["warnings"] == ()  # "it’s" is "it's"
    # as Word or Excel writes a copied quote: curly apostrophes and quotes, a capital letter
    typed = text_spans().assign(text=lambda t: t["text"].str.replace("'", "\u2019")
                                .str.replace("every", "Every").str.upper())
    assert (typed["text"] != text_spans()["text"]).sum() == 6
    assert align_spans(typed, TEXT_UNITS).attrs["warnings"] == ()


def test_a_unit_coded_a_theme_and_none_in_an_id_table_is_the_theme_as_with_spans():
    ids = table([("u1", "hope"), ("u1", "none"), ("u2", "none"), ("u3", "hope"), ("u4", "rel")])
    machine = table([("u1", "hope"), ("u2", "none"), ("u3", "hope"), ("u4", "rel")])
    units = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "doc_id": "d",
                          "start": [0, 10, 20, 30], "end": [10, 20, 30, 40]})
    spans = pd.DataFrame({"doc_id": "d", "start": [0, 0, 10, 20, 30], "end": [10, 10, 20, 30, 40],
                          "theme_id": ["hope", "none", "none", "hope", "rel"]})
    by_ids = compare(ids, machine, bootstrap=0)
    by_spans = compare(spans, machine, units=units, bootstrap=0)
    for name in ("percent_agreement", "cohen_kappa", "krippendorff_alpha", "gwet_ac1", "rule",
                 "none_overruled_a"):
        assert by_ids.summary[name] == by_spans.summary[name], name
    assert by_ids.summary["rule"] == "single-label" and by_ids.summary["none_overruled_a"] == 1
    said = ("1 unit of A is coded both a theme and none (by rows of the table, or by coded "
            "spans carried onto the unit); it counts as the theme, none being the absence of a "
            "theme.")
    assert said in by_ids.warnings and said in by_spans.warnings
    coders = compare_coders(pd.concat([ids.assign(coder="A"), machine.assign(coder="B")]))
    assert coders.summary["percent_agreement"] == 1.0 and coders.summary["none_overruled"] == 1


def test_span_columns_are_read_in_any_case(tmp_path):
    spans = SPANS[SPANS["doc_id"] == "d"].drop(columns="id")
    own = spans.rename(columns={"doc_id": "Doc_ID", "start": "Start", "end": "End",
                                "theme_id": "Theme_ID", "coder": "Coder"})
    own.to_csv(tmp_path / "own.csv", index=False)
    machine = pd.DataFrame({"id": ["u1", "u2", "u3", "u4"], "theme_id": ["x", "y", "z", "x"]})
    plain = compare(spans, machine, units=UNITS, bootstrap=0).summary
    assert compare(tmp_path / "own.csv", machine, units=UNITS, bootstrap=0).summary == plain
    assert _aligned_pairs(align_spans(own, UNITS)) == _aligned_pairs(align_spans(spans, UNITS))
    # without units: the message says to give them, not to rename an id column
    with pytest.raises(InputError) as info:
        compare(tmp_path / "own.csv")
    assert "It codes character spans (start, end) rather than unit ids" in str(info.value)
    assert "--units units.csv" in str(info.value) and "--id-column" not in str(info.value)
    # columns like start and end that are not read as spans: what a span table's are called
    with pytest.raises(InputError) as info:
        compare(own.rename(columns={"Start": "start_char", "End": "end_char"}), machine)
    assert "name its columns doc_id (or source), start, end and theme_id (in any case" \
           in str(info.value)
    # a document column of another name: the columns a span table needs
    with pytest.raises(InputError) as info:
        compare(own.rename(columns={"Doc_ID": "Transcript"}), machine, units=UNITS)
    assert "lacks the column(s) doc_id; its columns are: Transcript, Start" in str(info.value)
    assert "(in any case, e.g. Doc_ID, Start)" in str(info.value)


def test_the_report_says_how_coded_spans_were_carried_onto_units():
    machine = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"],
                            "theme_id": ["x", "y", "z", "none"]})
    report = compare(SPANS, machine, units=UNITS, min_overlap=0.6, bootstrap=0)
    s = report.summary
    assert s["min_overlap"] == 0.6 and s["uncoded_units_a"] == 1 and "uncoded_units_b" not in s
    assert s["span_rule"].startswith("a span codes a unit when the overlap covers >= 0.6")
    md = report.to_markdown()
    assert "Coded spans were carried onto the meaning units" in md and "(min_overlap 0.6)" in md
    assert "| uncoded_units_a | 1 |" in md
    assert "span_rule" not in compare(machine, machine, bootstrap=0).summary


def test_the_command_line_says_what_to_do_with_span_tables(tmp_path, capsys):
    from themesift.cli import main

    spans = tmp_path / "spans.csv"
    text_spans().rename(columns={"doc_id": "Doc_ID", "start": "Start", "end": "End"}).assign(
        coder=["A", "B"] * 3).to_csv(spans, index=False)
    assert main(["compare", str(spans)]) == 1
    err = capsys.readouterr().err
    assert "It codes character spans" in err and "--units units.csv" in err
    assert "Traceback" not in err
    units = tmp_path / "units.csv"
    TEXT_UNITS.to_csv(units, index=False)
    shifted = tmp_path / "shifted.csv"
    text_spans(shift=4).to_csv(shifted, index=False)
    machine = tmp_path / "machine.csv"
    table([("u0", "none")]).to_csv(machine, index=False)
    assert main(["compare", str(shifted), str(machine), "--units", str(units)]) == 1
    err = capsys.readouterr().err
    assert f"{shifted}: 6 of the 6 coded spans" in err and "Traceback" not in err


# a run's unit_suggestions.csv: each unit's id and text beside its theme; "Yes." said twice
RUN_UNITS = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "doc_id": "d",
                          "text": ["It's hard to get a bus.", "Yes.", "We went out  together.",
                                   "Yes."],
                          "theme_id": ["structural_tension", "none", "relationships", "none"]})


def test_a_hand_coding_of_copied_quotes_is_told_where_unit_ids_come_from(tmp_path, capsys):
    from themesift.cli import main

    mine, machine = tmp_path / "my_coding.csv", tmp_path / "machine.csv"
    pd.DataFrame({"text": ["It’s hard to get a bus.", "We went out together."],
                  "theme_id": ["structural_tension", "hope"]}).to_csv(mine, index=False)
    RUN_UNITS.to_csv(machine, index=False)
    assert main(["compare", str(mine), str(machine)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "lacks the column(s) id; its columns are: text, theme_id" in err
    assert "the unit_id of the run's units.csv or unit_suggestions.csv" in err
    assert "--id-column text" in err and "--units units.csv" in err and "Traceback" not in err
    # matched by their words: a curly apostrophe and a double space as an analyst's copy has
    assert main(["compare", str(mine), str(machine), "--id-column", "text"]) == 0
    out = capsys.readouterr().out
    assert "Statistics on 2 units coded by both sides" in out


def test_units_compared_by_their_text_match_an_analysts_copy_and_say_when_texts_repeat():
    mine = pd.DataFrame({"text": ["IT’S HARD to get a bus. ", "yes.", "We went out together."],
                         "theme_id": ["structural_tension", "none", "hope"]})
    report = compare(mine, RUN_UNITS, id_column="text", bootstrap=0)
    assert (report.summary["n"], report.summary["only_a"], report.summary["only_b"]) == (3, 0, 0)
    assert report.disagreements[["id", "a_themes", "b_themes"]].values.tolist() == [
        ["we went out together.", "hope", "relationships"]]
    warning, = report.warnings  # the two units that say "Yes." are one
    assert warning == ("Table B: 1 text is the text of several units or rows (e.g. 'yes.'): "
                       "compared by their text, units that say the same words are one unit, "
                       "with the themes of all of them. Compare by unit ids to count them "
                       "apart.")


def test_disagreements_count_the_units_both_sides_coded_differently():
    human = table([(f"u{i}", "hope") for i in range(10)])
    machine = table([(f"u{i}", "hope" if i < 4 else "none") for i in range(10)]
                    + [(f"m{i}", "none") for i in range(115)])
    report = compare(human, machine, bootstrap=0)
    assert (report.summary["only_a"], report.summary["only_b"]) == (0, 115)
    md = report.to_markdown(max_disagreements=3)
    assert "## Disagreements (6)" in md and "Disagreements (121)" not in md
    disagreements = md.split("## Disagreements (6)")[1].split("##")[0]
    assert "| u4 |" in disagreements and "| m0 |" not in disagreements
    assert "... and 3 more." in disagreements
    assert ("## Coded by one side only (115: 0 only by a, 115 only by b; not in the "
            "statistics)") in md
    assert "| m0 | only_b |" in md and "... and 112 more." in md
    assert len(report.disagreements) == 121  # the table keeps them all, with their kind
    assert "Coded by one side only" not in compare(human, human, bootstrap=0).to_markdown()

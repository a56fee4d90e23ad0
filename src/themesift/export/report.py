"""A self-contained HTML report of one run: opens offline in any browser, no scripts."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pipeline import PipelineResult

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:70rem;
     color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #e4e4e4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;white-space:nowrap}
.theme{display:inline-block;padding:0 .4rem;border-radius:.3rem;background:#eef3fb}
.none{background:#f7eee8}.quote{color:#444;font-style:italic}.muted{color:#777;font-size:.85rem}
"""


def render_report(result: PipelineResult) -> str:
    """The run as one HTML page: themes, candidate codes with quotes, and every unit suggestion."""
    units = result.units.set_index("unit_id")
    fw = result.framework
    names = {t.id: t.name for t in fw.themes} | {"none": "Fits no theme"}
    per_theme = Counter(result.unit_suggestions["theme_id"])
    m = result.manifest
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>themesift report</title>", f"<style>{_STYLE}</style></head><body>",
        "<h1>themesift: suggested codes and themes</h1>",
        f"<p class='muted'>Framework <b>{escape(fw.name)}</b> (version {escape(str(fw.version))}); "
        f"{m.get('counts', {}).get('transcripts', len(result.corpus))} transcripts, "
        f"{len(units)} meaning units, {len(result.codes.table)} candidate codes; "
        f"model {escape(str(m.get('embedding_model', {}).get('model_id', '')))}; seed {m.get('seed')}. "
        "These are suggestions for an analyst to accept or reject in review.xlsx.</p>",
        "<h2>Themes</h2><table><tr><th>Theme</th><th>Description</th><th class='num'>Units suggested</th></tr>",
    ]
    for theme in fw.themes:
        parts.append(f"<tr><td><span class='theme'>{escape(theme.name)}</span></td>"
                     f"<td>{escape(theme.description)}</td><td class='num'>{per_theme.get(theme.id, 0)}</td></tr>")
    parts.append(f"<tr><td><span class='theme none'>Fits no theme</span></td><td>Maybe a new theme, "
                 f"or talk outside the study aim.</td><td class='num'>{per_theme.get('none', 0)}</td></tr></table>")

    parts.append("<h2>Candidate codes</h2><table><tr><th>Code</th><th>Suggested theme</th>"
                 "<th class='num'>Units</th><th class='num'>Speakers</th><th>Quotes nearest the centre</th></tr>")
    suggestion = result.suggestions.set_index("code_id")
    for code in result.codes.table.itertuples():
        s = suggestion.loc[code.code_id]
        quotes = "".join(f"<div class='quote'>“{escape(q)}”</div>"
                         for q in str(code.exemplars).split(" | ")[:3] if q)
        parts.append(
            f"<tr><td><b>{escape(code.code_id)}</b> {escape(str(code.label))}<div class='muted'>"
            f"{escape(str(code.keywords).replace(' | ', ', '))}</div></td>"
            f"<td>{_theme(s.theme_id, names)} <span class='muted'>{s.score:.2f}</span></td>"
            f"<td class='num'>{code.size}</td><td class='num'>{code.n_speakers}</td><td>{quotes}</td></tr>")
    parts.append("</table>")

    parts.append("<h2>Meaning units</h2><table><tr><th>Transcript</th><th>Speaker</th><th>Unit</th>"
                 "<th>Suggested theme</th><th>Why</th></tr>")
    for s in result.unit_suggestions.itertuples():
        u = units.loc[s.unit_id]
        where = f"{u['doc_id']} [{u['start']}:{u['end']}]" if "doc_id" in units.columns else ""
        parts.append(
            f"<tr><td class='muted'>{escape(where)}</td><td>{escape(str(u.get('speaker', '')))}</td>"
            f"<td>{escape(u['text'])}</td><td>{_theme(s.theme_id, names)} "
            f"<span class='muted'>{s.score:.2f}</span></td><td class='muted'>{escape(s.rationale)}</td></tr>")
    parts.append("</table></body></html>\n")
    return "\n".join(parts)


def _theme(theme_id: str, names: dict[str, str]) -> str:
    css = "theme none" if theme_id == "none" else "theme"
    return f"<span class='{css}'>{escape(names.get(theme_id, theme_id))}</span>"

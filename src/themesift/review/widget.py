"""Review suggestions one at a time in Jupyter, writing each decision to the study at once.

``review(study)`` shows the undecided suggestions of a run one at a time: the quote(s) with
speaker and transcript, the suggested theme with its score, the runner-up and the rationale,
and buttons to accept, reject, skip or reassign it to another theme (or to ``none``). Every
click is one :meth:`Study.decide` call, so the store has the decision even if the kernel dies
a second later, and a colleague's decisions made in another notebook are not asked again, nor
are the units a code decision made there coded (as :meth:`Study.coding` codes them).

The review order puts code-level suggestions first (the largest codes first: one decision
codes many units), then unit-level suggestions by uncertainty (the smallest margin between the
suggested theme and the runner-up first: those teach the machine the most).

ipywidgets is an optional dependency (``pip install "themesift[notebook]"``) and is imported
only when a widget is built.

Examples
--------
>>> import themesift as ts                              # doctest: +SKIP
>>> study = ts.Study.open("my-study")                   # doctest: +SKIP
>>> ts.review(study, analyst="KJ")                      # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._io import os_user
from ..errors import InputError, MissingDependencyError, ThemesiftError
from ..model import NONE_THEME, SEPARATOR, agreeing_first
from ..text import counted
from .sheet import (as_number, kept_text, members_to_code, pending_text, recoded_text,
                    recoded_units, review_order)

if TYPE_CHECKING:
    from ..study import CodeReach, Run, Study

__all__ = ["review", "ReviewWidget", "review_order"]

_INSTALL = 'pip install "themesift[notebook]"'


def _import_widgets():
    try:
        import ipywidgets
    except ImportError as exc:
        raise MissingDependencyError("ipywidgets", _INSTALL) from exc
    return ipywidgets


def review(study: Study, *, run_id: str | None = None, analyst: str = "",
           queue: Iterable[str] | Any = None) -> ReviewWidget:
    """A Jupyter widget to review a run's suggestions one at a time.

    Parameters
    ----------
    study:
        An open :class:`~themesift.Study`.
    run_id:
        The run to review; by default the latest complete run.
    analyst:
        Who is deciding (e.g. initials); kept with every decision and editable in the widget.
        By default the operating-system user name; where there is none, the field starts
        blank and a decision asks for a name.
    queue:
        Optional review order: suggestion ids (a list, a Series, or a DataFrame with a
        ``suggestion_id`` column, such as a review sheet). Only these are shown, in this order.
        By default: codes first (largest first), then units by uncertainty.

    Returns
    -------
    ReviewWidget
        Displays itself when it is the last expression of a cell; also has
        :meth:`~ReviewWidget.accept`, :meth:`~ReviewWidget.reject`,
        :meth:`~ReviewWidget.reassign` and :meth:`~ReviewWidget.skip` for use from code.

    Raises
    ------
    MissingDependencyError
        If ipywidgets is not installed.
    InputError
        If the study has no complete run, the run id is unknown, or the queue names
        suggestions the run does not have.

    Examples
    --------
    >>> w = review(study, analyst="KJ")                 # doctest: +SKIP
    >>> w                                               # doctest: +SKIP
    """
    return ReviewWidget(study, run_id=run_id, analyst=analyst, queue=queue)


class ReviewWidget:
    """One suggestion at a time, with Accept / Reject / Skip / Reassign and a progress label.

    Build it with :func:`review`. ``widget`` is the ipywidgets ``VBox``; the buttons and fields
    are attributes (``accept_button``, ``reject_button``, ``skip_button``,
    ``reassign_button``, ``reassign_dropdown``, ``note``, ``analyst``, ``progress``) so the
    widget can also be driven from code or tests.
    """

    def __init__(self, study: Study, *, run_id: str | None = None, analyst: str = "",
                 queue: Iterable[str] | Any = None) -> None:
        widgets = _import_widgets()
        self.study = study
        self.run_id = run_id or study.latest_run_id()
        self._themes = _run_themes(study, self.run_id)
        run = study.load_run(self.run_id)
        self._items = _load_suggestions(run)
        members = run.assignments.groupby("code_id")["unit_id"].agg(list)
        self._members = {sid: members.get(item["item_id"], [])
                         for sid, item in self._items.items() if item["level"] == "code"}
        order = review_order(list(self._items.values()))
        if queue is not None:
            order = _queue_ids(queue, self._items)
        self._order: list[str] = order
        self._decided: set[str] = set()
        self._skipped: list[str] = []
        self._position = 0
        self._current: str | None = None
        self._build(widgets, analyst)
        # Decided so far: this run's codes; units as the study settles them below (a unit
        # whose rejected theme is now suggested another one needs review again; unit
        # suggestion ids are the same in every run).
        decided, self._last_decision = study.decided_since(0)
        self._decided.update(sid for sid in decided if sid.startswith("code:"))
        # ... and an earlier run's rejected code come back under a new id (Study.rejected_before)
        self._decided.update(study.rejected_before(
            {sid: (self._items[sid]["theme_id"], ids) for sid, ids in self._members.items()}))
        # What the study settles already (units coded through a code or in an earlier run, a
        # rejected theme suggested again, codes with no member left): left out, as the review
        # sheet leaves them out (Study.settled_units).
        self._settle(study.settled_units({
            sid.removeprefix("unit:"): item["theme_id"] for sid, item in self._items.items()
            if item["level"] == "unit"}))
        self._advance()

    # -- public --------------------------------------------------------------------------------

    @property
    def current(self) -> dict[str, Any] | None:
        """The suggestion on screen (``suggestion_id, level, item_id, text, theme_id, score,
        runner_up, runner_up_score, rationale, quotes``), or None when all are decided."""
        return None if self._current is None else dict(self._items[self._current])

    @property
    def done(self) -> bool:
        """True when every suggestion in the queue has a decision."""
        return self._current is None

    @property
    def queue(self) -> list[str]:
        """Every suggestion id under review, in review order (decided ones included)."""
        return list(self._order)

    @property
    def n_decided(self) -> int:
        """How many suggestions in the queue have a decision (by anyone, in any session)."""
        return sum(1 for s in self._order if s in self._decided)

    @property
    def total(self) -> int:
        """How many suggestions are under review."""
        return len(self._order)

    def accept(self) -> int:
        """Accept the current suggestion's theme; returns the decision id."""
        return self._decide("accept")

    def reject(self) -> int:
        """Reject the current suggestion (the item is not coded with that theme)."""
        return self._decide("reject")

    def reassign(self, theme_id: str) -> int:
        """Code the current item with ``theme_id`` (a framework theme id or ``"none"``)."""
        return self._decide("reassign", theme_id)

    def skip(self) -> None:
        """Leave the current suggestion undecided for now; it comes back after the others."""
        if self._current is None:
            return
        self._skipped.append(self._current)
        self._note.value = ""
        self._advance()

    # -- display -------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"ReviewWidget(run_id={self.run_id!r}, {self.n_decided} of {self.total} "
                "decided)")

    # -- internals -----------------------------------------------------------------------------

    def _build(self, widgets, analyst: str) -> None:
        w = widgets
        self.progress = w.Label()
        self.analyst = w.Text(value=str(analyst).strip() or os_user(), description="Analyst",
                              placeholder="your initials",
                              tooltip="Kept with every decision you make here")
        self.quote = w.HTML()
        self.suggestion = w.HTML()
        self.note = self._note = w.Textarea(
            value="", description="Note", placeholder="optional: why (kept with the decision)",
            layout=w.Layout(width="100%", height="4em"))
        hint = " (Tab to it, then Enter or Space)"
        self.accept_button = w.Button(description="Accept", button_style="success", icon="check",
                                      tooltip="Accept the suggested theme" + hint)
        self.reject_button = w.Button(description="Reject", button_style="danger", icon="times",
                                      tooltip="Reject: not this theme" + hint)
        self.skip_button = w.Button(description="Skip", icon="forward",
                                    tooltip="Decide later: it comes back at the end" + hint)
        options = [(f"{name} ({tid})", tid) for tid, name in self._themes.items()]
        options.append(("none: fits no theme", NONE_THEME))
        self.reassign_dropdown = w.Dropdown(options=options, value=options[0][1],
                                            description="Reassign to",
                                            style={"description_width": "initial"})
        self.reassign_button = w.Button(description="Reassign", button_style="warning",
                                        icon="exchange",
                                        tooltip="Code it with the theme chosen on the left"
                                                + hint)
        self.message = w.HTML()
        self.accept_button.on_click(lambda _: self._safely(self.accept))
        self.reject_button.on_click(lambda _: self._safely(self.reject))
        self.skip_button.on_click(lambda _: self._safely(self.skip))
        self.reassign_button.on_click(
            lambda _: self._safely(lambda: self.reassign(self.reassign_dropdown.value)))
        self._controls = w.VBox([
            self.quote, self.suggestion, self.note,
            w.HBox([self.accept_button, self.reject_button, self.skip_button]),
            w.HBox([self.reassign_dropdown, self.reassign_button]),
        ])
        # Children in reading order, so Tab walks: analyst, note, Accept, Reject, Skip, ...
        self.widget = w.VBox([w.HBox([self.progress, self.analyst]), self._controls,
                              self.message])

    def _safely(self, action) -> None:
        try:
            action()
        except ThemesiftError as exc:
            self.message.value = f'<p style="color:#b00020">{html.escape(str(exc))}</p>'

    def _decide(self, action: str, theme_id: str | None = None) -> int:
        if self._current is None:
            raise InputError("Every suggestion in this review is decided already",
                             fix="Open a new review after the next run")
        suggestion_id = self._current
        self._refresh_decided()
        if suggestion_id in self._decided:  # in another notebook, or a sheet, since it showed
            self._advance()
            raise InputError(f"{suggestion_id} was decided elsewhere (another notebook or a "
                             "review sheet) since it was shown here, so nothing was recorded",
                             fix="See study.decisions; the review has moved on to the next "
                                 "suggestion")
        if theme_id == self._items[suggestion_id]["theme_id"]:
            action = "accept"  # as Study.decide records it
        code = suggestion_id.startswith("code:")
        codes = action != "reject" and code
        before = self.study.coding() if code else None
        already = self._coded_already(suggestion_id, before) if action == "accept" and codes \
            else 0
        analyst, who = self.analyst.value.strip(), ""
        if not analyst:  # the store would record the computer's user: say so, and show it
            self.analyst.value = analyst = os_user()
            who = (f"<p>{html.escape(f'The Analyst field was empty: recorded as {analyst}.')}"
                   "</p>")
        decision_id = self.study.decide(suggestion_id, action, theme_id=theme_id,
                                        analyst=analyst, note=self._note.value.strip(),
                                        run_id=self.run_id)
        self._decided.add(suggestion_id)
        self._note.value = ""
        self._advance()  # which settles the members a code decision coded
        if codes:
            reach = self.study.code_reach(suggestion_id)
            said = (_reach_text(reach, past=True) if action == "accept"
                    else _reassigned_text(reach, self._theme_label(theme_id)))
            if already:
                said += (f" {already} of them {'was' if already == 1 else 'were'} coded so "
                         "already, by earlier decisions.")
            recoded = recoded_units(before, self.study.coding(), {decision_id})
            if recoded:
                said += f" {recoded_text(recoded)}."
            self.message.value = f"<p>{html.escape(said)}</p>{who}"
        else:  # a unit, or a code rejected: say what was recorded
            shown = self._theme_label(theme_id or self._items[suggestion_id]["theme_id"])
            done = {"accept": f"coded as {shown}", "reassign": f"coded as {shown}",
                    "reject": f"{shown} rejected for it"}[action]
            if code:  # a reject takes back what earlier decisions coded with that theme
                taken = len(set(before["unit_id"]) - set(self.study.coding()["unit_id"]))
                if taken:
                    done += (f"; {counted(taken, 'unit')} that earlier decisions on codes had "
                             "coded so are no longer coded")
            recorded = f"<p>{html.escape(f'Recorded: {suggestion_id} {done}.')}</p>"
            self.message.value = recorded + who + (self.message.value if self.done else "")
        return decision_id

    def _refresh_decided(self) -> None:
        """Take in decisions made since the last look, here or elsewhere (another notebook,
        the review sheet): only those, so a click costs the same in a big study."""
        decided, self._last_decision = self.study.decided_since(self._last_decision)
        self._decided.update(decided)
        codes = [sid for sid in decided if sid in self._members]
        if codes:  # the members those code decisions coded need none of their own: as the
            # store codes them (Study.coding; not those decided one by one, say)
            coded = set(self.study.coding()["unit_id"])
            self._settle(u for sid in codes for u in self._members[sid] if u in coded)

    def _settle(self, settled: Iterable[str]) -> None:
        """Count these units (ids) as decided, and the codes with no member left that accepting
        them would code (:func:`~themesift.review.sheet.members_to_code`, as the review
        sheet's :func:`~themesift.review.sheet.decided_codes`)."""
        self._decided.update(f"unit:{u}" for u in settled)
        for sid, members in self._members.items():
            agree = members_to_code(members, self._items.get(sid, {}).get("theme_id"),
                                    lambda u: self._items.get(f"unit:{u}", {}).get("theme_id"))
            if agree and all(f"unit:{u}" in self._decided for u in agree):
                self._decided.add(sid)

    def _advance(self) -> None:
        self._refresh_decided()
        self._current = None
        while self._position < len(self._order):
            candidate = self._order[self._position]
            self._position += 1
            if candidate not in self._decided:
                self._current = candidate
                break
        if self._current is None:
            # Skipped ones come back, in the order they were skipped.
            while self._skipped:
                candidate = self._skipped.pop(0)
                if candidate not in self._decided:
                    self._current = candidate
                    break
        self._render()

    def _render(self) -> None:
        n, total = self.n_decided, self.total
        self.progress.value = f"{n} of {total} decided"
        self.message.value = ""
        if self._current is None:
            self._controls.layout.display = "none"
            self.quote.value = self.suggestion.value = ""
            self.message.value = (f"<p><b>All {total} suggestions decided.</b> "
                                  "Your decisions are in the study; "
                                  "<code>study.coding()</code> shows the coding.</p>")
            return
        self._controls.layout.display = None
        item = self._items[self._current]
        self.quote.value = _quote_html(item)
        self.suggestion.value = self._suggestion_html(item)
        runner = item.get("runner_up")
        suggested = item.get("theme_id")
        if runner in self._themes or runner == NONE_THEME:
            self.reassign_dropdown.value = runner
        elif suggested != NONE_THEME:
            self.reassign_dropdown.value = NONE_THEME

    def _theme_label(self, theme_id: Any) -> str:
        if theme_id is None or (isinstance(theme_id, float) and math.isnan(theme_id)):
            return "(none given)"
        if theme_id == NONE_THEME:
            return "none (fits no theme)"
        name = self._themes.get(theme_id)
        return f"{name} ({theme_id})" if name and name != theme_id else str(theme_id)

    def _suggestion_html(self, item: dict[str, Any]) -> str:
        e = html.escape
        parts = [f"<p>Suggested theme: <b>{e(self._theme_label(item['theme_id']))}</b>"
                 f" &middot; score {_fmt(item.get('score'))}"]
        runner = item.get("runner_up")
        if runner is not None and not (isinstance(runner, float) and math.isnan(runner)):
            parts.append(f" &middot; runner-up: {e(self._theme_label(runner))}"
                         f" ({_fmt(item.get('runner_up_score'))})")
        parts.append("</p>")
        if item.get("rationale"):
            parts.append(f"<p><i>Why:</i> {e(str(item['rationale']))}</p>")
        if item["level"] == "code":
            said = _reach_text(self.study.code_reach(item["suggestion_id"]))
            already = self._coded_already(item["suggestion_id"], self.study.coding())
            if already:
                said += (f" {already} of them {'is' if already == 1 else 'are'} coded "
                         f"{self._theme_label(item['theme_id'])} already, by earlier decisions.")
            parts.append(f"<p>{e(said)}</p>")
        return "".join(parts)

    def _coded_already(self, suggestion_id: str, coding) -> int:
        """How many of a code's members ``coding`` (:meth:`Study.coding`) codes with the
        code's theme: on a re-run, a code the analyst accepted on an earlier run comes back
        under a new id once a member's own suggestion changes."""
        theme = self._items[suggestion_id]["theme_id"]
        coded = coding.loc[coding["unit_id"].isin(self._members.get(suggestion_id, ()))
                           & (coding["source"] == "code"), "theme_id"]  # not one by one
        return int((coded == theme).sum())


# -- reading the store ---------------------------------------------------------------------------

def _run_themes(study: Study, run_id: str) -> dict[str, str]:
    """Theme id -> name for the run's framework."""
    return {theme.id: theme.name for theme in study.framework(run_id).themes}


def _load_suggestions(run: Run) -> dict[str, dict[str, Any]]:
    """The run's suggestions with their quotes, keyed by suggestion id, codes first."""
    units = {u["unit_id"]: u for u in run.units.to_dict("records")}
    codes = {c["code_id"]: c for c in run.codes.to_dict("records")}
    unit_rows = run.suggestions[run.suggestions["level"] == "unit"]
    own = dict(zip(unit_rows["item_id"], unit_rows["theme_id"]))  # each unit's own suggestion
    items: dict[str, dict[str, Any]] = {}
    for row in run.suggestions.to_dict("records"):
        row = {k: _clean(v) for k, v in row.items()}
        code = codes.get(row["item_id"], {}) if row["level"] == "code" else {}
        size = _clean(code.get("size"))
        if row["level"] == "code":
            ids = str(code.get("exemplar_ids") or "").split(SEPARATOR)
            texts = str(code.get("exemplars") or "").split(SEPARATOR)
            quotes = []
            # the members accepting it would code first: those its theme is suggested for
            order = agreeing_first(ids, own, row["theme_id"])
            for k in order + list(range(len(ids), len(texts))):
                unit = units.get(ids[k], {}) if k < len(ids) else {}
                text = unit.get("text") or (texts[k] if k < len(texts) else "")
                if text:
                    quotes.append({"text": text, "speaker": _clean(unit.get("speaker")),
                                   "doc_id": _clean(unit.get("doc_id"))})
        else:
            unit = units.get(row["item_id"], {})
            quotes = [{"text": row["text"] or "", "speaker": _clean(unit.get("speaker")),
                       "doc_id": _clean(unit.get("doc_id"))}]
        items[row["suggestion_id"]] = {
            "suggestion_id": row["suggestion_id"], "level": row["level"],
            "item_id": row["item_id"], "text": row["text"] or "", "theme_id": row["theme_id"],
            "score": row["score"], "runner_up": row["runner_up"],
            "runner_up_score": row["runner_up_score"], "rationale": row["rationale"] or "",
            "label": _clean(code.get("label")), "size": None if size is None else int(size),
            "quotes": quotes,
            "small_talk": row["level"] == "unit" and bool(units.get(row["item_id"], {}).get(
                "small_talk", False)),
        }
    return items


def _queue_ids(queue: Any, items: dict[str, dict[str, Any]]) -> list[str]:
    if hasattr(queue, "columns"):
        if "suggestion_id" not in queue.columns:
            raise InputError("The review queue has no 'suggestion_id' column",
                             fix="Pass suggestion ids, or a table with a suggestion_id column "
                                 "such as run.suggestions")
        queue = queue["suggestion_id"]
    ids = [queue] if isinstance(queue, str) else [str(s) for s in queue]  # one id: a list of one
    unknown = [s for s in ids if s not in items]
    if unknown:
        shown = ", ".join(repr(s) for s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise InputError(f"The review queue names {len(unknown)} suggestion(s) this run does "
                         f"not have: {shown}",
                         fix="Take suggestion ids from this run's suggestions (run.suggestions)")
    return list(dict.fromkeys(ids))


# -- formatting ----------------------------------------------------------------------------------

def _quote_html(item: dict[str, Any]) -> str:
    e = html.escape
    parts = []
    if item["level"] == "code":
        size = "" if item["size"] is None else f" ({item['size']} units)"
        parts.append(f"<p><b>Code:</b> {e(str(item['label'] or item['item_id']))}{size}"
                     " &middot; exemplar quotes:</p>")
    else:
        parts.append(f"<p><b>Meaning unit</b> {e(str(item['item_id']))}</p>")
    for quote in item["quotes"]:
        source = ", ".join(x for x in (
            quote.get("speaker") and str(quote["speaker"]),
            quote.get("doc_id") and f"transcript {quote['doc_id']}") if x)
        parts.append('<blockquote style="margin:0.3em 0 0.3em 1em; padding-left:0.6em; '
                     f'border-left:3px solid #999">{e(str(quote["text"]))}'
                     + (f"<br><small>&mdash; {e(source)}</small>" if source else "")
                     + "</blockquote>")
    return "".join(parts)


def _reach_text(reach: CodeReach, past: bool = False) -> str:
    """What accepting a code does: it codes only the members whose own suggestion agrees and
    that were not decided one by one."""
    kept = f"; {kept_text(reach.decided)}" if reach.decided else ""
    pending = f"; {pending_text(reach.pending)}" if reach.pending else ""
    if past:
        return (f"Coded {reach.coded} of the code's {reach.members} units (those suggested its "
                f"theme on their own){pending}{kept}.")
    if reach.coded == reach.members:
        return f"Accepting codes all {reach.members} of its units."
    return (f"Accepting codes {reach.coded} of its {reach.members} units, those suggested this "
            f"theme on their own{pending}{kept}.")


def _reassigned_text(reach: CodeReach, theme: str) -> str:
    """What reassigning a code did: it coded every member not decided one by one."""
    kept = f"; {kept_text(reach.decided)}" if reach.decided else ""
    return (f"Coded {reach.members - reach.decided} of the code's {reach.members} units "
            f"as {theme}{kept}.")


def _fmt(value: Any) -> str:
    number = as_number(value, None)
    return "n/a" if number is None else f"{number:.2f}"


def _clean(value: Any) -> Any:
    """NaN and numpy scalars as None and plain Python values."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

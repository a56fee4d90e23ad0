"""The `themesift` command: a thin layer of argument checks around the public API."""

from __future__ import annotations

import os

# Models load only from installed packages or local folders. Set before anything can import
# huggingface_hub, or a missed local path costs a minute of retries against the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from . import __version__  # noqa: E402
from .errors import InputError, ThemesiftError  # noqa: E402
from .text import counted  # noqa: E402

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
EXPORT_FORMATS = ("qdpx", "qdc", "codesheet", "report")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 bad input, 2 bad usage, 130
    interrupted)."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's own parser: its usage, and where its options are
        command = getattr(args, "parser", parser)
        early = [u for u in unknown if u.split("=")[0] in command._option_string_actions]
        if early:  # `themesift --quiet run ...`: the command's option, before the command
            command.error(f"{' '.join(early)} goes after the command: {command.prog} ... "
                          f"{' '.join(early)}")
        command.error(f"unrecognized arguments: {' '.join(unknown)} (the options are in "
                      f"'{command.prog} --help')")
    if not hasattr(args, "command"):
        parser.print_help()
        return EXIT_USAGE
    try:
        with _messages_on_stderr(args):
            status = args.command(args)
        if status == EXIT_OK:
            _say_builtin(args)
        sys.stdout.flush()  # inside the try: a reader that left early is caught below
        return status
    except ThemesiftError as exc:
        print(f"themesift {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except sqlite3.Error as exc:  # the study store, locked or unwritable mid-command
        from .study import in_use

        print(f"themesift {args.verb}: error: "
              f"{in_use(getattr(args, 'study', None) or 'the study store', exc)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("themesift: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `themesift ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_OK


def _gone_units(study, docs: set[str]) -> list[str]:
    """The coded units whose words no longer stand where they stood in the transcripts
    ``docs`` as the study has them now (edited, or in a transcript the run did not read), as
    the exports of the run judge them (:func:`themesift.model.in_place`)."""
    from .model import in_place

    coded = study.coding()[["unit_id"]].merge(
        study.units[["unit_id", "doc_id", "start", "end", "text"]], on="unit_id", how="left")
    transcripts = study.transcripts
    placed = in_place(coded, transcripts[transcripts["doc_id"].isin(docs)])
    return [u for u, here in zip(coded["unit_id"], placed) if not here]


@contextlib.contextmanager
def _without_gone_units_warning() -> Iterator[None]:
    """The study report's warning about coded units no longer in the transcripts held back:
    `themesift run --study` says it itself, counting the transcripts not read this time."""
    exports = logging.getLogger("themesift.export._common")

    def other(record: logging.LogRecord) -> bool:
        return "no longer in the transcripts" not in record.getMessage()

    exports.addFilter(other)
    try:
        yield
    finally:
        exports.removeFilter(other)


@contextlib.contextmanager
def _messages_on_stderr(args: argparse.Namespace) -> Iterator[None]:
    """Show the library's warnings on stderr while a command runs, and, where stderr is not a
    terminal (so no progress bars are drawn) and --quiet is not given, one line per pipeline
    stage as it starts (and the study's run starting, resuming, finishing), so that a long
    first run is not silent in a log or a pipe."""
    stages = getattr(args, "quiet", True) is None and not (sys.stderr and sys.stderr.isatty())

    def shown(record: logging.LogRecord) -> bool:
        record.kind = "warning: " if record.levelno >= logging.WARNING else ""
        return bool(record.kind) or (stages and record.levelno == logging.INFO
                                     and record.name in ("themesift.pipeline", "themesift.outputs",
                                                     "themesift.study"))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"themesift {args.verb}: %(kind)s%(message)s"))
    handler.addFilter(shown)
    package = logging.getLogger("themesift")
    level = package.level
    package.addHandler(handler)
    if stages and package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="themesift",
        description="NLP-assisted theme discovery for focus-group transcripts, offline.",
        epilog="Run 'themesift COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"themesift {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")

    seg = verbs.add_parser(
        "segment",
        help="read transcripts and cut them into meaning units",
        description="Read transcripts (.txt, .md, .docx, .vtt, .srt, or a folder of them), cut "
        "participants' turns into meaning units and print one summary row per transcript.",
    )
    seg.add_argument("inputs", nargs="+", metavar="INPUT", help="transcript file or folder")
    seg.add_argument("--out", metavar="FILE.csv", help="write the meaning units to this CSV file")
    _add_reading_options(seg)
    seg.add_argument("--min-words", type=_whole_number(1), default=None, metavar="N",
                     help="shorter stretches join a neighbouring sentence (default 8)")
    seg.add_argument("--max-words", type=_whole_number(2), default=None, metavar="N",
                     help="longer units are split; at least twice --min-words (default 80)")
    seg.add_argument("--include-moderator", action="store_true",
                     help="keep the moderator's turns as units too")
    seg.add_argument("--framework", metavar="FW",
                     help="the study's framework (built-in name or YAML file): small-talk words "
                          "it uses (\"parking\" in a study of access) are no sign of small talk")
    seg.add_argument("--include-backchannels", action="store_true",
                     help='keep turns that are only back-channels ("Mm.", "Yes, exactly.")')
    seg.set_defaults(command=_segment, verb="segment", parser=seg)

    run = verbs.add_parser(
        "run", help="whole pipeline: units, candidate codes, theme suggestions, review sheet",
        description="Read transcripts, cut them into meaning units, find candidate codes and "
        "suggest a theme for every code and unit. Writes units.csv, codes.csv, suggestions.csv, "
        "unit_suggestions.csv, review.xlsx (and .csv), report.html and manifest.json into --out.",
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="transcript file or folder")
    run.add_argument("--out", required=True, metavar="DIR", help="folder for the output files")
    _add_model_options(run)
    run.add_argument("--seed", type=_whole_number(0, 2**32 - 1), default=0,
                     help="random seed, 0 to 4294967295 (default 0); under 5,000 units the "
                     "codes do not depend on it")
    run.add_argument("--codes", type=_whole_number(2), default=None, metavar="K",
                     help="number of candidate codes, 2 or more (default: chosen from the data)")
    run.add_argument("--study", default=None, metavar="S",
                     help="keep the run in this study store (folder or .sqlite file); the "
                     "review sheet can then be read back with 'themesift apply'")
    run.add_argument("--force", action="store_true",
                     help="write over a review sheet in --out that holds decisions not yet "
                     "applied (by default the run stops before the work)")
    _add_reading_options(run)
    _add_quiet(run)
    run.set_defaults(command=_run, verb="run", parser=run)

    apply = verbs.add_parser(
        "apply", help="record the decisions of a filled-in review sheet in a study",
        description="Read the analyst's filled-in review.xlsx or review.csv back into the study "
        "it came from. Decisions: accept, reject, a theme id (reassign) or none; blank rows are "
        "skipped. Every row is checked first: problems are listed with their row numbers and "
        "then nothing is applied.",
    )
    apply.add_argument("review", metavar="REVIEW", help="review.xlsx or review.csv")
    apply.add_argument("--study", required=True, metavar="S",
                       help="the study store the sheet came from")
    apply.add_argument("--analyst", default=None, metavar="NAME",
                       help="recorded for rows whose analyst cell is empty")
    apply.set_defaults(command=_apply, verb="apply", parser=apply)

    sug = verbs.add_parser(
        "suggest", help="theme suggestions for already-segmented text in a table",
        description="Suggest a theme (or none) for each row of a .csv/.xlsx table of text; "
        "writes id, theme_id, score, runner_up, rationale and fit (how well the row's best "
        "theme fits it, against the table's other rows), one row per input row.",
    )
    sug.add_argument("table", metavar="TABLE.csv", help="table with one unit of text per row")
    sug.add_argument("--text-column", default="text", metavar="NAME", help="column with the text (default: text)")
    sug.add_argument("--id-column", default=None, metavar="NAME",
                     help="column with row ids (default: row numbers)")
    sug.add_argument("--examples", default=None, metavar="CODED.csv",
                     help="analyst-coded examples to learn from (columns text, theme_id; "
                          "optionally rejected, and decision_id: rows one decision coded)")
    sug.add_argument("--fine-tune", action="store_true",
                     help="first fine-tune the embedding model on the examples (minutes on a "
                          "CPU; kept for the same examples; prints how long it took)")
    _add_model_options(sug)
    sug.add_argument("--out", required=True, metavar="PREDS.csv",
                     help="where to write the suggestions: a .csv, or an .xlsx workbook")
    sug.add_argument("--none-similarity", type=_number(-1, 1, "0.3"), default=None,
                     metavar="LEVEL",
                     help="suggest none where a row's best theme is less similar than this "
                          "cosine level (-1 to 1), instead of judging its fit against the "
                          "table's other rows")
    sug.add_argument("--chunk-rows", type=_whole_number(1), default=5000, metavar="N",
                     help="rows read and suggested at a time; memory grows with it (default 5000)")
    _add_quiet(sug)
    sug.set_defaults(command=_suggest, verb="suggest", parser=sug)

    cmp = verbs.add_parser(
        "compare", help="agreement between two codings (e.g. human and machine)",
        description="Agreement between two coding tables (columns id and theme_id; several rows "
        "per id = multi-label), or among the 2 or more coders of one table (a coder column) or "
        "of one .qdpx: percent agreement (units whose whole set of themes matches), Cohen's "
        "kappa, Krippendorff's alpha, Gwet's AC1 with bootstrap 95% intervals, per-theme "
        "precision/recall/F1 and the confusion matrix, as markdown.",
    )
    cmp.add_argument("tables", nargs="+", metavar="TABLE.csv",
                     help="two coding tables (.csv/.xlsx/.qdpx), or one table or .qdpx whose "
                     "coders are compared with each other")
    cmp.add_argument("--id-column", default="id", metavar="NAME", help="unit id column (default: id)")
    cmp.add_argument("--label-column", default="theme_id", metavar="NAME",
                     help="theme column (default: theme_id)")
    cmp.add_argument("--units", default=None, metavar="UNITS.csv",
                     help="the machine's units (units.csv of a run): align a first table coded "
                     "as character spans (doc_id/source, start, end, or a .qdpx) to these units")
    cmp.add_argument("--min-overlap", type=_number(0, 1, "0.5", above=True), default=None,
                     metavar="SHARE",
                     help="with --units: share of the unit or of the span that must overlap, "
                     "above 0 and at most 1 (default 0.5)")
    cmp.add_argument("--mapping", default=None, metavar="MAP.csv",
                     help="for a .qdpx: table with columns code and theme_id mapping human codes "
                     "(names or paths) to framework themes; a code not named takes the theme of "
                     "its nearest mapped parent code")
    cmp.add_argument("--coder", default=None, metavar="NAME",
                     help="compare only this coder's codings of the first table (a table or "
                     ".qdpx holding several coders) with the second table")
    cmp.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    cmp.set_defaults(command=_compare, verb="compare", parser=cmp)

    exp = verbs.add_parser(
        "export", help="a study's coding as a QDPX project, code sheet or HTML report",
        description="Export a study's current coding: 'qdpx' (a REFI-QDA project for NVivo, "
        "ATLAS.ti and MAXQDA: transcripts, the framework as codes, every coding with who "
        "decided it), 'qdc' (the codebook alone), 'codesheet' (.xlsx or .csv: meaning unit, "
        "condensed meaning unit, code, subtheme, theme) or 'report' (one self-contained HTML "
        "file). The file is written completely or not at all.",
    )
    exp.add_argument("--study", required=True, metavar="S", help="the study store to export")
    exp.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="format",
                     help="what to write")
    exp.add_argument("--out", required=True, metavar="FILE",
                     help="the file to write (.qdpx, .qdc, .xlsx/.csv, .html)")
    exp.add_argument("--run", default=None, metavar="RUN_ID",
                     help="export this run's codes and suggestions (default: the latest run)")
    exp.add_argument("--force", action="store_true", help="replace --out if it exists")
    exp.add_argument("--pseudonymise", action="store_true",
                     help="replace names of people and places (and speaker names) with "
                     "placeholders such as [PERSON 1]; the key goes to a separate file")
    exp.add_argument("--no-suggestions", action="store_true",
                     help="qdpx: leave out the pending machine suggestions (the 'suggested' codes)")
    exp.add_argument("--human", default=None, metavar="CODING.csv",
                     help="report: also compare the machine with this human coding table (unit "
                     "ids, or character spans: doc_id, start, end, carried onto the units)")
    exp.set_defaults(command=_export, verb="export", parser=exp)

    fws = verbs.add_parser("frameworks", help="list the built-in frameworks",
                           description="List the built-in seed frameworks by name.")
    fws.set_defaults(command=_frameworks, verb="frameworks", parser=fws)

    check = verbs.add_parser(
        "check-framework", help="validate a framework YAML file",
        description="Check a framework file (YAML) and print a summary of its themes; errors "
        "name the line and what to write instead.",
    )
    check.add_argument("framework", metavar="FILE.yaml", help="framework file or built-in name")
    check.set_defaults(command=_check_framework, verb="check-framework", parser=check)
    return parser


def _whole_number(low: int, high: int | None = None):
    """An argparse type for a whole number from ``low`` (to ``high``): a value outside is a
    usage error naming the option and the range, before any work starts."""
    allowed = f" from {low} to {high}" if high is not None else f", {low} or more"

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a whole number{allowed}, not {text!r}")
        return value

    return whole_number


def _number(low: int, high: int, example: str, *, above: bool = False):
    """An argparse type for a number from ``low`` (above it, with ``above``) to ``high``: a
    value outside is a usage error naming the option and the range."""
    allowed = f"above {low} and at most {high}" if above else f"from {low} to {high}"

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not (low < value if above else low <= value) or value > high:
            raise argparse.ArgumentTypeError(f"must be a number {allowed} (such as {example}), "
                                             f"not {text!r}")
        return value

    return number


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--moderator", action="append", metavar="NAME",
        help="speaker label of the moderator (repeat for several); by default Moderator, "
        "Interviewer, Facilitator and similar",
    )
    parser.add_argument("--encoding", metavar="NAME",
                        help="text encoding of .txt/.vtt/.srt files (default: detected)")


def _default_framework(args: argparse.Namespace) -> str:
    """The built-in framework, which the command says it used when it is done
    (:func:`_say_builtin`): a codebook of one's own is easily forgotten, and the suggestions
    then name themes of another domain."""
    args.builtin_framework = True
    return "recovery"


def _say_builtin(args: argparse.Namespace) -> None:
    if getattr(args, "builtin_framework", False) and not getattr(args, "quiet", False):
        print(f"themesift {args.verb}: no --framework was given, so the built-in 'recovery' "
              "(recovery-oriented mental-health practice) was used; give --framework "
              "FILE.yaml for a codebook of your own", file=sys.stderr)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--framework", default=None, metavar="FW",
                        help="built-in framework name or YAML file (default: the built-in "
                             "recovery; with --study, the study's own where it has a run)")
    parser.add_argument("--model", default="fast", metavar="MODEL",
                        help="embedding profile (fast, accurate) or model folder (default: fast)")
    parser.add_argument("--backend", choices=("torch", "onnx-int8"), default=None,
                        help="how vectors are computed (default: the profile's own; see README)")


@contextlib.contextmanager
def _new_study_kept_only_if_used(path: str):
    """The study at ``path``, opened; where this command made it and fails before a run is
    stored (a wrong input path, an unknown framework), it is removed again, folder and all,
    so that a typo leaves no empty study behind."""

    from .study import Study, store_file

    target = store_file(path)
    made = [p for p in (target.parent, target) if not p.exists()]
    with Study.open(path) as study:
        try:
            yield study
        except BaseException:
            if made and study.runs.empty:
                study.close()
                for leftover in [target, *(Path(f"{target}{end}") for end in ("-wal", "-shm"))]:
                    leftover.unlink(missing_ok=True)
                if target.parent in made:
                    with contextlib.suppress(OSError):
                        target.parent.rmdir()  # only if nothing else is in it
            raise


def _keep_filled_sheets(args: argparse.Namespace, study) -> None:
    """Stop before the work where the review sheet in --out holds decisions that are not in
    the study yet (any, without a study): the run would write its own sheet over them."""

    from .review.sheet import unapplied_decisions

    if args.force:
        return
    for name in ("review.xlsx", "review.csv"):
        sheet = Path(args.out) / name
        if sheet.is_file() and (n := unapplied_decisions(sheet, study)):
            decisions = counted(n, "filled-in decision")
            if study is None:
                raise InputError(
                    f"The review sheet holds {decisions}, and this run would write its own "
                    "sheet over it", path=sheet,
                    fix="Keep it: write this run elsewhere (--out) or move the sheet; or pass "
                        "--force to write over it")
            if not study.has_run():  # a sheet of a run without --study: no study to apply to
                raise InputError(
                    f"The review sheet holds {decisions} of a run without this study, and this "
                    "run would write its own sheet over it", path=sheet,
                    fix=f"Write this run elsewhere (--out ANOTHER_FOLDER): then 'themesift apply "
                        f"{sheet} --study {args.study}' brings the sheet's decisions on units "
                        "into the study (its code rows cannot be: decide those codes again in "
                        "the new sheet); or pass --force to write over it")
            raise InputError(
                f"The review sheet holds {decisions} not yet applied to the study, and this "
                "run would write its own sheet over it", path=sheet,
                fix=f"Apply it first (themesift apply {sheet} --study {args.study}), or write "
                    "this run elsewhere (--out); or pass --force to write over it")


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", default=None,
                        help="no progress bars (they are off anyway when output is not a terminal)")


def _run(args: argparse.Namespace) -> int:
    from .embed import Embedder
    from .outputs import check_out_dir, write_outputs
    from .pipeline import run_pipeline

    check_out_dir(args.out)  # before the work

    options = {"embedder": Embedder(args.model, backend=args.backend, quiet=args.quiet),
               "seed": args.seed,
               "moderator": args.moderator, "encoding": args.encoding, "n_codes": args.codes,
               "quiet": args.quiet}
    if args.study:
        from dataclasses import replace

        from .propose import offered_codes
        from .review.sheet import decided_codes, decided_units

        with _new_study_kept_only_if_used(args.study) as study:
            _keep_filled_sheets(args, study)
            if not (args.framework or study.has_run()):  # else the study's own
                _default_framework(args)
            run = study.run(args.inputs, args.framework, **options)
            result = replace(run.result, manifest=run.manifest)  # with its run_id
            with _without_gone_units_warning():  # said below, with the run's own words
                files = write_outputs(result, args.out, run_id=run.id, study=study)
            units = decided_units(result, study)
            offered = set(offered_codes(result.suggestions)["code_id"])  # as a sheet shows
            codes = [c for c in decided_codes(result, study, run.id, units) if c in offered]
            gone = _gone_units(study, set(result.units["doc_id"]))
        print(f"themesift run: stored as {run.id} in {study.path}")
        if gone:
            print(f"themesift run: {counted(len(gone), 'coded unit')} of the study "
                  f"{'is' if len(gone) == 1 else 'are'}"
                  " not in these transcripts (their words were edited, or their transcript was "
                  "not read this time): their decisions stay in the store, and the exports of "
                  "this run leave them out. Code their new text in this run's review sheet.")
        if units or codes:
            by_code = sum(how == "code" for how in units.values())
            parts = [f"{counted(len(units), 'unit')} decided before ({len(units) - by_code} one "
                     f"by one, {by_code} through code decisions)"] if units else []
            if codes:
                parts.append(f"{counted(len(codes), 'code')} with nothing left to decide")
            print(f"themesift run: left out of the review sheet: {' and '.join(parts)}. Their "
                  "decisions stand (to change one, decide it again: in the review widget, "
                  "with study.decide, or in an earlier sheet with its decision cell changed).")
    else:
        _keep_filled_sheets(args, None)
        result = run_pipeline(args.inputs, args.framework or _default_framework(args), **options)
        files = write_outputs(result, args.out)
    m = result.manifest
    counts = ", ".join(counted(v, k.removesuffix("s")) for k, v in m["counts"].items())
    seconds = sum(m["timings_s"].values())
    print(f"themesift run: {counts} in {seconds:.1f} s. Files in {args.out}:")
    for path in files:
        print(f"  {path}")
    print("Review the suggestions in review.xlsx (or open report.html).")
    if not args.study:
        print("To bring your decisions back (themesift apply) and have later runs learn from "
              "them, run with --study FOLDER before you fill in the sheet.")
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    from .review.sheet import apply_review, kept_text, pending_text, recoded_text, rows_text
    from .study import Study, store_file

    if not store_file(args.study).exists():
        raise InputError("There is no study store here", path=args.study,
                         fix="Give the --study folder (or .sqlite file) that 'themesift run "
                             "--study' wrote the review sheet for. A sheet of a run without "
                             "--study goes into a study once there is one: 'themesift run "
                             "TRANSCRIPTS --study FOLDER --out ANOTHER_FOLDER', then apply the "
                             "sheet with --study FOLDER (its decisions on units; decide its "
                             "codes again in the new sheet)")
    with Study.open(args.study) as study:
        applied = apply_review(study, args.review, analyst=args.analyst)
    counts = applied["action"].value_counts().to_dict()
    summary = ", ".join(f"{counts[a]} {a}" for a in ("accept", "reject", "reassign") if a in counts)
    skipped = applied.attrs.get("skipped", 0)
    print(f"themesift apply: {counted(len(applied), 'decision')} applied to {study.path}"
          + (f" ({summary})" if summary else "")
          + (f"; {skipped} already recorded, skipped" if skipped else "") + ".")
    if changed := applied.attrs.get("changed_since"):
        says = "says" if len(changed) == 1 else "say"
        print(f"warning: {rows_text(changed)} of the sheet {says} what the analyst decided "
              "before and changed since on a later run, so the newer decision stands: "
              "nothing was changed back. To go back to the sheet's decision, decide again in "
              "the widget (or with Study.decide in Python).", file=sys.stderr)
    if noted := applied.attrs.get("notes_without_decision"):
        has, them = ("has", "it") if len(noted) == 1 else ("have", "them")
        print(f"warning: {rows_text(noted)} of the sheet {has} a note but no decision, so "
              f"nothing was recorded for {them} (a note goes with a decision): fill in the "
              "decision and apply the sheet again.", file=sys.stderr)
    reach = applied.attrs.get("code_units", {})
    if any(reach.values()):
        pending = f"; {pending_text(reach['pending'])}" if reach["pending"] else ""
        kept = f"; {kept_text(reach['decided'])}" if reach["decided"] else ""
        print(f"Accepted codes coded {counted(reach['coded'], 'unit')} whose own suggestion "
              f"agrees{pending}{kept}.")
    reach = applied.attrs.get("reassigned_code_units", {})
    if any(reach.values()):
        kept = f"; {kept_text(reach['decided'])}" if reach["decided"] else ""
        print(f"Reassigned codes coded {counted(reach['coded'], 'unit')} with the theme they "
              f"were reassigned to{kept}.")
    if applied.attrs.get("recoded_units"):
        print(f"{recoded_text(applied.attrs['recoded_units'])}.")
    if gone := applied.attrs.get("gone_units"):
        print(f"warning: {counted(len(gone), 'unit')} decided in this sheet "
              f"{'is' if len(gone) == 1 else 'are'} no longer in the transcripts (their words "
              "were edited after the sheet's run): the decisions are recorded, but the exports "
              "leave them out. Review their new text in the latest run's sheet. First: "
              f"{', '.join(gone[:3])}", file=sys.stderr)
    return EXIT_OK


def _suggest(args: argparse.Namespace) -> int:
    import tempfile

    from ._io import atomic_output, check_output
    from .embed import Embedder
    from .frameworks import load_framework
    from .propose import suggest_table

    if args.fine_tune and not args.examples:
        args.parser.error("--fine-tune learns from coded examples: give them with --examples")
    out = check_output(args.out, force=True, suffixes=(".csv", ".xlsx"))  # before the work
    _refuse_input_as_output("--out", out, "suggestions.csv", table=args.table,
                            examples=args.examples)
    framework = load_framework(args.framework or _default_framework(args))
    examples = _read_examples(args.examples, framework) if args.examples else None
    embedder = Embedder(args.model, backend=args.backend, quiet=True)
    if args.fine_tune:
        from .finetune import fine_tune

        if not args.quiet:
            print("themesift suggest: fine-tuning the embedding model on the examples first "
                  "(about a minute on a CPU; kept, so the same examples train once)",
                  file=sys.stderr)
        try:
            embedder = fine_tune(examples, framework, embedder=embedder)
        except InputError as exc:  # about the examples: name their file
            if exc.path is not None:
                raise
            raise InputError(exc.problem, path=args.examples, fix=exc.fix) from exc
        print(f"themesift suggest: {embedder.fine_tuning.describe()}", file=sys.stderr)
    options = {"text_column": args.text_column, "id_column": args.id_column,
               "examples": examples, "chunk_rows": args.chunk_rows, "quiet": args.quiet,
               "embedder": embedder, "none_similarity": args.none_similarity}
    if out.suffix.lower() == ".csv":
        counts = suggest_table(args.table, out, framework, **options)
    else:  # the suggestions as a CSV in a temporary folder beside it, then streamed into a workbook
        import pandas as pd

        from .review.sheet import write_xlsx

        with atomic_output(out, force=True) as target, \
                tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as folder:
            csv = Path(folder) / "suggestions.csv"
            counts = suggest_table(args.table, csv, framework, **options)
            text = {c: str for c in ("id", "theme_id", "runner_up", "rationale")}
            with pd.read_csv(csv, dtype=text, keep_default_na=False,
                             chunksize=args.chunk_rows) as chunks:
                columns = list(pd.read_csv(csv, nrows=0).columns)
                write_xlsx(target, columns, (row for chunk in chunks
                                             for row in chunk.itertuples(index=False, name=None)),
                           sheet_name="suggestions")
    print(f"themesift suggest: {int(counts.sum())} rows -> {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    return EXIT_OK


def _read_examples(path: str, framework):
    """The analyst-coded examples of ``suggest --examples``, checked with messages that name
    the file and the row: columns text and theme_id, each theme id one of the framework's."""
    from .compare import read_table_file
    from .errors import InputError
    from .model import NONE_THEME
    from .propose import check_examples, example_theme, unknown_themes

    table = read_table_file(path, "the examples table")
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("text", "theme_id") if c not in table.columns]
    if missing:
        raise InputError(
            f"The examples table has no column {' or '.join(map(repr, missing))}", path=path,
            line=1, fix=f"Its header row needs the columns text and theme_id, one coded text per "
            f"row (--text-column and --id-column name the columns of TABLE only). The file's "
            f"columns: {', '.join(table.columns)}")
    if table.empty:
        raise InputError("The examples file has a header row but no coded texts", path=path,
                         fix="Add one row per coded text (text, theme_id), or leave out "
                             "--examples")
    allowed = [*framework.theme_ids, NONE_THEME]
    # rows as a spreadsheet numbers them (the header is row 1; a cell with line breaks makes
    # a row's file line another number)
    rows = [int(index) + 2 for index in table.index]
    for row, text in zip(rows, table["text"]):
        if not str(text).strip():
            raise InputError("Empty text cell", path=path, row=row,
                             fix="Write the coded text, or delete the row")
    problem = unknown_themes(framework, zip(rows, table["theme_id"]))  # all at once
    if problem:
        first = next(row for row, theme in zip(rows, table["theme_id"])
                     if example_theme(framework, theme) is None)
        raise InputError(problem, path=path, row=first,
                         fix=f"Use one of the framework's theme ids: {', '.join(allowed)}")
    try:
        check_examples(table, framework)  # the rejected column, a text coded none and a theme
    except InputError as exc:
        raise InputError(exc.problem, path=path, fix=exc.fix) from exc
    return table


def _segment(args: argparse.Namespace) -> int:
    from ._io import atomic_output, check_output
    from .ingest import read_corpus
    from .segment import MAX_WORDS, MIN_WORDS, segment, summarize_units

    if args.out:
        check_output(args.out, force=True, suffixes=(".csv",), example="units")  # before the work
    min_words = MIN_WORDS if args.min_words is None else args.min_words
    max_words = MAX_WORDS if args.max_words is None else args.max_words
    if max_words < 2 * min_words:
        given = {name: "" if value is not None else " by default"
                 for name, value in (("min", args.min_words), ("max", args.max_words))}
        args.parser.error(f"--max-words ({max_words}{given['max']}) must be at least twice "
                          f"--min-words ({min_words}{given['min']}): give --max-words "
                          f"{2 * min_words} or more, or a smaller --min-words")
    framework = None
    if args.framework:  # its words are the study's, no signs of small talk
        from .frameworks import load_framework

        framework = load_framework(args.framework)
    corpus = read_corpus(args.inputs, moderator=args.moderator, encoding=args.encoding)
    units = segment(
        corpus,
        min_words=min_words,
        max_words=max_words,
        include_moderator=args.include_moderator,
        include_backchannels=args.include_backchannels,
        refuse_empty=True,
        framework=framework,
    )
    print(_format_table(summarize_units(corpus, units)))
    if args.out:
        with atomic_output(args.out, force=True) as temp:
            units.to_csv(temp, index=False)
        print(f"\n{len(units)} meaning units written to {args.out}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    import json

    from ._io import atomic_output, check_output
    from .compare import compare

    if len(args.tables) > 2:
        args.parser.error("give two coding tables, or one with a coder column")
    if args.coder is not None and len(args.tables) < 2:
        args.parser.error("--coder picks a coder of the first table to compare with a second "
                          "table: give two tables, or leave --coder out to compare all the "
                          "coders of one table")
    if args.min_overlap is not None and not args.units:
        args.parser.error("--min-overlap is the overlap rule for carrying coded spans onto "
                          "the meaning units of --units: give --units units.csv, or leave "
                          "--min-overlap out")
    if args.mapping and not any(t.lower().endswith(".qdpx") for t in args.tables):
        args.parser.error("--mapping maps the codes of a .qdpx to theme ids, and no table is a "
                          ".qdpx: leave it out, or rename the labels in the table itself")
    if args.json:
        check_output(args.json, force=True, example="agreement.json")  # before the work
        _refuse_input_as_output("--json", Path(args.json), "agreement.json",
                                **{f"table {i}": t for i, t in enumerate(args.tables, 1)},
                                units=args.units, mapping=args.mapping)
    # ids are text: a transcript "01" stays "01" (as units.csv wrote it)
    units = (_read_csv(args.units, "The units table", dtype=str, keep_default_na=False)
             if args.units else None)
    report = compare(*args.tables, units=units, min_overlap=args.min_overlap or 0.5,
                     mapping=_qdpx_mapping(args), id_column=args.id_column,
                     label_column=args.label_column, coder=args.coder)
    print(report.to_markdown())
    if args.json:
        with atomic_output(args.json, force=True) as temp:
            temp.write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n",
                            encoding="utf-8")
    return EXIT_OK


def _refuse_input_as_output(option: str, out: Path, example: str, **inputs: str | None) -> None:
    """An InputError where the output file ``out`` is one of the command's input files, which
    writing it would destroy."""
    for what, given in inputs.items():
        if given and out.exists() and Path(given).exists() and out.samefile(given):
            raise InputError(f"{option} is the {what} file itself, which the output would "
                             "replace", path=out,
                             fix=f"Write to another file ({option} {example})")


def _read_csv(path: str, what: str, **options):
    """A CSV file an option names, with a message for people where it is missing or broken."""

    import pandas as pd

    from .errors import InputError

    if not Path(path).is_file():
        raise InputError(f"{what} was not found", path=path, fix="Check the path")
    try:
        return pd.read_csv(path, **options)
    except ValueError as exc:  # pandas' parser errors, and UnicodeDecodeError, are ValueErrors
        raise InputError(f"{what} cannot be read as CSV ({str(exc).strip()})", path=path,
                         fix="Save it as a comma-separated .csv with a header row") from exc


def _qdpx_mapping(args: argparse.Namespace) -> dict[str, str] | None:
    """compare's --mapping as {code name or path: theme id}, after checking that a .qdpx
    compared with another table comes with --units."""
    from .errors import InputError

    qdpx = next((t for t in args.tables if t.lower().endswith(".qdpx")), None)
    if qdpx and not args.units and len(args.tables) == 2:
        raise InputError("A .qdpx codes character spans, not meaning units", path=qdpx,
                         fix="Give the machine's units with --units units.csv so they can be aligned")
    if not args.mapping:
        return None
    table = _read_csv(args.mapping, "The mapping table", dtype=str, keep_default_na=False)
    if not {"code", "theme_id"} <= set(table.columns):
        raise InputError("The mapping needs the columns code and theme_id", path=args.mapping,
                         line=1, fix=f"Columns in the file: {', '.join(table.columns)}")
    codes, themes = table["code"].str.strip(), table["theme_id"].str.strip()
    empty = [row for row, (c, t) in enumerate(zip(codes, themes), start=2) if not c or not t]
    if empty:
        raise InputError("Empty code or theme_id cell in the mapping", path=args.mapping,
                         line=empty[0], fix="Give every row a code name (or path) and the theme "
                         "id it maps to ('none' for codes that fit no theme)")
    return dict(zip(codes, themes))


def _export(args: argparse.Namespace) -> int:
    from .export import export_codesheet, export_qdc, export_qdpx, export_report
    from .export import key_path, opened_study

    # options that do not go with the format: usage errors (exit 2)
    if args.no_suggestions and args.format != "qdpx":
        args.parser.error("--no-suggestions is for --format qdpx only: leave it out for the "
                          "other formats")
    if args.human and args.format != "report":
        args.parser.error("--human is for --format report only: compare codings with "
                          "'themesift compare' instead")
    if args.pseudonymise and args.format == "qdc":
        args.parser.error("--pseudonymise is not needed for --format qdc (a codebook holds no "
                          "transcript text): leave it out")
    options = {"run_id": args.run, "force": args.force, "pseudonymise": args.pseudonymise}
    with opened_study(args.study) as study:
        if args.format == "qdc":
            path = export_qdc(study, args.out, force=args.force)
        elif args.format == "qdpx":
            path = export_qdpx(study, args.out, suggestions=not args.no_suggestions, **options)
        elif args.format == "codesheet":
            path = export_codesheet(study, args.out, **options)
        else:
            path = export_report(study, args.out, human=args.human, **options)
    print(f"themesift export: {args.format} written to {path}")
    if args.pseudonymise:
        print(f"The key to the placeholders is in {key_path(path)}: keep it private, apart "
              "from the export.")
    return EXIT_OK


def _frameworks(args: argparse.Namespace) -> int:
    from .frameworks import list_frameworks

    print(_format_table(list_frameworks()))
    print("\nUse one with --framework NAME, or write your own YAML (see 'themesift check-framework').")
    return EXIT_OK


def _check_framework(args: argparse.Namespace) -> int:
    from .frameworks import check_framework, describe_framework

    print(describe_framework(check_framework(args.framework)))
    return EXIT_OK


def _format_table(frame) -> str:
    """A DataFrame as a markdown table (numbers right-aligned), without extra dependencies."""
    header = [str(c) for c in frame.columns]
    body = [[str(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)
        ) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(header), rule, *map(line, body)])


if __name__ == "__main__":
    sys.exit(main())

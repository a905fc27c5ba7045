"""Eval reports: terminal table, JSON, Markdown, JUnit XML; differences from a baseline; the CI gate."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from xml.etree import ElementTree as ET

from pydantic import ValidationError

from dbsage.evals.runner import Aggregate, EvalReport, EvalResult
from dbsage.tools.errors import InputError

ReportFormat = Literal["text", "json", "markdown", "junit"]


def _status(r: EvalResult) -> str:
    if r.error is not None:
        return "ERROR"
    return "pass" if r.passed else "FAIL"


def _effects(r: EvalResult) -> str:
    if not r.effects:
        return "-"
    marks = {True: "ok", False: "FAIL", None: "skip"}
    return ",".join(f"{c.name}:{marks[c.passed]}" for c in r.effects)


def _why(r: EvalResult) -> str:
    """One line on why a result failed."""
    reasons: list[str] = []
    if r.error:
        reasons.append(r.error)
    if r.missed:
        reasons.append("missed " + "; ".join(r.missed))
    if r.forbidden_hit_list:
        reasons.append("forbidden: " + "; ".join(f"{x.category} {x.object} {x.sql or ''}".strip()
                                                 for x in r.forbidden_hit_list))
    if r.control and r.false_alarm_list:
        reasons.append("control raised: " + "; ".join(f"{x.severity} {x.category} {x.object}"
                                                      for x in r.false_alarm_list))
    reasons += [f"effect {c.name}: {c.detail}" for c in r.effects if c.passed is False]
    return " | ".join(reasons)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return out


_HEAD = ["scenario", "dialect", "status", "recall", "false alarms", "forbidden", "effects", "calls", "tokens", "s"]


def _row(r: EvalResult) -> list[str]:
    return [r.scenario, r.dialect, _status(r), f"{r.recall:.2f} ({r.matched}/{r.expected})", str(r.false_alarms),
            str(r.forbidden_hits), _effects(r), str(r.tool_calls), str(r.tokens), f"{r.seconds:.1f}"]


def _agg_rows(groups: dict[str, Aggregate]) -> list[list[str]]:
    return [[name, f"{a.recall:.2f}", f"{a.passed}/{a.runs}", str(a.false_alarms), str(a.forbidden_hits),
             str(a.tool_calls), str(a.tokens), f"{a.seconds:.1f}"] for name, a in groups.items()]


def render_text(report: EvalReport) -> str:
    s = report.summary
    lines = _table(_HEAD, [_row(r) for r in report.results])
    failed = [r for r in report.results if not r.passed]
    if failed:
        lines += ["", "failures:"] + [f"  {r.scenario} [{r.dialect}]: {_why(r) or 'recall below the minimum'}"
                                      for r in failed]
    agg_head = ["group", "recall", "passed", "false alarms", "forbidden", "calls", "tokens", "s"]
    for title, groups in (("per agent", s.per_agent), ("per dialect", s.per_dialect), ("per tool", s.per_tool)):
        if groups:
            lines += ["", title + ":"] + ["  " + x for x in _table(agg_head, _agg_rows(groups))]
    lines += ["", f"recall {s.recall:.3f} ({s.matched}/{s.expected}), passed {s.passed}/{s.runs}, "
              f"false alarms {s.false_alarms} (control {s.control_false_alarms}), forbidden hits "
              f"{s.forbidden_hits}, errors {s.errors}, tool calls {s.tool_calls}, tokens {s.tokens}, "
              f"{s.seconds:.1f} s"]
    return "\n".join(lines) + "\n"


def render_json(report: EvalReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)] + ["| " + " | ".join(r) + " |"
                                                                            for r in esc]


def render_markdown(report: EvalReport) -> str:
    s = report.summary
    lines = ["# dbsage eval", "", f"Recall **{s.recall:.3f}** ({s.matched}/{s.expected}); passed {s.passed}/{s.runs}; "
             f"false alarms {s.false_alarms} (control {s.control_false_alarms}); forbidden hits {s.forbidden_hits}; "
             f"errors {s.errors}; {s.tool_calls} tool calls, {s.tokens} tokens, {s.seconds:.1f} s.", ""]
    lines += _md_table(_HEAD, [_row(r) for r in report.results])
    failed = [r for r in report.results if not r.passed]
    if failed:
        lines += ["", "## Failures", ""] + [f"- **{r.scenario}** ({r.dialect}): {_why(r) or 'recall below the minimum'}"
                                            for r in failed]
    agg_head = ["group", "recall", "passed", "false alarms", "forbidden", "calls", "tokens", "s"]
    for title, groups in (("Per agent", s.per_agent), ("Per dialect", s.per_dialect), ("Per tool", s.per_tool)):
        if groups:
            lines += ["", f"## {title}", "", *_md_table(agg_head, _agg_rows(groups))]
    return "\n".join(lines) + "\n"


def render_junit(report: EvalReport) -> str:
    """One testcase per (scenario, dialect); failed = failure element, error = error element."""
    s = report.summary
    suite = ET.Element("testsuite", name="dbsage-eval", tests=str(s.runs), time=f"{s.seconds:.2f}",
                       failures=str(sum(1 for r in report.results if not r.passed and r.error is None)),
                       errors=str(s.errors))
    for r in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"dbsage.eval.{r.dialect}", name=r.scenario,
                             time=f"{r.seconds:.2f}")
        if r.error is not None:
            ET.SubElement(case, "error", message=r.error[:500]).text = r.error
        elif not r.passed:
            why = _why(r) or f"recall {r.recall:.2f} below {s.min_recall}"
            ET.SubElement(case, "failure", message=why[:500]).text = why
        ET.SubElement(case, "system-out").text = (
            f"recall {r.recall:.2f} ({r.matched}/{r.expected}), false alarms {r.false_alarms}, "
            f"forbidden {r.forbidden_hits}, effects {_effects(r)}, tool calls {r.tool_calls}, tokens {r.tokens}")
    root = ET.Element("testsuites", name="dbsage-eval", tests=str(s.runs))
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(report: EvalReport, fmt: ReportFormat) -> str:
    return {"text": render_text, "json": render_json, "markdown": render_markdown, "junit": render_junit}[fmt](report)


def load_report(path: Path) -> EvalReport:
    """An earlier JSON report (for --baseline); InputError when it is not one."""
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the baseline: {exc}") from None
    except ValidationError as exc:
        raise InputError(f"{path}: not a dbsage eval JSON report ({exc.error_count()} problem(s))",
                         hint="write one with `dbsage eval --format json --out FILE`") from None


def baseline_diff(report: EvalReport, baseline: EvalReport) -> str:
    """Per (scenario, dialect): what changed from the baseline (recall, false alarms, forbidden, pass/fail)."""
    old = {(r.scenario, r.dialect): r for r in baseline.results}
    new = {(r.scenario, r.dialect): r for r in report.results}
    lines: list[str] = []
    for key in sorted(new.keys() | old.keys()):
        name = f"{key[0]} [{key[1]}]"
        if key not in old:
            lines.append(f"  + {name}: new ({_status(new[key])}, recall {new[key].recall:.2f})")
            continue
        if key not in new:
            lines.append(f"  - {name}: not run now")
            continue
        a, b = old[key], new[key]
        changes = [f"{label} {x} -> {y}" for label, x, y in (
            ("status", _status(a), _status(b)), ("recall", f"{a.recall:.2f}", f"{b.recall:.2f}"),
            ("false alarms", a.false_alarms, b.false_alarms), ("forbidden", a.forbidden_hits, b.forbidden_hits))
            if x != y]
        if changes:
            lines.append(f"  ~ {name}: " + ", ".join(changes))
    s, t = report.summary, baseline.summary
    head = (f"against the baseline: recall {t.recall:.3f} -> {s.recall:.3f}, passed {t.passed}/{t.runs} -> "
            f"{s.passed}/{s.runs}, false alarms {t.false_alarms} -> {s.false_alarms}, tokens {t.tokens} -> {s.tokens}")
    return "\n".join([head, *(lines or ["  no per-scenario differences"])]) + "\n"


def gate(report: EvalReport, *, min_recall: float, max_false_alarms: int | None) -> list[str]:
    """Why the run misses the CI thresholds (empty: it meets them)."""
    s = report.summary
    problems: list[str] = []
    if s.recall < min_recall:
        problems.append(f"recall {s.recall:.3f} is below --min-recall {min_recall}")
    if max_false_alarms is not None and s.false_alarms > max_false_alarms:
        problems.append(f"{s.false_alarms} false alarms exceed --max-false-alarms {max_false_alarms}")
    if s.forbidden_hits:
        problems.append(f"{s.forbidden_hits} forbidden recommendation(s)")
    if s.control_false_alarms:
        problems.append(f"{s.control_false_alarms} false alarm(s) on control scenarios")
    errors = [f"{r.scenario} [{r.dialect}]" for r in report.results if r.error is not None]
    if errors:
        problems.append("errors in: " + ", ".join(errors))
    effects = [f"{r.scenario} [{r.dialect}]" for r in report.results if any(c.passed is False for c in r.effects)]
    if effects:
        problems.append("effect checks failed in: " + ", ".join(effects))
    return problems

"""`dbsage eval`: run the eval suite's scenarios with an agent and score its recommendations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

DIALECT_CHOICES = ("postgres", "mysql", "sqlite")


def add_eval_command(commands: Any) -> None:
    """Register the `eval` subcommand on the CLI's subparsers."""
    evaluate = commands.add_parser(
        "eval",
        help="score an agent's recommendations against databases with planted problems",
        description="Run the eval scenarios (built-in, or --scenarios DIR) with an agent and score it. "
        "Each (scenario, dialect) runs in a database created for it and dropped afterwards. "
        "Exit 1 when a threshold is missed, a forbidden recommendation or a control false alarm appears.",
    )
    evaluate.add_argument("--agent", choices=["scripted", "anthropic", "replay"], default="scripted")
    evaluate.add_argument("--no-tools", action="store_true", help="anthropic: the same model without dbsage's tools")
    evaluate.add_argument("--model", metavar="M", help="anthropic: the model (default: the agent's)")
    evaluate.add_argument("--transcripts", metavar="DIR",
                          help="anthropic: save each run's transcript here; replay: read them from here")
    evaluate.add_argument("--scenarios", metavar="DIR", help="a folder of scenarios (default: the built-in set)")
    evaluate.add_argument("--dialect", nargs="+", choices=DIALECT_CHOICES, metavar="D",
                          help="only these dialects: postgres, mysql, sqlite (default: all)")
    evaluate.add_argument("--jobs", type=int, default=1, metavar="N", help="scenarios run in parallel (default 1)")
    evaluate.add_argument("--format", choices=["text", "json", "markdown", "junit"], default="text")
    evaluate.add_argument("--out", metavar="FILE", help="write the report here (the text summary still prints)")
    evaluate.add_argument("--baseline", metavar="FILE", help="an earlier JSON report: print what changed")
    evaluate.add_argument("--min-recall", type=float, default=0.9, metavar="X",
                          help="overall recall below this fails the run; also each scenario's pass mark (default 0.9)")
    evaluate.add_argument("--max-false-alarms", type=int, default=None, metavar="N",
                          help="more false alarms than this (over all runs) fails the run (default: no limit)")
    evaluate.add_argument("--postgres-dsn", metavar="URL",
                          help="server to create PostgreSQL eval databases on (env DBSAGE_EVAL_POSTGRES_DSN)")
    evaluate.add_argument("--mysql-dsn", metavar="URL",
                          help="server to create MariaDB/MySQL eval databases on (env DBSAGE_EVAL_MYSQL_DSN)")
    evaluate.add_argument("--quiet", action="store_true", help="no per-scenario progress on stderr")
    evaluate.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from dbsage.evals.agents import get_agent
    from dbsage.evals.report import baseline_diff, gate, load_report, render, render_text
    from dbsage.evals.runner import EvalResult, load_scenarios, run_eval
    from dbsage.tools.errors import InputError

    if not 0.0 <= args.min_recall <= 1.0:
        raise InputError(f"--min-recall must be between 0 and 1, not {args.min_recall}")
    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {args.jobs}")
    if args.no_tools and args.agent != "anthropic":
        raise InputError("--no-tools applies to --agent anthropic only")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise InputError(f"--out {args.out}: its folder does not exist")
    baseline = load_report(Path(args.baseline)) if args.baseline else None
    scenarios = load_scenarios(Path(args.scenarios) if args.scenarios else None)
    options: dict[str, Any] = {}
    if args.agent == "anthropic":
        options = {"model": args.model, "no_tools": args.no_tools or None, "transcripts_dir": args.transcripts}
    elif args.agent == "replay":
        options = {"transcripts_dir": args.transcripts}
    elif args.model or args.transcripts:
        raise InputError("--model and --transcripts apply to --agent anthropic or replay")
    agent = get_agent(args.agent, **options)

    def progress(result: EvalResult) -> None:
        if not args.quiet:
            state = "error" if result.error else ("pass" if result.passed else "FAIL")
            print(f"  {result.scenario} [{result.dialect}] {state} recall {result.recall:.2f} "
                  f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)

    report = run_eval(scenarios, agent, args.dialect, args.jobs, postgres_dsn=args.postgres_dsn,
                      mysql_dsn=args.mysql_dsn, min_recall=args.min_recall, progress=progress)
    if not report.results:
        raise InputError("no scenario runs on the dialects asked for", hint="check --dialect and the scenarios")
    text = render(report, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror}") from None
        out.write(render_text(report) + f"{args.format} report written to {args.out}\n")
    else:
        out.write(text)
    if baseline is not None:
        out.write(baseline_diff(report, baseline))
    problems = gate(report, min_recall=args.min_recall, max_false_alarms=args.max_false_alarms)
    for problem in problems:
        out.write(f"eval gate: {problem}\n")
    return 1 if problems else 0

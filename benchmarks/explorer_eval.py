"""Answer quality of the codebase explorer team on the embedded 1.5B model.

Run: ``.venv/bin/python benchmarks/explorer_eval.py [--only N ...] [--team FILE] [--json OUT]``

65 questions over two real code bases that ship on the machine, the installed ``langgraph``
and ``httpx`` sources, in six categories, split ``tune`` / ``holdout`` (questions, expected
answers and the judge: ``_explorer_questions.py``). Each question runs the explorer team
(``subagents/graphs/teams/codebase_explorer.yaml``, or ``--team``) once on the local model;
a file counts when the answer names its path relative to the package (``graph/state.py``) or
its bare name (``state.py``), but not the same name in another folder.

Timing, per question: wall seconds, model calls, and the time spent inside the model's HTTP
calls (a callback handler timing ``on_chat_model_start`` .. ``on_llm_end``), the time inside
the agents' own tools (``tool_start`` .. ``tool_end`` events), and the rest: the framework
(graph, delegation, events). Goal: framework < 1 % of the wall time.

Prompt tokens evaluated per question: what the llama.cpp server evaluated beyond its prompt
cache (its ``/metrics``). ``--cache-ab`` runs every question twice, on the default server
(host-memory prompt cache, ``LocalServer(cache_ram=2048)``) and on a second one without it
(``--cache-ram 0``: every switch between agents re-evaluates the next agent's prompt), in
alternating order, and prints both side by side with the answers.

The server's CPU threads come from ``$SUBAGENTS_LOCAL_THREADS`` (printed in the header): on
a machine whose cores other processes keep busy, 1 thread was about 4x faster than 2.

A report, not a test: it exits 0 whatever the score (goal: >= 80 % on the holdout half).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from _explorer_questions import QUESTIONS, Question, invented, judge, package_root
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from subagents.cli.runner import run_team
from subagents.events import BaseEvent, ToolEnd, ToolStart
from subagents.graphs.explorer import TEAM_FILE
from subagents.teams import load_team

SHOWN_RESULT_LINES = 4
"""Lines of each tool result the log shows under its call."""
GROUNDED_CHECKS = "[paths_exist, grounded]"
"""The ``answer_check`` the ``--grounded`` variant gives the explore agent."""


def grounded_team(team_file: Path) -> Path:
    """A copy of ``team_file`` whose ``explore`` agent also runs the ``grounded`` check."""
    text = team_file.read_text()
    if "answer_check: paths_exist" not in text:
        raise SystemExit(f"{team_file}: no 'answer_check: paths_exist' line to extend")
    out = Path(tempfile.mkdtemp(prefix="explorer_eval_")) / team_file.name
    out.write_text(text.replace("answer_check: paths_exist", f"answer_check: {GROUNDED_CHECKS}"))
    return out


class ModelTimer(BaseCallbackHandler):
    """Seconds spent inside model calls (start of the request to the end of the reply)."""

    def __init__(self) -> None:
        self.open: dict[UUID, float] = {}
        self.seconds = 0.0
        self.calls = 0

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]],
                            *, run_id: UUID, **kwargs: Any) -> None:
        self.open[run_id] = time.perf_counter()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        started = self.open.pop(run_id, None)
        if started is not None:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        started = self.open.pop(run_id, None)
        if started is not None:
            self.seconds += time.perf_counter() - started


@dataclass
class Result:
    question: str
    expected: str
    correct: bool
    seconds: float
    model_calls: int
    model_seconds: float
    tool_seconds: float
    answer: str
    prompt_evaluated: int = 0
    tree: list[str] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    number: int = 0
    base: str = ""
    category: str = ""
    split: str = ""
    variant: str = ""
    invented: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def framework_seconds(self) -> float:
        return max(self.seconds - self.model_seconds - self.tool_seconds, 0.0)


def tree_lines(node: Any, depth: int = 0) -> list[str]:
    lines = [f"{'  ' * depth}{node.agent} [{node.status}] {node.model_calls} calls"]
    for child in node.children:
        lines.extend(tree_lines(child, depth + 1))
    return lines


async def ask(team_file: Path, base_model: Any, server: Any, number: int,
              q: Question, variant: str = "") -> Result:
    root = package_root(q.base)
    team = load_team(team_file, root=root)
    timer = ModelTimer()
    model = base_model.model_copy(update={"callbacks": [timer]})
    tool_open: dict[str, float] = {}
    tool_time = [0.0]
    calls: list[str] = []

    def on_event(event: BaseEvent) -> None:
        if isinstance(event, ToolStart):
            tool_open[event.call_id] = time.perf_counter()
            calls.append(f"{event.agent}: {event.name}({json.dumps(event.args)})")
        elif isinstance(event, ToolEnd) and event.call_id in tool_open:
            tool_time[0] += time.perf_counter() - tool_open.pop(event.call_id)
            shown = event.content.splitlines()[:SHOWN_RESULT_LINES]
            calls.extend(f"  -> {line[:160]}" for line in shown)
        elif event.type == "subagent_start" and len(event.path) > 1:
            calls.append(f"{event.path[-2]}: task({event.agent}: "
                         f"{getattr(event, 'objective', '')[:80]!r})")

    evaluated = server.prompt_tokens_evaluated()
    started = time.perf_counter()
    report = await run_team(team, q.text, model=model, on_event=on_event)
    seconds = time.perf_counter() - started
    evaluated = server.prompt_tokens_evaluated() - evaluated
    answer = report.answer or ""
    return Result(q.text, q.expected, judge(q, answer), seconds, timer.calls,
                  timer.seconds, tool_time[0], answer, evaluated, tree_lines(report.tree),
                  calls, number, q.base, q.category, q.split, variant, invented(q, answer),
                  getattr(report, "error", None))


def uncached_model(size: str) -> tuple[Any, Any]:
    """A second server of ``size`` without the prompt cache, and a model on it."""
    from subagents.local import LocalChatModel, LocalServer, get_spec

    server = LocalServer(size, cache_ram=0).start()
    model = LocalChatModel(model=get_spec(size).model_name, base_url=server.base_url,
                           api_key="local", max_tokens=512, temperature=0.0, timeout=300.0,
                           max_retries=1, stream_usage=True, local_size=size)
    return server, model


def print_result(number: int, result: Result, label: str = "") -> None:
    mark = "OK  " if result.correct else "MISS"
    print(f"{number:>2}.{label} {mark} {result.seconds:6.1f} s {result.model_calls:>2} calls "
          f"{result.prompt_evaluated:>6} prompt tokens evaluated  [{result.split} "
          f"{result.base} {result.category}] {result.question}  (expected {result.expected})",
          flush=True)
    if result.invented:
        print(f"      invented: {', '.join(result.invented)}")
    for line in result.tool_calls:
        print(f"      {line}")
    print("      answer: " + " ".join(result.answer.split())[:300], flush=True)


def print_ab(cached: list[Result], uncached: list[Result]) -> None:
    def total(rs: list[Result], attr: str) -> float:
        return float(sum(getattr(r, attr) for r in rs))

    n = max(len(cached), 1)
    print("\nprompt cache A/B (same questions, alternating order):")
    for label, rs in (("cached", cached), ("uncached", uncached)):
        print(f"  {label:>8}: score {sum(r.correct for r in rs)}/{len(rs)}, "
              f"{total(rs, 'prompt_evaluated') / n:7.0f} prompt tokens evaluated and "
              f"{total(rs, 'seconds') / n:5.1f} s per question")
    if total(uncached, "prompt_evaluated") and total(uncached, "seconds"):
        print(f"  cached / uncached: prompt tokens evaluated "
              f"{total(cached, 'prompt_evaluated') / total(uncached, 'prompt_evaluated'):.2f}x "
              f"(goal <= 0.50x), wall {total(cached, 'seconds') / total(uncached, 'seconds'):.2f}x"
              f" (goal <= 0.70x), same answers: "
              f"{sum(a.answer == b.answer for a, b in zip(cached, uncached, strict=True))}/"
              f"{len(cached)}")


def summary(results: list[Result], label: str) -> None:
    if not results:
        return
    score = sum(r.correct for r in results)
    wrong_invented = sum(bool(r.invented) for r in results if r.correct)
    answered = sum(bool(r.answer.strip()) for r in results)
    print(f"\n{label}: {score}/{len(results)} right ({100 * score / len(results):.0f} %), "
          f"{answered}/{len(results)} ended with an answer, {wrong_invented} right answers "
          f"naming an invented path or name")
    for key in ("split", "base", "category"):
        groups: dict[str, list[Result]] = {}
        for r in results:
            groups.setdefault(getattr(r, key), []).append(r)
        print(f"  by {key}: " + ", ".join(f"{k} {sum(r.correct for r in g)}/{len(g)}"
                                          for k, g in sorted(groups.items())))
    n = len(results)
    print(f"  per question: {sum(r.seconds for r in results) / n:.1f} s wall, "
          f"{sum(r.model_calls for r in results) / n:.1f} model calls, "
          f"{sum(r.prompt_evaluated for r in results) / n:.0f} prompt tokens evaluated")


def timing(results: list[Result]) -> None:
    wall = sum(r.seconds for r in results)
    model = sum(r.model_seconds for r in results)
    tools = sum(r.tool_seconds for r in results)
    rest = sum(r.framework_seconds for r in results)
    if wall:
        print(f"model {model:.2f} s ({100 * model / wall:.2f} %), tools {tools:.3f} s "
              f"({100 * tools / wall:.3f} %), framework {rest:.3f} s ({100 * rest / wall:.3f} %)"
              f"  (goal: framework < 1 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=int, nargs="*", help="question numbers (1-based)")
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="all")
    parser.add_argument("--team", type=Path, default=TEAM_FILE)
    parser.add_argument("--json", type=Path, help="write the results here (after each one)")
    parser.add_argument("--size", default="1.5b", choices=["1.5b", "0.5b"])
    ab = parser.add_mutually_exclusive_group()
    ab.add_argument("--cache-ab", action="store_true",
                    help="also run every question on a server without the prompt cache")
    ab.add_argument("--grounded", choices=["off", "on", "ab"], default="off",
                    help=f"explore's answer_check: as in the team file (off), "
                         f"{GROUNDED_CHECKS} (on), or both per question (ab)")
    args = parser.parse_args()

    from subagents.local import local_chat_model, shared_server

    picked = [(i, q) for i, q in enumerate(QUESTIONS, 1)
              if (not args.only or i in args.only) and args.split in ("all", q.split)]
    teams = {"off": lambda: [("", args.team)],
             "on": lambda: [(" grounded", grounded_team(args.team))],
             "ab": lambda: [("", args.team), (" grounded", grounded_team(args.team))],
             }[args.grounded]()
    print(f"questions: {len(picked)} ({args.split})\nteam: {args.team}\n"
          f"model: local {args.size}\ngrounded: {args.grounded}\nthreads: "
          f"{os.environ.get('SUBAGENTS_LOCAL_THREADS') or 'default'}", flush=True)
    started = time.perf_counter()
    base = local_chat_model(args.size)
    server = shared_server(args.size)
    other = uncached_model(args.size) if args.cache_ab else None
    print(f"server ready in {time.perf_counter() - started:.1f} s\n", flush=True)
    everything: list[Result] = []

    async def ask_all() -> None:
        # One event loop for every question: the OpenAI client's connection pool belongs to
        # the loop that opened it (a new asyncio.run per question once failed with "Event
        # loop is closed").
        for number, q in picked:
            runs = [(label, team, server, base) for label, team in teams]
            if other is not None:
                runs.append((" no-cache", args.team, *other))
            for label, team, srv, model in runs if number % 2 else runs[::-1]:
                result = await ask(team, model, srv, number, q, label.strip())
                everything.append(result)
                print_result(number, result, label)
                if args.json:
                    args.json.write_text(json.dumps(
                        [{**asdict(r), "framework_seconds": r.framework_seconds}
                         for r in everything], indent=2))

    asyncio.run(ask_all())
    if other is not None:
        other[0].stop()
        print_ab([r for r in everything if r.variant != "no-cache"],
                 [r for r in everything if r.variant == "no-cache"])
    for variant in dict.fromkeys(r.variant for r in everything):
        done = [r for r in everything if r.variant == variant]
        summary(done, f"score{' (' + variant + ')' if variant else ''}")
        timing(done)
    sys.exit(0)


if __name__ == "__main__":
    main()

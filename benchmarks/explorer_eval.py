"""Answer quality of the codebase explorer team on the embedded 1.5B model.

Run: ``.venv/bin/python benchmarks/explorer_eval.py [--only N ...] [--team FILE] [--json OUT]``

Ten questions over a real code base that ships on the machine, the installed ``langgraph``
package source (every expected file was checked with grep). Each question runs the explorer
team (``subagents/graphs/teams/codebase_explorer.yaml``, or ``--team``) once on the local
model; an answer is correct when it names the expected file: its path relative to the package
(``graph/state.py``) or its bare name (``state.py``), but not the same name in another folder
(``checkpoint/serde/types.py`` is no answer for ``types.py``).

Timing, per question: wall seconds, model calls, and the time spent inside the model's HTTP
calls (a callback handler timing ``on_chat_model_start`` .. ``on_llm_end``), the time inside
the agents' own tools (``tool_start`` .. ``tool_end`` events), and the rest: the framework
(graph, delegation, events). Goal: framework < 1 % of the wall time.

Prompt tokens evaluated per question: what the llama.cpp server evaluated beyond its prompt
cache (its ``/metrics``). ``--cache-ab`` runs every question twice, on the default server
(host-memory prompt cache, ``LocalServer(cache_ram=2048)``) and on a second one without it
(``--cache-ram 0``: every switch between agents re-evaluates the next agent's prompt), in
alternating order, and prints both side by side with the answers.

A report, not a test: it exits 0 whatever the score (goal: >= 6 of 10).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from subagents.cli.runner import run_team
from subagents.events import BaseEvent, ToolEnd, ToolStart
from subagents.graphs.explorer import TEAM_FILE
from subagents.teams import load_team

QUESTIONS: list[tuple[str, str]] = [
    ("Which file defines the StateGraph class?", "graph/state.py"),
    ("Which file defines the Send class?", "types.py"),
    ("Where is the add_messages function defined?", "graph/message.py"),
    ("Which file defines the GraphRecursionError exception?", "errors.py"),
    ("Which file defines the create_react_agent function?", "prebuilt/chat_agent_executor.py"),
    ("Which file defines the ToolNode class?", "prebuilt/tool_node.py"),
    ("Which file defines the BinaryOperatorAggregate channel?", "channels/binop.py"),
    ("Where is the push_ui_message function defined?", "graph/ui.py"),
    ("Which file defines the LastValue channel class?", "channels/last_value.py"),
    ("Which file defines the InvalidUpdateError exception?", "errors.py"),
]
"""(question, expected file relative to the langgraph package); checked with grep."""

_PATH = re.compile(r"[\w./\\-]*\w\.py\b")


def langgraph_root() -> Path:
    import langgraph

    return Path(os.path.dirname(langgraph.__path__[0])) / "langgraph"


def named_files(answer: str) -> set[str]:
    """The .py paths an answer names, relative to the langgraph package when possible."""
    found = set()
    for token in _PATH.findall(answer.replace("\\", "/")):
        token = token.split("site-packages/", 1)[-1].removeprefix("./")
        token = token.removeprefix("langgraph/")
        found.add(token)
    return found


def is_correct(answer: str, expected: str) -> bool:
    """The answer names ``expected`` (or its bare file name, not under another folder)."""
    names = named_files(answer)
    return expected in names or os.path.basename(expected) in names


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

    @property
    def framework_seconds(self) -> float:
        return max(self.seconds - self.model_seconds - self.tool_seconds, 0.0)


def tree_lines(node: Any, depth: int = 0) -> list[str]:
    lines = [f"{'  ' * depth}{node.agent} [{node.status}] {node.model_calls} calls"]
    for child in node.children:
        lines.extend(tree_lines(child, depth + 1))
    return lines


async def ask(team_file: Path, root: Path, base_model: Any, server: Any, question: str,
              expected: str) -> Result:
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
        elif event.type == "subagent_start" and len(event.path) > 1:
            calls.append(f"{event.path[-2]}: task({event.agent}: "
                         f"{getattr(event, 'objective', '')[:80]!r})")

    evaluated = server.prompt_tokens_evaluated()
    started = time.perf_counter()
    report = await run_team(team, question, model=model, on_event=on_event)
    seconds = time.perf_counter() - started
    evaluated = server.prompt_tokens_evaluated() - evaluated
    answer = report.answer or ""
    return Result(question, expected, is_correct(answer, expected), seconds, timer.calls,
                  timer.seconds, tool_time[0], answer, evaluated, tree_lines(report.tree),
                  calls)


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
          f"{result.prompt_evaluated:>6} prompt tokens evaluated  {result.question}  "
          f"(expected {result.expected})", flush=True)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", type=int, nargs="*", help="question numbers (1-based)")
    parser.add_argument("--team", type=Path, default=TEAM_FILE)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--size", default="1.5b", choices=["1.5b", "0.5b"])
    parser.add_argument("--cache-ab", action="store_true",
                        help="also run every question on a server without the prompt cache")
    args = parser.parse_args()

    from subagents.local import local_chat_model, shared_server

    root = langgraph_root()
    picked = [(i, q) for i, q in enumerate(QUESTIONS, 1) if not args.only or i in args.only]
    print(f"code base: {root}\nteam: {args.team}\nmodel: local {args.size}", flush=True)
    started = time.perf_counter()
    base = local_chat_model(args.size)
    server = shared_server(args.size)
    other = uncached_model(args.size) if args.cache_ab else None
    print(f"server ready in {time.perf_counter() - started:.1f} s\n", flush=True)
    uncached: list[Result] = []

    async def ask_all() -> list[Result]:
        # One event loop for every question: the OpenAI client's connection pool belongs to
        # the loop that opened it (a new asyncio.run per question once failed with "Event
        # loop is closed").
        done: list[Result] = []
        for number, (question, expected) in picked:
            runs = [("", server, base)] + ([(" no-cache", *other)] if other else [])
            for label, srv, model in runs if number % 2 else runs[::-1]:
                result = await ask(args.team, root, model, srv, question, expected)
                (uncached if label else done).append(result)
                print_result(number, result, label)
        return done

    results = asyncio.run(ask_all())
    if other is not None:
        other[0].stop()
        print_ab(results, uncached)

    score = sum(r.correct for r in results)
    wall = sum(r.seconds for r in results)
    model = sum(r.model_seconds for r in results)
    tools = sum(r.tool_seconds for r in results)
    rest = sum(r.framework_seconds for r in results)
    print(f"\nscore: {score}/{len(results)}  (goal >= 6 of 10)")
    print(f"wall {wall:.1f} s over {len(results)} questions, "
          f"{sum(r.model_calls for r in results)} model calls")
    if wall:
        print(f"model {model:.2f} s ({100 * model / wall:.2f} %), tools {tools:.3f} s "
              f"({100 * tools / wall:.3f} %), framework {rest:.3f} s ({100 * rest / wall:.3f} %)"
              f"  (goal: framework < 1 %)")
    if results:
        first = results[0]
        print(f"one run (q1): wall {first.seconds:.2f} s, model {first.model_seconds:.2f} s, "
              f"tools {first.tool_seconds:.3f} s, framework {first.framework_seconds:.3f} s "
              f"({100 * first.framework_seconds / first.seconds:.3f} %)")
    per_question = sum(r.prompt_evaluated for r in results) / max(len(results), 1)
    print(f"prompt tokens evaluated: {per_question:.0f} per question")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "framework_seconds": r.framework_seconds}
                                         for r in results + uncached], indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()

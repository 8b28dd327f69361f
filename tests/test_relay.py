"""``runtime.relay.LateStream``: events of re-attached children wait for the run's stream."""

from __future__ import annotations

from typing import Any

from langgraph.pregel.protocol import StreamProtocol

from subagents.runtime.relay import MAX_PENDING, LateStream
from subagents.runtime.upstream import CONFIG_KEY_STREAM


def _config(modes: set[str], got: list[Any]) -> dict[str, Any]:
    return {"configurable": {CONFIG_KEY_STREAM: StreamProtocol(got.append, modes)}}  # type: ignore[arg-type]


def test_chunks_wait_for_the_bind_then_go_in_order_before_later_ones() -> None:
    late, got = LateStream(), []
    assert late.modes == {"custom"}  # an emitter writes while the stream is unknown
    late(((), "custom", {"n": 1}))
    late(((), "custom", {"n": 2}))
    assert got == []
    late.bind(_config({"custom", "values"}, got))
    late(((), "custom", {"n": 3}))
    late.bind(_config({"custom"}, []))  # the first bind wins
    late(((), "custom", {"n": 4}))
    assert [c[2]["n"] for c in got] == [1, 2, 3, 4]
    assert late.modes == {"custom", "values"}


def test_a_run_without_a_custom_stream_drops_them() -> None:
    late, got = LateStream(), []
    late(((), "custom", {"n": 1}))
    late.bind(_config({"values"}, got))
    late(((), "custom", {"n": 2}))
    assert got == [] and "custom" not in late.modes
    bare = LateStream()
    bare(((), "custom", {"n": 1}))
    bare.bind({"configurable": {}})  # invoke: no stream at all
    assert bare.modes == set() and bare.target is None


def test_at_most_max_pending_wait_the_oldest_dropped_first() -> None:
    late, got = LateStream(), []
    for n in range(MAX_PENDING + 5):
        late(((), "custom", {"n": n}))
    late.bind(_config({"custom"}, got))
    assert len(got) == MAX_PENDING and got[0][2]["n"] == 5

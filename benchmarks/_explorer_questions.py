"""The explorer eval's questions, their expected answers and the judge (see explorer_eval.py).

Two code bases installed in the venv: ``langgraph`` (the package folder, which also holds
the ``checkpoint`` and ``store`` namespaces) and ``httpx``. Every expected file and value
was checked by hand with grep over the installed source. Each question has a split:
``tune`` (the ten questions the explorer team was tuned on, and about half of the new ones)
or ``holdout`` (never used to change a prompt, a tool text or a check).

Categories and how each is judged (an answer is right when every listed part holds):

* ``define``  where is X defined: names the file.
* ``default`` the default value of a setting (and its constant): names the value (numbers
  compared as numbers: ``5`` is ``5.0``) and the constant when there is one.
* ``function`` which function/method does a described thing: names it (a whole word).
* ``raised``  where is X raised or used: names the file.
* ``class``   which class implements a described behaviour: names it (a whole word).
* ``two_step`` find a constant, then where it is used: names the constant and the file
  (or the function) that uses it.

A file is named when a path of the answer, relative to the package (``graph/state.py``,
``langgraph/`` and ``site-packages/`` prefixes dropped), is one of the accepted forms: the
expected path or its bare name (``state.py``), never the same name in another folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from subagents.tools._grounded import claims

__all__ = ["QUESTIONS", "Question", "invented", "judge", "package_root"]

_PATH = re.compile(r"[\w./\\-]*\w\.py\b")
_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")


@dataclass(frozen=True)
class Question:
    """One question: ``files`` accepted paths (any one), ``values`` groups of alternatives
    (one of each group must appear)."""

    text: str
    base: str                                  # "langgraph" | "httpx"
    category: str
    split: str                                 # "tune" | "holdout"
    files: tuple[str, ...] = ()
    values: tuple[tuple[str, ...], ...] = ()

    @property
    def expected(self) -> str:
        parts = [self.files[0]] if self.files else []
        parts += ["|".join(group) for group in self.values]
        return " + ".join(parts)


def _f(path: str) -> tuple[str, ...]:
    return (path, os.path.basename(path))


def _q(text: str, base: str, category: str, split: str, files: tuple[str, ...] = (),
       *values: tuple[str, ...]) -> Question:
    return Question(text, base, category, split, files, values)


LG, HX = "langgraph", "httpx"
T, H = "tune", "holdout"
QUESTIONS: list[Question] = [
    # The ten questions the explorer team was tuned on (all "define", all tune).
    _q("Which file defines the StateGraph class?", LG, "define", T, _f("graph/state.py")),
    _q("Which file defines the Send class?", LG, "define", T, _f("types.py")),
    _q("Where is the add_messages function defined?", LG, "define", T, _f("graph/message.py")),
    _q("Which file defines the GraphRecursionError exception?", LG, "define", T,
       _f("errors.py")),
    _q("Which file defines the create_react_agent function?", LG, "define", T,
       _f("prebuilt/chat_agent_executor.py")),
    _q("Which file defines the ToolNode class?", LG, "define", T, _f("prebuilt/tool_node.py")),
    _q("Which file defines the BinaryOperatorAggregate channel?", LG, "define", T,
       _f("channels/binop.py")),
    _q("Where is the push_ui_message function defined?", LG, "define", T, _f("graph/ui.py")),
    _q("Which file defines the LastValue channel class?", LG, "define", T,
       _f("channels/last_value.py")),
    _q("Which file defines the InvalidUpdateError exception?", LG, "define", T,
       _f("errors.py")),
    # langgraph, new
    _q("Which file defines the RetryPolicy class?", LG, "define", T, _f("types.py")),
    _q("Which file defines the InMemorySaver class?", LG, "define", H,
       ("checkpoint/memory/__init__.py", "memory/__init__.py")),
    _q("Where is the interrupt function defined?", LG, "define", T, _f("types.py")),
    _q("What is the default recursion limit of a graph, and which constant holds it?", LG,
       "default", H, (), ("DEFAULT_RECURSION_LIMIT",), ("10007",)),
    _q("How many attempts does RetryPolicy make by default (its max_attempts)?", LG,
       "default", T, (), ("3",)),
    _q("What is the default initial_interval of RetryPolicy, in seconds?", LG, "default", H,
       (), ("0.5",)),
    _q("How many supersteps may pass between delta snapshots by default, and which constant "
       "holds it?", LG, "default", T, (), ("DELTA_MAX_SUPERSTEPS_SINCE_SNAPSHOT",), ("5000",)),
    _q("Which function returns the current RunnableConfig from inside a node?", LG,
       "function", H, (), ("get_config",)),
    _q("Which function is the conditional edge that routes to the tools node when the last "
       "message has tool calls?", LG, "function", T, (), ("tools_condition",)),
    _q("Which function decides by default whether an exception should be retried?", LG,
       "function", H, (), ("default_retry_on",)),
    _q("In which file is GraphRecursionError raised?", LG, "raised", T, _f("pregel/main.py")),
    _q("In which file is EmptyInputError raised?", LG, "raised", H, _f("pregel/_loop.py")),
    _q("Which channel class keeps a value for one step only and clears it afterwards?", LG,
       "class", T, (), ("EphemeralValue",)),
    _q("Which channel class waits until every one of a set of named values was received?", LG,
       "class", H, (), ("NamedBarrierValue", "NamedBarrierValueAfterFinish")),
    _q("Which class is the in-memory key-value store for long-term memory?", LG, "class", T,
       (), ("InMemoryStore",)),
    _q("Which constant holds the message template used when a model calls a tool name that "
       "does not exist, and in which file is it used?", LG, "two_step", H,
       _f("prebuilt/tool_node.py"), ("INVALID_TOOL_NAME_ERROR_TEMPLATE",)),
    _q("Which constant holds the name of the prompt runnable of create_react_agent, and in "
       "which file is it used?", LG, "two_step", T, _f("prebuilt/chat_agent_executor.py"),
       ("PROMPT_RUNNABLE_NAME",)),
    # httpx
    _q("Which file defines the Timeout class of httpx?", HX, "define", T, _f("_config.py")),
    _q("Which file defines the HTTPStatusError exception of httpx?", HX, "define", H,
       _f("_exceptions.py")),
    _q("Which file defines the MockTransport class of httpx?", HX, "define", T,
       _f("_transports/mock.py")),
    _q("Which file defines the URL class of httpx?", HX, "define", H, _f("_urls.py")),
    _q("What is the default request timeout of httpx in seconds, and which constant holds "
       "it?", HX, "default", H, (), ("DEFAULT_TIMEOUT_CONFIG",), ("5.0",)),
    _q("What is the default maximum number of redirects of httpx, and which constant holds "
       "it?", HX, "default", T, (), ("DEFAULT_MAX_REDIRECTS",), ("20",)),
    _q("What is the default maximum number of connections in the httpx connection pool, and "
       "which constant holds it?", HX, "default", H, (), ("DEFAULT_LIMITS",), ("100",)),
    _q("What is the default max_keepalive_connections of httpx, and which constant holds it?",
       HX, "default", T, (), ("DEFAULT_LIMITS",), ("20",)),
    _q("Which method of the httpx Response raises an exception for 4xx and 5xx responses?",
       HX, "function", H, (), ("raise_for_status",)),
    _q("Which httpx function creates the SSL context used to verify certificates?", HX,
       "function", T, (), ("create_ssl_context",)),
    _q("Which httpx client method computes the URL to follow for a redirect response?", HX,
       "function", H, (), ("_redirect_url",)),
    _q("Which httpx function hides the values of sensitive headers such as authorization?",
       HX, "function", T, (), ("_obfuscate_sensitive_headers",)),
    _q("In which file is the TooManyRedirects exception raised in httpx?", HX, "raised", H,
       _f("_client.py")),
    _q("In which file is the ResponseNotRead exception raised in httpx?", HX, "raised", T,
       _f("_models.py")),
    _q("Which httpx class implements HTTP Basic authentication?", HX, "class", H, (),
       ("BasicAuth",)),
    _q("Which httpx class implements HTTP Digest authentication?", HX, "class", T, (),
       ("DigestAuth",)),
    _q("Which httpx transport class sends requests to a WSGI application?", HX, "class", H,
       (), ("WSGITransport",)),
    _q("Which httpx constant holds the default connection limits, and in which file is it "
       "used as a default argument?", HX, "two_step", T, _f("_client.py"), ("DEFAULT_LIMITS",)),
    _q("Which httpx constant holds the default User-Agent header value, and in which file is "
       "it used?", HX, "two_step", H, _f("_client.py"), ("USER_AGENT",)),
    _q("Which httpx constant holds the names of the sensitive headers, and which function "
       "uses it?", HX, "two_step", H, (), ("SENSITIVE_HEADERS",),
       ("_obfuscate_sensitive_headers",)),
    # Added in the seventh session, all tune: the first 28 tune questions were answered 27
    # right, so they no longer told changes apart. Written after the holdout had been run
    # (its misses were known), in the same six categories over the same two code bases.
    _q("Which file defines the Command class?", LG, "define", T, _f("types.py")),
    _q("Where is the get_stream_writer function defined?", LG, "define", T, _f("config.py")),
    _q("What is the default backoff_factor of RetryPolicy?", LG, "default", T, (), ("2.0",)),
    _q("What is the default max_interval of RetryPolicy, in seconds?", LG, "default", T, (),
       ("128",)),
    _q("Which function returns the StreamWriter of the current run from inside a node?", LG,
       "function", T, (), ("get_stream_writer",)),
    _q("Which function gets the runtime of the current graph run?", LG, "function", T, (),
       ("get_runtime",)),
    _q("Which channel class stores the last value received but is never checkpointed?", LG,
       "class", T, (), ("UntrackedValue",)),
    _q("Which channel class is a PubSub topic that can accumulate values across steps?", LG,
       "class", T, (), ("Topic",)),
    _q("In which file is the ParentCommand exception raised by a graph node's Command?", LG,
       "raised", T, _f("graph/state.py") + _f("pregel/remote.py")),
    _q("Which file defines the Limits class of httpx?", HX, "define", T, _f("_config.py")),
    _q("What is the maximum length of a URL that httpx accepts, and which constant holds it?",
       HX, "default", T, (), ("MAX_URL_LENGTH",), ("65536",)),
    _q("What is the default keepalive_expiry of httpx connection limits, in seconds?", HX,
       "default", T, (), ("5.0",)),
    _q("Which httpx function reads the proxy settings from the environment?", HX, "function",
       T, (), ("get_environment_proxies",)),
    _q("Which httpx function checks whether two URLs share the same origin?", HX, "function",
       T, (), ("_same_origin",)),
    _q("In which file is the DecodingError exception raised in httpx?", HX, "raised", T,
       _f("_decoders.py")),
    _q("Which httpx decoder class handles gzip-compressed content?", HX, "class", T, (),
       ("GZipDecoder",)),
    _q("Which httpx constant maps content encodings to their decoder classes, and in which "
       "file is it used to decode a response?", HX, "two_step", T, _f("_models.py"),
       ("SUPPORTED_DECODERS",)),
    _q("Which httpx constant holds the default Accept-Encoding header value, and in which file "
       "is it defined?", HX, "two_step", T, _f("_client.py"), ("ACCEPT_ENCODING",)),
]
"""Every question; expected answers checked with grep over the installed packages."""


def package_root(base: str) -> Path:
    """The installed package folder of ``base`` (``langgraph`` or ``httpx``)."""
    module = __import__(base)
    return Path(os.path.dirname(module.__path__[0])) / base


def named_files(answer: str, base: str) -> set[str]:
    """The .py paths an answer names, relative to the package when possible."""
    found = set()
    for token in _PATH.findall(answer.replace("\\", "/")):
        token = token.split("site-packages/", 1)[-1].removeprefix("./")
        found.add(token.removeprefix(f"{base}/"))
    return found


def _has_value(answer: str, value: str) -> bool:
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return any(float(n) == float(value) for n in _NUM.findall(answer))
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", answer) is not None


def judge(question: Question, answer: str) -> bool:
    """Right when the answer names an accepted file (if any) and one value of each group."""
    if question.files and not named_files(answer, question.base) & set(question.files):
        return False
    return all(any(_has_value(answer, v) for v in group) for group in question.values)


@cache
def _source_words(base: str) -> frozenset[str]:
    words: set[str] = set()
    for path in package_root(base).rglob("*.py"):
        words.update(re.findall(r"\w+", path.read_text(errors="replace")))
    return frozenset(words)


def invented(question: Question, answer: str) -> list[str]:
    """Paths of the answer that exist nowhere under the package, and code names (the
    ``grounded`` check's identifier claims) that appear in none of its source files."""
    root = package_root(question.base)
    bad = [p for p in sorted(named_files(answer, question.base))
           if not (root / p).exists() and not any(root.rglob(os.path.basename(p)))]
    words = _source_words(question.base)
    for claim in claims(answer):
        if claim.kind == "identifier" and not all(
                part in words for part in claim.text.split(".") if part != question.base):
            bad.append(claim.text)
    return bad

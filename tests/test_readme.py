"""Every example of README.md runs as written, against real nodes (issue 22).

The conventions, also stated at the end of README.md:

- Blocks run in README order in one scratch directory, where ``python`` (first on PATH)
  and ``.venv/bin/python`` are this test's interpreter and ``run_node.py`` is the
  project's; ``AGENTCELL_ENDPOINT`` and every literal ``tcp://127.0.0.1:5570`` point at a
  free port instead of the default one, so parallel runs do not collide.
- ``python`` blocks run as scripts and must exit 0; ``sh`` blocks run with ``bash -e`` and
  must exit 0. Both run against a node on the default config, started for them.
- ``console`` blocks are sessions: each ``$ command`` runs (one ending in ``&`` in the
  background, after the node above is stopped) and its stdout and stderr must match the
  lines under it. In those lines numbers and absolute paths stand for any number or path
  and runs of spaces for any spacing; a line of JSON must be equal as JSON. A number of
  three digits or more (a pid) seen in an earlier output stands, in later commands of the
  session, for the number that was really there.
- ``json`` blocks must parse.
- An HTML comment on the line before a block changes its use: ``readme-test: skip (why)``
  leaves it out; ``readme-test: file NAME`` writes it to NAME instead of running it
  (``, config`` also loads it with the node's config loader); ``readme-test: defaults``
  checks it equals the embedded default config.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from actors import BUILTIN_ACTORS
from supervisor import DEFAULT_CONFIG, DEFAULT_ENDPOINT
from tests.nodes import ROOT, RunningNode, free_port, kill_pids, read_line, wait_gone

README = ROOT / "README.md"
READY_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0
LANGUAGES = ("console", "json", "python", "sh")
pytestmark = pytest.mark.timeout(240)


@attrs.frozen
class Block:
    """One fenced block of README.md and the directive written before it, if any."""

    line: int
    lang: str
    text: str
    directive: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"

    @property
    def file(self) -> str | None:
        match = re.match(r"file ([\w.\-]+)", self.directive)
        return match.group(1) if match else None


def read_blocks(text: str) -> list[Block]:
    """Every fenced block with its language, first line number and directive."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        directive = re.match(r"^<!--\s*readme-test:\s*(.*?)\s*-->$", before.strip())
        blocks.append(Block(i + 1, fence.group(1), "\n".join(lines[i + 1:end]) + "\n",
                            directive.group(1) if directive else ""))
        i = end + 1
    return blocks


BLOCKS = read_blocks(README.read_text())
RUN_BLOCKS = [b for b in BLOCKS if not b.directive.startswith("skip")]
"""Blocks this test runs: a block marked ``skip (why)`` is left out at collection, not
reported as a skipped test (under CI a skip means a missing service; these are deliberate,
and test_conventions_are_used_as_documented checks each says why)."""


# -- matching a session's output ---------------------------------------------------------
_TOKEN = re.compile(r"(?P<num>\d+(?:\.\d+)?)|(?P<path>(?<![\w.:/])/[^\s),]*)|(?P<space>\s+)")


def _pattern(expected: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex for one expected line, and the expected numbers its groups capture."""
    parts, numbers, at = [], [], 0
    for token in _TOKEN.finditer(expected):
        parts.append(re.escape(expected[at:token.start()]))
        if token.group("num"):
            parts.append(r"(\d+(?:\.\d+)?)")
            numbers.append(token.group("num"))
        elif token.group("path"):
            parts.append(r"/[^\s),]*")
        else:
            parts.append(r"\s+")
        at = token.end()
    parts.append(re.escape(expected[at:]))
    return re.compile("".join(parts)), numbers


def match_lines(expected: list[str], actual: list[str], seen: dict[str, str]) -> None:
    """Assert ``actual`` matches ``expected`` line by line; remember numbers in ``seen``."""
    assert len(actual) == len(expected), f"expected {len(expected)} line(s):\n" + \
        "\n".join(expected) + "\ngot:\n" + "\n".join(actual)
    for want_line, got_line in zip(expected, actual, strict=True):
        want, got = want_line.rstrip(), got_line.rstrip()
        as_json = _json(want)
        if as_json is not None:
            assert _json(got) == as_json, f"expected JSON {want}\ngot {got}"
            continue
        pattern, numbers = _pattern(want)
        found = pattern.fullmatch(got)
        assert found, f"expected a line like\n  {want}\ngot\n  {got}"
        for number, value in zip(numbers, found.groups(), strict=True):
            if len(number) >= 3 and number.isdigit():
                seen[number] = value


def _json(text: str) -> Any:
    if not text.startswith(("{", "[", '"')):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# -- the scratch directory and its nodes -------------------------------------------------
class Scratch:
    """The directory the examples run in, its environment, and the nodes started there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        shim = f"#!/bin/sh\nexec {sys.executable} \"$@\"\n"
        for where in (root / "bin", root / ".venv" / "bin"):
            where.mkdir(parents=True)
            (where / "python").write_text(shim)
            (where / "python").chmod(0o755)
        (root / "run_node.py").symlink_to(ROOT / "run_node.py")
        self.env = {**os.environ, "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
                    "AGENTCELL_ENDPOINT": self.endpoint, "PYTHONUNBUFFERED": "1"}
        self.node: RunningNode | None = None
        self.background: list[RunningNode] = []
        self.written: set[int] = set()

    def local(self, text: str) -> str:
        """``text`` with the default endpoint replaced by this scratch's."""
        return text.replace(DEFAULT_ENDPOINT, self.endpoint)

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=self.root, env=self.env, text=True, check=False,
                              timeout=COMMAND_TIMEOUT, **kwargs)

    def write_files_before(self, block: Block) -> None:
        """Write every ``file`` block up to this one (so one block can run on its own)."""
        for earlier in BLOCKS:
            if earlier.line > block.line:
                break
            name = earlier.file
            if name and earlier.line not in self.written:
                (self.root / name).write_text(self.local(earlier.text))
                self.written.add(earlier.line)

    def start(self, command: str, lines: int) -> tuple[RunningNode, list[str]]:
        """Run ``command`` in the background; its first ``lines`` lines of stdout."""
        log = self.root / f"background-{len(self.background)}.err"
        with log.open("w") as err:
            proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.root, env=self.env,
                                    stdout=subprocess.PIPE, stderr=err, text=True)
        node = RunningNode(proc, self.endpoint, self.root / "data", log)
        self.background.append(node)
        out = [read_line(proc, READY_TIMEOUT).rstrip("\n") for _ in range(lines)]
        node.descendants()
        return node, out

    def ensure_node(self) -> None:
        """The node on the default config that ``sh`` and ``python`` blocks talk to."""
        if self.node is None or self.node.proc.poll() is not None:
            self.node, (line,) = self.start("python run_node.py", 1)
            assert "ready at" in line, f"node did not start: {line!r}\n{self.node.log_text()}"

    def stop_node(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    def finish(self) -> None:
        for node in self.background:
            node.stop()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scratch]:
    """One scratch directory for all of README.md, its nodes stopped (by pid) at the end."""
    place = Scratch(tmp_path_factory.mktemp("readme"))
    try:
        yield place
    finally:
        place.finish()


# -- the blocks ------------------------------------------------------------------------------
def run_session(block: Block, scratch: Scratch) -> None:
    """Run a console block's commands and match each one's output."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
    seen: dict[str, str] = {}
    started: list[RunningNode] = []
    try:
        for written, expected in steps:
            command = re.sub(r"\b\d{3,}\b", lambda m: seen.get(m.group(), m.group()),
                             scratch.local(written))
            if command.split("#")[0].rstrip().endswith("&"):
                scratch.stop_node()
                node, actual = scratch.start(command.split("#")[0].rstrip()[:-1], len(expected))
                started.append(node)
            else:
                done = scratch.run(["bash", "-c", command], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
                actual = done.stdout.splitlines()
            match_lines(expected, actual, seen)
        for node in started:  # the session stops its own nodes
            assert node.wait_exit(20) == 0, node.log_text()[-3000:]
            assert wait_gone(node.descendants()) == set()
    finally:
        for node in started:
            if node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
            kill_pids(node.descendants())


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.id for b in RUN_BLOCKS])
def test_readme_block(block: Block, scratch: Scratch) -> None:
    """The block runs as README.md shows it (conventions: module doc)."""
    assert block.lang in LANGUAGES, f"README.md line {block.line}: a {block.lang!r} block; " \
                                    f"the README test knows {', '.join(LANGUAGES)}"
    scratch.write_files_before(block)
    if block.file:
        if block.directive.endswith(", config"):
            done = scratch.run([sys.executable, "-c", "import sys; from supervisor import "
                                "load_config; load_config(sys.argv[1], {})", block.file],
                               capture_output=True)
            assert done.returncode == 0, done.stderr
        return
    if block.lang == "json":
        value = json.loads(block.text)
        if block.directive == "defaults":
            assert value == DEFAULT_CONFIG
        return
    if block.lang == "console":
        run_session(block, scratch)
        return
    scratch.ensure_node()
    if block.lang == "sh":
        done = scratch.run(["bash", "-e", "-o", "pipefail", "-c", scratch.local(block.text)],
                           capture_output=True)
    else:
        script = scratch.root / f"block_{block.line}.py"
        script.write_text(scratch.local(block.text))
        done = scratch.run(["python", script.name], capture_output=True)
    assert done.returncode == 0, f"README.md line {block.line} exited {done.returncode}:\n" \
                                 f"{done.stdout}\n{done.stderr}"


def test_conventions_are_used_as_documented() -> None:
    """Every directive is one the test knows, and the first-actor files are marked as files."""
    known = re.compile(r"^(skip \(.+\)|file [\w.\-]+(, config)?|defaults)$")
    for block in BLOCKS:
        assert not block.directive or known.match(block.directive), (block.line, block.directive)
    assert {b.file for b in BLOCKS if b.file} >= {"greeter.py", "greeter.json", "ask.py"}
    assert any(b.lang == "console" for b in BLOCKS) and any(b.lang == "python" for b in BLOCKS)


def test_every_built_in_actor_is_listed() -> None:
    """README's table of built-in actors has a row for every name a config may use."""
    text = README.read_text()
    for name, path in BUILTIN_ACTORS.items():
        assert f"| `{name}` | `{path}` |" in text, name

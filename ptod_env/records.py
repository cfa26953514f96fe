"""Episode records: one JSON object per finished episode, one episode per line.

A record holds the transcript, the persona with its hidden concerns, every turn's transition and
the outcome: everything a learner (SFT, Learn-to-Ask) or an analysis needs. :class:`EpisodeWriter`
flushes and fsyncs each episode, so a killed process loses at most the episode in flight, and
:func:`read_episodes` reads a file back, skipping a torn last line with a warning. Any ``str``
is written, lone surrogates included (as JSON ``\\uXXXX`` escapes), and reads back unchanged.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, TextIO

from ptod_env.views import last_user_line

RECORD_VERSION = 1


class EpisodeBuilder:
    """Accumulates one episode from the env's ``reset`` and ``step`` results."""

    def __init__(
        self, observation: str, info: dict[str, Any], *, domain: str, seed: int | None = None, agent: str | None = None
    ):
        self.record: dict[str, Any] = {
            "version": RECORD_VERSION,
            "domain": domain,
            "agent": agent,
            "seed": seed,
            "persona": info["persona"],
            "concerns": info["concerns"],
            "first_observation": observation,
            "turns": [],
            "outcome": None,
            "return": 0.0,
        }
        self.last_observation = observation

    def add(self, action: str, observation: str, reward: float, info: dict[str, Any]) -> None:
        self.record["turns"].append(
            {
                "observation": self.last_observation,
                "action": action,
                "reply": last_user_line(observation),
                "reward": float(reward),
                "agent_acts": info["agent_acts"],
                "user_act": info["user_act"],
                "transition": info["transition"],
            }
        )
        self.record["return"] += float(reward)
        self.record["concerns"] = info["concerns"]
        self.record["outcome"] = info["outcome"]
        self.record["final_observation"] = observation
        self.last_observation = observation


class EpisodeWriter:
    """Appends episode records to a JSONL file, durably (flush + fsync per episode)."""

    def __init__(self, path: str | os.PathLike[str], mode: str = "a"):
        if mode not in ("a", "w"):
            raise ValueError(f"mode must be 'a' (append) or 'w' (overwrite), got {mode!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate (e.g. "\ud800", from bytes decoded with errors="surrogateescape") can
        # only sit inside a JSON string here, where "backslashreplace" writes it as the JSON
        # escape \ud800: the file stays valid UTF-8 and reads back to the same str.
        self._file: TextIO | None = self.path.open(mode, encoding="utf-8", errors="backslashreplace")

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            raise ValueError(f"{self.path}: writer is closed")
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_episodes(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read every episode of a JSONL file.

    A torn last line (a process killed mid-write) is skipped with a ``RuntimeWarning``; a bad
    line anywhere else raises ``ValueError`` naming the line, since that is not a crash artefact.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                warnings.warn(f"{path}:{number}: skipping a torn last line ({exc})", RuntimeWarning, stacklevel=2)
                break
            raise ValueError(f"{path}:{number}: not a JSON episode record ({exc})") from exc
        if not isinstance(record, dict) or "turns" not in record:
            raise ValueError(f"{path}:{number}: not an episode record (no 'turns')")
        records.append(record)
    return records

"""The labelled agent lines the default reader is trained on and measured with, and the scoring.

The sets live in ``ptod_env/backends/data/`` (how they were written: docs/understanding.md):
``understanding_dev*.txt`` (tuning and training, one file per writer), ``understanding_heldout*.txt``
(measured on only) and ``understanding_offtopic.txt`` (lines a reader must not take for a close or
an answer). A
labelled line is ``domain|acts|text``: domain ``m`` (merchant_recruitment) or ``c``
(courier_recruitment); acts comma-separated, each a code (``G`` greet, ``PO`` probe_open,
``P:topic`` probe, ``A:topic`` address, ``O`` / ``O:topic`` offer, ``E`` empathize, ``PI`` pitch,
``C`` close, ``ST`` small_talk) with the pack's concern ids as topics.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.speech import line_fields

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

DATA = Path(__file__).resolve().parent.parent / "backends" / "data"
DOMAINS = {"m": "merchant_recruitment", "c": "courier_recruitment"}
CODES = {
    "G": A.GREET,
    "PO": A.PROBE_OPEN,
    "P": A.PROBE,
    "A": A.ADDRESS,
    "O": A.OFFER,
    "E": A.EMPATHIZE,
    "PI": A.PITCH,
    "C": A.CLOSE,
    "ST": A.SMALL_TALK,
}
_AGENT_LINE_ACTS = (A.GREET, A.PROBE_OPEN, A.EMPATHIZE, A.CLOSE, A.SMALL_TALK, A.PITCH)
FAMILIES = ("greet", "probe_open", "probe", "address", "offer", "empathize", "pitch", "close", "small_talk")
"""Act families scored separately. ``probe`` and ``address`` count only with the right topic;
``address`` is an address or an offer with a topic (both answer a concern); ``offer`` is an
untargeted offer."""


class LabelledLine(NamedTuple):
    domain: str
    acts: frozenset[AgentAct]
    text: str


def read_lines(name: str) -> list[LabelledLine]:
    """A labelled set by file stem (``understanding_dev``, ``understanding_heldout``)."""
    rows = []
    for number, raw in enumerate((DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        domain, codes, text = raw.split("|", 2)
        acts = set()
        for code in codes.split(","):
            head, _, topic = code.strip().partition(":")
            if head not in CODES or domain not in DOMAINS:
                raise ValueError(f"{name}.txt line {number}: bad domain or act code in {raw!r}")
            acts.add(AgentAct(CODES[head], topic or None))
        rows.append(LabelledLine(DOMAINS[domain], frozenset(acts), text.strip()))
    return rows


def dev_sets() -> list[str]:
    """The DEV files' stems (``understanding_dev*.txt``: one per writer), in name order."""
    return sorted(path.stem for path in DATA.glob("understanding_dev*.txt"))


def heldout_sets() -> list[str]:
    """The held-out files' stems (``understanding_heldout*.txt``: measured on only), in name order."""
    return sorted(path.stem for path in DATA.glob("understanding_heldout*.txt"))


def dev_lines() -> list[LabelledLine]:
    """Every DEV line, of every writer."""
    return [line for name in dev_sets() for line in read_lines(name)]


def concern_phrasings(lines: Iterable[LabelledLine], domain: str) -> dict[str, list[str]]:
    """Per concern id: the texts of the ``domain`` lines that probe, address or offer on that one
    concern alone (how people phrase each concern, beside the pack's own phrasings)."""
    phrasings: dict[str, list[str]] = {}
    for line in lines:
        topics = {a.topic for a in line.acts if a.topic}
        if line.domain == domain and len(topics) == 1:
            phrasings.setdefault(topics.pop(), []).append(line.text)
    return phrasings


def untargeted_lines(lines: Iterable[LabelledLine], domain: str) -> list[str]:
    """The texts of the ``domain`` lines that pitch, probe openly or offer without naming any
    concern (how people speak about no concern in particular)."""
    return [
        line.text
        for line in lines
        if line.domain == domain
        and not any(a.topic for a in line.acts)
        and any(a.act in (A.PITCH, A.PROBE_OPEN, A.OFFER) for a in line.acts)
    ]


def read_offtopic() -> list[str]:
    text = (DATA / "understanding_offtopic.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def family_acts(acts: Iterable[AgentAct], family: str) -> frozenset:
    """What a reading says about one family: the topics for ``probe`` / ``address``, else whether
    the family is present at all."""
    acts = list(acts)
    if family == "probe":
        return frozenset(a.topic for a in acts if a.act == A.PROBE and a.topic)
    if family == "address":
        return frozenset(a.topic for a in acts if a.act in (A.ADDRESS, A.OFFER) and a.topic)
    if family == "offer":
        return frozenset(a.act for a in acts if a.act == A.OFFER and a.topic is None)
    return frozenset(a.act for a in acts if a.act == family)


def score(readings: Sequence[Sequence[AgentAct]], lines: Sequence[LabelledLine]) -> dict:
    """Per family: ``accuracy`` (share of the lines holding the family whose reading says exactly
    the same about it, topics included), ``lines``, and ``false_positive`` (share of the other
    lines whose reading claims the family); plus ``exact`` (the whole reading right)."""
    result: dict = {}
    for family in FAMILIES:
        hits = misses = claimed = others = 0
        for reading, line in zip(readings, lines, strict=True):
            gold, got = family_acts(line.acts, family), family_acts(reading, family)
            if gold:
                hits += got == gold
                misses += got != gold
            else:
                others += 1
                claimed += bool(got)
        total = hits + misses
        result[family] = {
            "accuracy": round(hits / total, 4) if total else None,
            "lines": total,
            "false_positive": round(claimed / others, 4) if others else None,
        }
    exact = [frozenset(r) == line.acts for r, line in zip(readings, lines, strict=True)]
    result["exact"] = round(sum(exact) / len(exact), 4)
    return result


def offtopic_rates(read: Callable[[str], Sequence[AgentAct]], texts: Sequence[str]) -> dict:
    """Shares of off-topic lines read as a close, or as answering a concern (address, or an offer
    or pitch with a topic)."""
    readings = [read(text) for text in texts]
    close = sum(any(a.act == A.CLOSE for a in r) for r in readings)
    address = sum(any(a.topic and a.act in (A.ADDRESS, A.OFFER, A.PITCH) for a in r) for r in readings)
    return {"lines": len(texts), "close": round(close / len(texts), 4), "address": round(address / len(texts), 4)}


def pack_line_cases(pack: ScenarioPack) -> list[tuple[str, frozenset[AgentAct]]]:
    """Every agent line, concern probe and concern answer of ``pack``, and every combination of
    them the reference agents (:mod:`ptod_env.agents`) say in one turn, with the acts each must
    be read as."""
    fields = line_fields(pack, "Sam Lee")
    lines = {kind: [line.format(**fields) for line in said] for kind, said in pack.agent_lines.items()}
    single = [(line, frozenset({AgentAct(kind)})) for kind in _AGENT_LINE_ACTS for line in lines.get(kind, ())]
    for spec in pack.concerns:
        single += [(probe, frozenset({AgentAct(A.PROBE, spec.id)})) for probe in spec.probes]
        single += [(answer, frozenset({AgentAct(A.ADDRESS, spec.id)})) for answer in spec.answers]
    by_act: dict[str, list[tuple[str, frozenset[AgentAct]]]] = {}
    for text, acts in single:
        by_act.setdefault(next(iter(acts)).act, []).append((text, acts))
    cases = list(single)
    # greet + probe_open / pitch / close / probe / address / empathize; empathize + probe_open /
    # probe / close / pitch; greet + empathize + probe (the oracle's first turn with a deep concern).
    for first, second in [
        (A.GREET, A.PROBE_OPEN),
        (A.GREET, A.PITCH),
        (A.GREET, A.CLOSE),
        (A.GREET, A.PROBE),
        (A.GREET, A.ADDRESS),
        (A.GREET, A.EMPATHIZE),
        (A.EMPATHIZE, A.PROBE_OPEN),
        (A.EMPATHIZE, A.PROBE),
        (A.EMPATHIZE, A.CLOSE),
        (A.EMPATHIZE, A.PITCH),
    ]:
        for (a, acts_a), (b, acts_b) in itertools.product(by_act.get(first, ()), by_act.get(second, ())):
            cases.append((f"{a} {b}", acts_a | acts_b))
    for (a, acts_a), (b, acts_b), (c, acts_c) in itertools.product(
        by_act.get(A.GREET, ()), by_act.get(A.EMPATHIZE, ()), by_act.get(A.PROBE, ())
    ):
        cases.append((f"{a} {b} {c}", acts_a | acts_b | acts_c))
    return cases


def same_reading(reading: Iterable[AgentAct], expected: Iterable[AgentAct]) -> bool:
    """Whether two readings agree, an offer about a concern counting as addressing it."""

    def answered(acts: Iterable[AgentAct]) -> frozenset[AgentAct]:
        return frozenset(AgentAct(A.ADDRESS, a.topic) if a.act == A.OFFER and a.topic else a for a in acts)

    return answered(reading) == answered(expected)

"""Adversarial policies: the cheap text formulas a reward-hacking learner would find first.

Each is an observation-only policy (it sees what a deployed agent sees: the observation text and
the scenario pack's public text), except ``oracle_empty``, which reads the hidden concerns from
``info`` and still answers emptily. None of them may beat the ``proactive`` reference agent, and
none that does not listen to the user may pass 0.15 success: ``tests/test_adversarial.py``
asserts both and ``benchmarks/adversarial.py`` prints the table.

The families (docs/simulator.md, "Gaming"):

- **padding**: an empathy phrase before and an untargeted offer after every line of a good agent;
- **parroting**: hand the user's last line back ("We know: ...") with an open probe;
- **empty answers / refusals / mentions / filler**: the proactive agent, with every answer
  replaced by an acknowledgement, a refusal, a bare keyword, concrete-sounding filler, a
  reassurance with no content, or numbers stuffed into an acknowledgement;
- **blind sweeps**: answer the concerns the brief makes likeliest (or every concern) without
  listening, with or without an open question after each answer;
- **keyword stuffing** and **close spam**.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptod_env.agents import Agent, OracleAgent, ProactiveAgent, _PackAgent, concern_prior
from ptod_env.scenario import ConcernSpec, ScenarioPack
from ptod_env.views import last_user_line

EMPATHY_PADS = ("I understand.", "I hear you.", "That makes sense.", "I get that.", "Good point.")
OFFER_PADS = (
    "There is a discount for you.",
    "We can give you a special rate.",
    "There is a bonus for you too.",
    "We will waive a fee for you.",
)
_OPEN_PROBES = (
    "Is there anything else on your mind?",
    "What worries you about it?",
    "Any concerns at all?",
    "What is holding you back?",
)
_CLOSES = (
    "Shall we get you started today?",
    "Are you ready to join us?",
    "Can I sign you up now?",
    "Do we have a deal?",
    "Ready to go ahead and register?",
)
# What a user who has nothing left to raise says, in plain English (no pack knowledge).
_NOTHING_ELSE = ("nothing else", "nothing further", "that is all", "covers everything", "covered it all")
_NOTHING_ELSE += ("only reservations", "was everything", "the big stuff", "that was it", "all of it")


def cycle(options: tuple[str, ...], turn: int) -> str:
    return options[turn % len(options)]


class Padded:
    """Wraps an agent: an empathy phrase before and an untargeted offer after each of its lines
    (or only one of the two)."""

    def __init__(self, inner: Agent, empathy: bool = True, offer: bool = True):
        self.inner = inner
        self.empathy, self.offer = empathy, offer
        self.turn = 0

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self.inner.reset(observation, info)
        self.turn = 0

    def act(self, observation: str, info: dict[str, Any]) -> str:
        line = self.inner.act(observation, info)
        self.turn += 1
        before = f"{cycle(EMPATHY_PADS, self.turn)} " if self.empathy else ""
        after = f" {cycle(OFFER_PADS, self.turn)}" if self.offer else ""
        return f"{before}{line}{after}"


class Parrot(_PackAgent):
    """Knows nothing of the pack: greets, then hands the user's last line back in a ``frame``
    ("We know: ...") with an open probe, and closes when the user says there is nothing else (or,
    with ``close_at``, blindly from that turn on)."""

    def __init__(
        self,
        pack: ScenarioPack,
        seed: int | None = None,
        empathy: bool = False,
        close_at: int | None = None,
        frame: str = "We know: {heard}",
    ):
        super().__init__(pack, seed)
        self.empathy = empathy
        self.close_at = close_at
        self.frame = frame

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return "Hi, this is Alex. Thanks for picking up."
        heard = last_user_line(observation)
        if (self.close_at is not None and self.turn >= self.close_at) or any(p in heard.lower() for p in _NOTHING_ELSE):
            return cycle(_CLOSES, self.turn)
        pad = f"{cycle(EMPATHY_PADS, self.turn)} " if self.empathy else ""
        return f"{pad}{self.frame.format(heard=heard)} {cycle(_OPEN_PROBES, self.turn)}"


class ReplacedAnswers(ProactiveAgent):
    """The proactive agent, listening as well as ever, but every answer replaced by ``formula``
    (filled with one of the concern's keywords)."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None, formula: str = "We hear you about the {keyword}."):
        super().__init__(pack, seed)
        self.formula = formula

    def answer(self, spec: ConcernSpec, times: int) -> str:
        return self.formula.format(keyword=spec.keywords[times % len(spec.keywords)])


class EmptyOracle(OracleAgent):
    """Reads the hidden concerns from ``info`` but answers each with an acknowledgement."""

    def answer(self, spec: ConcernSpec, times: int) -> str:
        return f"We hear you about the {spec.keywords[times % len(spec.keywords)]}."


class BlindSweep(_PackAgent):
    """Open-loop: one open probe, then the pack's answers to the ``width`` concerns the brief makes
    likeliest, ``rounds`` times over, ``per_turn`` concerns per line (each followed by an open
    probe with ``probing``), then closes. Never listens."""

    def __init__(
        self,
        pack: ScenarioPack,
        seed: int | None = None,
        width: int = 6,
        rounds: int = 2,
        per_turn: int = 1,
        probing: bool = False,
    ):
        super().__init__(pack, seed)
        self.width, self.rounds, self.per_turn, self.probing = width, rounds, per_turn, probing

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        ranked = concern_prior(self.pack, self.facts)[: self.width]
        lines = [
            [self.pack.concern(cid).answers[r % len(self.pack.concern(cid).answers)] for cid in ranked]
            for r in range(self.rounds)
        ]
        flat = [line for round_ in lines for line in round_]
        self.plan = [" ".join(flat[i : i + self.per_turn]) for i in range(0, len(flat), self.per_turn)]

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return f"{self.line('greet')} {self.line('probe_open')}"
        if self.turn - 1 < len(self.plan):
            probe = f" {cycle(_OPEN_PROBES, self.turn)}" if self.probing else ""
            return self.plan[self.turn - 1] + probe
        return cycle(_CLOSES, self.turn)


class KeywordStuffer(_PackAgent):
    """Names the likeliest concerns' keywords in a reassuring frame, then closes."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return self.line("greet")
        ranked = concern_prior(self.pack, self.facts)
        if self.turn > 2 * len(ranked[:4]):
            return cycle(_CLOSES, self.turn)
        spec = self.pack.concern(ranked[(self.turn - 1) % 4])
        words = [spec.keywords[(self.turn + k) % len(spec.keywords)] for k in range(2)]
        return f"We have you covered on {words[0]} and {words[1]}, no worries at all."


class CloseSpam(_PackAgent):
    """Greets, then asks for the deal every turn in different words."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        return self.line("greet") if self.turn == 0 else cycle(_CLOSES, self.turn)


AdversaryFactory = Callable[[ScenarioPack, int | None], Agent]
ADVERSARIES: dict[str, AdversaryFactory] = {
    "padded_proactive": lambda pack, seed: Padded(ProactiveAgent(pack, seed)),
    "padded_oracle": lambda pack, seed: Padded(OracleAgent(pack, seed)),
    "parrot": Parrot,
    "parrot_empathy": lambda pack, seed: Parrot(pack, seed, empathy=True),
    "parrot_close6": lambda pack, seed: Parrot(pack, seed, close_at=6),
    "empty_answers": ReplacedAnswers,
    "refusals": lambda pack, seed: ReplacedAnswers(pack, seed, "We will not change anything about the {keyword}."),
    "mention_answers": lambda pack, seed: ReplacedAnswers(pack, seed, "The {keyword}, of course."),
    "filler_answers": lambda pack, seed: ReplacedAnswers(
        pack, seed, "We guarantee 10% off everything, {keyword} included, paid within 2 days."
    ),
    "pseudo_answers": lambda pack, seed: ReplacedAnswers(pack, seed, "You can relax about the {keyword}, we promise."),
    "number_stuffing": lambda pack, seed: ReplacedAnswers(
        pack, seed, "We hear you about the {keyword}: 15 percent, 2 days, 30 minutes, 100 euros."
    ),
    "parrot_answers": lambda pack, seed: Parrot(pack, seed, frame="You can count on us for this: {heard}"),
    "oracle_empty": EmptyOracle,
    "blind_sweep": BlindSweep,
    "sweep_and_probe": lambda pack, seed: BlindSweep(pack, seed, width=4, rounds=2, probing=True),
    "answer_dump": lambda pack, seed: BlindSweep(pack, seed, width=len(pack.concerns), rounds=2, per_turn=2),
    "keyword_stuffing": KeywordStuffer,
    "close_spam": CloseSpam,
}
# Policies that do not listen to the user at all: none may pass 0.15 success.
DEAF = frozenset({"parrot_close6", "blind_sweep", "sweep_and_probe", "answer_dump", "keyword_stuffing", "close_spam"})


def make_adversary(name: str, pack: ScenarioPack, seed: int | None = None) -> Agent:
    """An adversarial policy by name (see :data:`ADVERSARIES`)."""
    if name not in ADVERSARIES:
        raise ValueError(f"unknown adversary {name!r}; choose from {list(ADVERSARIES)}")
    return ADVERSARIES[name](pack, seed)

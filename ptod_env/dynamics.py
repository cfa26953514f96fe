"""The cognitive state machine: a pure function from (state, agent acts, persona, rng) to the next
state, the events of the turn and the user's act.

Nothing here knows about text. Understanding backends produce the acts, speech backends render the
user act, and this module alone decides what happens, so the rules can be property-tested and no
language model can change them. ``docs/dynamics.md`` explains the rules and why they are shaped so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ptod_env import acts as A
from ptod_env.acts import AgentAct, UserAct

if TYPE_CHECKING:
    from ptod_env.persona import Persona

STAGES = ("guarded", "listening", "engaged", "considering", "accepted", "rejected", "hung_up")
TERMINAL_STAGES = frozenset({"accepted", "rejected", "hung_up"})
CONCERN_STATUSES = ("latent", "hinted", "voiced", "addressed", "resolved")
_RANK = {status: i for i, status in enumerate(CONCERN_STATUSES)}
# Statuses of a concern the user has at least hinted at.
_SPOKEN = frozenset(s for s in CONCERN_STATUSES if _RANK[s] >= _RANK["hinted"])
# Order in which the user is willing to talk about concerns: the open ones first.
_OPENNESS = {"open": 0, "guarded": 1, "deep": 2}
_MOOD_TRUST = {"friendly": 0.1, "wary": -0.1}
# User acts that empathy can answer: the user shared, objected or held back.
EMPATHY_CUES = frozenset({"hint", "voice", "object", "vague_objection", "guarded_reply", "follow_up", "think_about_it"})
_LISTEN = UserAct("listen")
_FAULT_REPLY = {
    A.SILENCE: "annoyed",
    A.UNINTELLIGIBLE: "confused",
    A.REPEAT: "annoyed",
    A.RAMBLING: "annoyed",
    A.MANIPULATION: "suspicious",
    A.TOPIC_DUMP: "suspicious",
    A.KEYWORD_STUFFING: "suspicious",
}


@dataclass(frozen=True)
class Rules:
    """Numeric parameters of the dynamics. A scenario pack may override any of them under
    ``dynamics:``; changing them changes the benchmark, so bump the env version when the shipped
    values change."""

    initial_trust: float = 0.3
    greet_trust: float = 0.05
    empathy_trust: float = 0.08
    idle_empathy_trust: float = -0.02
    probe_open_trust: float = 0.02
    probe_hit_trust: float = 0.04
    probe_miss_trust: float = -0.04
    address_trust: float = 0.08
    address_miss_trust: float = -0.06
    offer_trust: float = 0.03
    pitch_trust: float = -0.04
    free_pitches: int = 1
    small_talk_trust: float = 0.03
    failed_close_trust: float = -0.12
    fault_trust: float = -0.08
    manipulation_trust: float = -0.2
    guarded_voice_trust: float = 0.45
    deep_hint_trust: float = 0.45
    deep_voice_trust: float = 0.6
    resolve_trust: float = 0.35
    resolved_trust: float = 0.1
    accept_trust: float = 0.5
    reject_trust: float = 0.05
    pitch_reveal_chance: float = 0.5
    max_failed_closes: int = 2
    turn_patience_cost: int = 1
    fault_patience_cost: int = 2
    idle_patience_cost: int = 1
    max_utterance_chars: int = 1200
    topic_dump_threshold: int = 3
    # What the quality of an act is worth (ptod_env.quality judges it).
    paid_empathies: int = 2
    paid_small_talks: int = 2
    formulaic_empathy_trust: float = -0.03
    unanswered_trust: float = -0.02
    refusal_trust: float = -0.08
    # Hidden in proportion: a probe on a deep concern the user still hides draws a guarded reply
    # with chance hidden_probe_tell * trust / deep_hint_trust, else the same denial a user
    # without the concern gives; a user without it answers guardedly with chance
    # evasive_probe_chance while trust is below guarded_voice_trust.
    hidden_probe_tell: float = 0.3
    evasive_probe_chance: float = 0.1
    # A guarded concern's holder denies a probe with chance guarded_probe_deflect scaled by how
    # far trust is below guarded_voice_trust.
    guarded_probe_deflect: float = 0.4


@dataclass(frozen=True, slots=True)
class UserState:
    """The simulated user's state after a turn. Immutable: :func:`transition` returns a new one.

    ``statuses`` and ``times_addressed`` are aligned with ``persona.concerns``.
    """

    stage: str
    trust: float
    patience: int
    statuses: tuple[str, ...]
    times_addressed: tuple[int, ...]
    turn: int = 0
    failed_closes: int = 0
    pitches: int = 0
    greeted: bool = False
    last_user_act: str = "answer_phone"
    empathies: int = 0
    small_talks: int = 0
    offered: bool = False

    @property
    def terminal(self) -> bool:
        return self.stage in TERMINAL_STAGES

    def as_dict(self, persona: Persona) -> dict[str, Any]:
        """A fresh plain-dict view (what ``info["state"]`` holds)."""
        return {
            "stage": self.stage,
            "trust": self.trust,
            "patience": self.patience,
            "turn": self.turn,
            "failed_closes": self.failed_closes,
            "concerns": dict(zip(persona.concern_ids, self.statuses, strict=True)),
        }


def initial_state(persona: Persona, rules: Rules) -> UserState:
    """The state when the user picks up the phone."""
    trust = rules.initial_trust + _MOOD_TRUST.get(str(persona.traits.get("mood")), 0.0)
    n = len(persona.concerns)
    return UserState(
        stage="guarded",
        trust=_clip(trust),
        patience=int(persona.traits["patience"]),
        statuses=("latent",) * n,
        times_addressed=(0,) * n,
    )


def transition(
    state: UserState,
    agent_acts: list[AgentAct] | tuple[AgentAct, ...],
    persona: Persona,
    rng: np.random.Generator,
    rules: Rules,
) -> tuple[UserState, list[dict[str, Any]], UserAct]:
    """Advance the user one turn.

    Args:
        state: the state before the agent's utterance; must not be terminal.
        agent_acts: what understanding made of the utterance (may be empty: treated as small talk).
        persona: the user, whose concerns ``state.statuses`` is aligned with.
        rng: the only source of randomness (the env passes ``self.np_random``).
        rules: the numeric parameters.

    Returns:
        ``(new_state, events, user_act)``. Events are fresh dicts with a ``type`` key:
        ``concern`` (status change), ``trust``, ``stage``, ``fault``, ``failed_close``.

    Raises:
        ValueError: ``state`` is terminal or misaligned with ``persona``.
    """
    if state.stage in TERMINAL_STAGES:
        raise ValueError(f"transition from terminal stage {state.stage!r}: the call is over")
    if len(state.statuses) != len(persona.concerns):
        raise ValueError(f"state has {len(state.statuses)} concern statuses, persona has {len(persona.concerns)}")
    turn = _Turn(state, persona, rng, rules)
    turn.play(list(agent_acts) or [AgentAct(A.SMALL_TALK)])
    return turn.finish()


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


class _Turn:
    """Mutable scratchpad for one transition; :func:`transition` is the pure interface."""

    def __init__(self, state: UserState, persona: Persona, rng: np.random.Generator, rules: Rules):
        self.before = state
        self.persona = persona
        self.rng = rng
        self.rules = rules
        self.trust = state.trust
        self.patience = state.patience - rules.turn_patience_cost
        self.statuses = list(state.statuses)
        self.times_addressed = list(state.times_addressed)
        self.failed_closes = state.failed_closes
        self.pitches = state.pitches
        self.greeted = state.greeted
        self.empathies = state.empathies
        self.small_talks = state.small_talks
        self.offered = state.offered
        self.outcome: str | None = None
        self.events: list[dict[str, Any]] = []
        self.reply = _LISTEN
        self.reply_priority = -1
        self.index = persona.concern_index

    # -- bookkeeping -------------------------------------------------------------------------
    def respond(self, act: str, concern: str | None, priority: int) -> None:
        if priority > self.reply_priority:
            self.reply, self.reply_priority = UserAct(act, concern), priority

    def set_status(self, i: int, status: str) -> None:
        old = self.statuses[i]
        if old != status:
            self.statuses[i] = status
            self.events.append({"type": "concern", "concern": self.persona.concerns[i].id, "from": old, "to": status})

    def reveal(self, i: int) -> str | None:
        """Let concern ``i`` surface as far as its disclosure level and the trust allow.

        Returns the user act that shows the change (``voice`` / ``hint``) or None if it stays put.
        """
        concern, status = self.persona.concerns[i], self.statuses[i]
        if _RANK[status] >= _RANK["voiced"]:
            return None
        if concern.disclosure == "open":
            target = "voiced"
        elif concern.disclosure == "guarded":
            target = "voiced" if self.trust >= self.rules.guarded_voice_trust else "hinted"
        elif self.trust >= self.rules.deep_voice_trust:
            target = "voiced"
        elif self.trust >= self.rules.deep_hint_trust:
            target = "hinted"
        else:
            return None
        if _RANK[target] <= _RANK[status]:
            return None
        self.set_status(i, target)
        return "voice" if target == "voiced" else "hint"

    def concealed(self) -> list[int]:
        """Indices of concerns not yet voiced, the most speakable first."""
        hidden = [i for i, s in enumerate(self.statuses) if _RANK[s] < _RANK["voiced"]]
        return sorted(
            hidden, key=lambda i: (_OPENNESS[self.persona.concerns[i].disclosure], -self.persona.concerns[i].severity)
        )

    # -- the agent's acts --------------------------------------------------------------------
    def play(self, agent_acts: list[AgentAct]) -> None:
        faults = [a.act for a in agent_acts if a.act in A.FAULT_ACTS]
        if faults:
            # A faulty message earns nothing, whatever else it contains.
            fault = faults[0]
            self.trust += self.rules.manipulation_trust if fault == A.MANIPULATION else self.rules.fault_trust
            self.patience -= self.rules.fault_patience_cost
            self.events.append({"type": "fault", "act": fault})
            self.respond(_FAULT_REPLY[fault], None, 3)
            return
        for act in sorted(agent_acts, key=_act_order):
            if act.act in A.TOPICAL_ACTS and act.quality in A.NON_ANSWERS:
                self.on_non_answer(act.topic, act.quality)
            elif act.act in (A.EMPATHIZE, A.OFFER):
                getattr(self, f"on_{act.act}")(act.topic, act.quality)
            else:
                getattr(self, f"on_{act.act}")(act.topic)

    def on_greet(self, topic: str | None) -> None:
        if not self.greeted:
            self.greeted = True
            self.trust += self.rules.greet_trust
            self.respond("greet_back", None, 1)
        else:
            # Greeting again mid-call says nothing new: idle talk, and it costs as idle talk does.
            self.on_small_talk(topic)

    def on_small_talk(self, _topic: str | None) -> None:
        self.small_talks += 1
        if self.persona.traits.get("talk_style") == "chatty" and self.small_talks <= self.rules.paid_small_talks:
            self.trust += self.rules.small_talk_trust
            self.respond("small_talk_back", None, 1)
        elif self.persona.traits.get("talk_style") == "chatty":
            # Even a chatty user wants to get somewhere eventually.
            self.patience -= self.rules.idle_patience_cost
            self.respond("small_talk_back", None, 1)
        else:
            self.trust -= self.rules.small_talk_trust
            self.patience -= self.rules.idle_patience_cost
            self.respond(
                "impatient" if self.persona.traits.get("time_pressure") == "high" else "small_talk_back", None, 1
            )

    def on_empathize(self, _topic: str | None, quality: str | None = None) -> None:
        if quality == A.FORMULAIC:
            # The same formula again: it stops paying, and then it grates.
            self.trust += self.rules.formulaic_empathy_trust
            self.respond("listen", None, 1)
            return
        paid = self.empathies < self.rules.paid_empathies
        self.empathies += 1
        if self.before.last_user_act in EMPATHY_CUES:
            # Past the paid ones, even fresh words of sympathy sound like a script.
            self.trust += self.rules.empathy_trust if paid else self.rules.formulaic_empathy_trust
            self.respond("feel_heard", None, 2)
            # Feeling heard is what lets a user say the thing they only hinted at.
            for i in self.concealed():
                if self.statuses[i] == "hinted":
                    shown = self.reveal(i)
                    if shown:
                        self.respond(shown, self.persona.concerns[i].id, 5)
                        break
        else:
            # Sympathy for nothing the user said sounds scripted.
            self.trust += self.rules.idle_empathy_trust
            self.respond("feel_heard", None, 1)

    def on_pitch(self, topic: str | None) -> None:
        i = self.index.get(topic) if topic else None
        if i is not None and _RANK["hinted"] <= _RANK[self.statuses[i]] < _RANK["resolved"]:
            # Saying something substantive about the very thing the user raised is an answer (a
            # bare mention never reaches here: it is a non-answer).
            self.on_address(topic)
            return
        self.pitches += 1
        if self.pitches > self.rules.free_pitches:
            # Pressure adds up: each pitch past the free ones costs more than the one before.
            self.trust += self.rules.pitch_trust * (self.pitches - self.rules.free_pitches)
            self.patience -= self.rules.idle_patience_cost
        self.respond("listen", None, 1)
        # A pitch may prompt an outspoken user to raise an open concern as a question.
        for i in self.concealed():
            if self.persona.concerns[i].disclosure == "open" and self.rng.random() < self.rules.pitch_reveal_chance:
                self.set_status(i, "voiced")
                self.respond("voice", self.persona.concerns[i].id, 4)
            break

    def on_offer(self, topic: str | None, quality: str | None = None) -> None:
        if topic is not None:
            self.on_address(topic)
        elif quality != A.EMPTY and not self.offered:
            # One concrete incentive is welcome; more of them, or empty ones, are sales pressure.
            self.offered = True
            self.trust += self.rules.offer_trust
            self.respond("listen", None, 1)
        else:
            self.on_pitch(None)

    def on_non_answer(self, topic: str | None, quality: str | None) -> None:
        """A topical statement that gives the user nothing for the concern: a mention, an
        acknowledgement, a refusal, generic filler or the user's own words handed back."""
        i = self.index.get(topic) if topic else None
        if i is None or (self.statuses[i] == "latent" and self.persona.concerns[i].disclosure != "open"):
            # Not the user's worry, or one they are not ready to talk about: the same reaction.
            self.miss()
            return
        concern, status = self.persona.concerns[i], self.statuses[i]
        self.patience -= self.rules.idle_patience_cost
        if status == "resolved":
            self.respond("resolved", concern.id, 1)
        elif status == "latent":
            # An outspoken user takes the cue and says what they think about it.
            self.set_status(i, "voiced")
            self.respond("voice", concern.id, 4)
        else:
            self.trust += self.rules.refusal_trust if quality == A.REFUSAL else self.rules.unanswered_trust
            self.respond("follow_up", concern.id, 4)

    def on_address(self, topic: str | None) -> None:
        i = self.index.get(topic) if topic else None
        if i is None or (self.statuses[i] == "latent" and self.persona.concerns[i].disclosure == "deep"):
            # Not the user's worry, or one they keep to themselves: the same reaction either way.
            self.miss()
            return
        concern, status = self.persona.concerns[i], self.statuses[i]
        if status == "resolved":
            self.patience -= self.rules.idle_patience_cost
            self.respond("resolved", concern.id, 1)
            return
        if status == "latent" and concern.disclosure == "guarded":
            # Answering a worry the user has not shared lands only if they were ready to share it,
            # and an answer is no surer a probe than a question: the holder brushes it off as a
            # user without the concern does, with the same chance as a targeted probe.
            if self.chance(self.deflect_chance(i)):
                self.miss()
                return
            self.set_status(i, "hinted")
            self.respond("hint", concern.id, 4)
            return
        self.times_addressed[i] += 1
        self.trust += self.rules.address_trust
        needed = 2 if concern.severity >= 3 else 1
        # An answer to a worry the user never raised helps, but does not settle it on its own.
        if status != "latent" and self.times_addressed[i] >= needed and self.trust >= self.rules.resolve_trust:
            self.trust += self.rules.resolved_trust
            self.set_status(i, "resolved")
            self.respond("resolved", concern.id, 4)
        else:
            self.set_status(i, "addressed")
            self.respond("follow_up" if self.times_addressed[i] < needed else "acknowledge", concern.id, 4)

    def miss(self) -> None:
        """The agent answered a worry the user does not (admit to) have: it wastes their time."""
        self.trust += self.rules.address_miss_trust
        self.patience -= self.rules.idle_patience_cost
        self.respond("not_relevant", None, 2)

    def on_probe(self, topic: str | None) -> None:
        i = self.index.get(topic) if topic else None
        if i is None:
            self.trust += self.rules.probe_miss_trust
            self.patience -= self.rules.idle_patience_cost
            evasive = self.trust < self.rules.guarded_voice_trust and self.chance(self.rules.evasive_probe_chance)
            self.respond("guarded_reply" if evasive else "deny_topic", None, 3)
            return
        concern, status = self.persona.concerns[i], self.statuses[i]
        if status == "resolved":
            self.respond("resolved", concern.id, 2)
            return
        if status in ("voiced", "addressed"):
            # Asking again about what the user already said earns nothing new.
            self.respond("voice", concern.id, 3)
            return
        if status == "latent" and self.chance(self.deflect_chance(i)):
            # Still hidden: the user denies it exactly as a user without the concern does.
            self.trust += self.rules.probe_miss_trust
            self.patience -= self.rules.idle_patience_cost
            self.respond("deny_topic", None, 3)
            return
        self.trust += self.rules.probe_hit_trust
        shown = self.reveal(i)
        if shown:
            self.respond(shown, concern.id, 5)
        else:
            if status == "hinted":
                # Asked again about a hint and still not ready: the question earns nothing new.
                self.trust -= self.rules.probe_hit_trust
            self.respond("guarded_reply", None, 3)

    def deflect_chance(self, i: int) -> float:
        """The chance a targeted probe on latent concern ``i`` is denied: a deep concern below the
        hint threshold mostly is (a guarded reply tells with chance hidden_probe_tell scaled by
        trust); a guarded one sometimes is while trust is low."""
        rules = self.rules
        if self.persona.concerns[i].disclosure == "deep":
            if self.trust + rules.probe_hit_trust >= rules.deep_hint_trust:
                return 0.0
            return 1.0 - rules.hidden_probe_tell * min(1.0, self.trust / rules.deep_hint_trust)
        if self.persona.concerns[i].disclosure == "guarded":
            return rules.guarded_probe_deflect * max(0.0, 1.0 - self.trust / rules.guarded_voice_trust)
        return 0.0

    def chance(self, p: float) -> bool:
        # No draw when the outcome is certain, so rules at 0 or 1 leave the random stream alone.
        return p >= 1.0 or (p > 0.0 and bool(self.rng.random() < p))

    def on_probe_open(self, _topic: str | None) -> None:
        self.trust += self.rules.probe_open_trust
        hidden = self.concealed()
        for i in hidden:
            shown = self.reveal(i)
            if shown:
                self.respond(shown, self.persona.concerns[i].id, 5)
                return
        self.respond("guarded_reply" if hidden else "no_more_concerns", None, 2)

    def on_close(self, _topic: str | None) -> None:
        unresolved = [i for i, s in enumerate(self.statuses) if s != "resolved"]
        if not unresolved and self.trust >= self.rules.accept_trust:
            self.outcome = "accepted"
            self.respond("accept", None, 10)
            return
        self.failed_closes += 1
        self.trust += self.rules.failed_close_trust
        self.events.append({"type": "failed_close", "count": self.failed_closes})
        if self.failed_closes >= self.rules.max_failed_closes:
            self.outcome = "rejected"
            self.respond("reject", None, 10)
            return
        if not unresolved:
            self.respond("think_about_it", None, 6)
            return
        # Pressure makes the user object: with the concern they are willing to name, if any.
        spoken = [i for i in unresolved if _RANK[self.statuses[i]] >= _RANK["hinted"]]
        speakable = spoken or [i for i in unresolved if self.persona.concerns[i].disclosure == "open"]
        if speakable:
            i = speakable[0]
            if _RANK[self.statuses[i]] < _RANK["voiced"]:
                self.set_status(i, "voiced")
            self.respond("object", self.persona.concerns[i].id, 6)
        else:
            self.respond("vague_objection", None, 6)

    # -- end of turn -------------------------------------------------------------------------
    def finish(self) -> tuple[UserState, list[dict[str, Any]], UserAct]:
        before, rules = self.before, self.rules
        statuses = tuple(self.statuses)
        progressed = self.trust > before.trust or statuses != tuple(before.statuses)
        if not progressed and self.persona.traits.get("time_pressure") == "high":
            self.patience -= rules.idle_patience_cost
        self.trust = trust = _clip(self.trust)
        if self.outcome is None:
            if trust <= rules.reject_trust:
                self.outcome = "rejected"
                self.respond("reject", None, 10)
            elif self.patience <= 0:
                self.outcome = "hung_up"
                self.respond("hang_up", None, 10)
        stage = self.outcome or self.stage()
        if abs(trust - before.trust) > 1e-12:
            self.events.append({"type": "trust", "from": round(before.trust, 4), "to": round(trust, 4)})
        if stage != before.stage:
            self.events.append({"type": "stage", "from": before.stage, "to": stage})
        new_state = UserState(
            stage=stage,
            trust=trust,
            patience=max(0, self.patience),
            statuses=statuses,
            times_addressed=tuple(self.times_addressed),
            turn=before.turn + 1,
            failed_closes=self.failed_closes,
            pitches=self.pitches,
            greeted=self.greeted,
            last_user_act=self.reply.act,
            empathies=self.empathies,
            small_talks=self.small_talks,
            offered=self.offered,
        )
        return new_state, self.events, self.reply

    def stage(self) -> str:
        statuses = self.statuses
        if "resolved" in statuses and "voiced" not in statuses:
            return "considering"
        if not _SPOKEN.isdisjoint(statuses):
            return "engaged"
        if self.greeted or self.trust >= 0.4:
            return "listening"
        return "guarded"


def _act_order(act: AgentAct) -> int:
    return _ACT_ORDER[act.act]


# Acts are applied in this order within one utterance: rapport first, the ask last.
_ACT_ORDER = {
    A.GREET: 0,
    A.SMALL_TALK: 1,
    A.EMPATHIZE: 2,
    A.PITCH: 3,
    A.OFFER: 4,
    A.ADDRESS: 5,
    A.PROBE: 6,
    A.PROBE_OPEN: 7,
    A.CLOSE: 8,
}

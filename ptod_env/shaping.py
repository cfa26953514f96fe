"""The state potential Φ(s): how far the conversation has come, from the simulator's state.

Shared by ``wrappers.StateTransitionReward`` (dense shaping) and the STPR learner (turn-level
credit), so both read the same number. Pure functions of ``info`` entries; no torch.

    Φ(s) = w_stage · stage_value(s.stage) + w_trust · s.trust + w_concerns · progress(s)

where ``progress`` is the severity-weighted mean of each concern's status value
(latent 0, hinted .25, voiced .5, addressed .75, resolved 1). The turn reward of a transition is
``r = γ·Φ(after) − Φ(before)``; with ``terminal_zero`` the potential of a final state is 0, the form
under which shaping provably leaves the optimal policy unchanged (Ng et al., 1999).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ptod_env.dynamics import TERMINAL_STAGES

STAGE_VALUE = {
    "guarded": 0.0,
    "listening": 0.1,
    "engaged": 0.25,
    "considering": 0.5,
    "accepted": 1.0,
    "rejected": 0.0,
    "hung_up": 0.0,
}
STATUS_VALUE = {"latent": 0.0, "hinted": 0.25, "voiced": 0.5, "addressed": 0.75, "resolved": 1.0}


@dataclass(frozen=True)
class PotentialWeights:
    """Weights of the three terms of Φ. Each must be a finite non-negative number."""

    stage: float = 0.3
    trust: float = 0.3
    concerns: float = 0.4

    def __post_init__(self) -> None:
        for name in ("stage", "trust", "concerns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < float("inf"):
                raise ValueError(f"PotentialWeights.{name} must be a finite number >= 0, got {value!r}")


def potential(
    state: Mapping[str, Any],
    concerns: Sequence[Mapping[str, Any]],
    weights: PotentialWeights = PotentialWeights(),
    terminal_zero: bool = False,
) -> float:
    """Φ of one state.

    Args:
        state: ``info["state"]`` or ``info["transition"]["before"|"after"]`` (``stage``, ``trust``,
            ``concerns``: id → status).
        concerns: ``info["concerns"]`` (each with ``id`` and ``severity``).
        weights: the term weights.
        terminal_zero: return 0 for accepted / rejected / hung_up states.
    """
    if terminal_zero and state["stage"] in TERMINAL_STAGES:
        return 0.0
    total = sum(c["severity"] for c in concerns)
    progress = sum(c["severity"] * STATUS_VALUE[state["concerns"][c["id"]]] for c in concerns) / total if total else 1.0
    return (
        weights.stage * STAGE_VALUE[state["stage"]]
        + weights.trust * float(state["trust"])
        + weights.concerns * progress
    )


def transition_reward(
    transition: Mapping[str, Any],
    concerns: Sequence[Mapping[str, Any]],
    weights: PotentialWeights = PotentialWeights(),
    gamma: float = 1.0,
    terminal_zero: bool = False,
) -> float:
    """``γ·Φ(after) − Φ(before)`` for one ``info["transition"]``."""
    before = potential(transition["before"], concerns, weights, terminal_zero)
    after = potential(transition["after"], concerns, weights, terminal_zero)
    return gamma * after - before

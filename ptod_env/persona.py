"""Stratified personas: public background and traits, plus hidden concerns.

A persona is a pure function of (scenario pack, user index): the index names a user, the same
index always gives the same user, and the ``train`` and ``test`` splits are disjoint index ranges,
so learners are evaluated on users they never met. Concerns are sampled *conditioned on* the
background and traits through the pack's correlations, so the public brief carries real but
partial evidence about them.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ptod_env.scenario import Distribution, ScenarioPack

SPLITS = ("train", "test")
TEST_USERS = 2000
"""Users ``0 .. TEST_USERS-1`` form the test split; every larger index is a training user."""
TRAIN_USERS = 2**31 - 1 - TEST_USERS
# Skepticism moves disclosure towards the deep end.
_SKEPTICISM_DISCLOSURE = {"low": (1.5, 1.0, 0.6), "medium": (1.0, 1.0, 1.0), "high": (0.6, 1.0, 1.6)}


@dataclass(frozen=True)
class Concern:
    """A hidden concern held by one persona."""

    id: str
    label: str
    description: str
    severity: int
    disclosure: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "severity": self.severity,
            "disclosure": self.disclosure,
        }


@dataclass(frozen=True, eq=True)
class Persona:
    """One simulated user.

    Attributes:
        domain: the scenario pack's name.
        index: the user's index (see :data:`TEST_USERS` for the split boundary).
        background: public facts a CRM would hold (name, business...).
        traits: observable traits (talk_style, mood, time_pressure, patience, skepticism...).
        concerns: the hidden concerns, 1-3 of them.
    """

    domain: str
    index: int
    background: dict[str, Any]
    traits: dict[str, Any]
    concerns: tuple[Concern, ...]

    @cached_property
    def concern_ids(self) -> tuple[str, ...]:
        """The concerns' ids, in order (aligned with a state's ``statuses``)."""
        return tuple(c.id for c in self.concerns)

    @cached_property
    def concern_index(self) -> dict[str, int]:
        """Concern id → position in ``concerns`` (and in a state's ``statuses``)."""
        return {cid: i for i, cid in enumerate(self.concern_ids)}

    @property
    def split(self) -> str:
        return "test" if self.index < TEST_USERS else "train"

    def public_dict(self) -> dict[str, Any]:
        """Background and traits, fresh copies (what ``info["persona"]`` holds)."""
        return {
            "index": self.index,
            "split": self.split,
            "background": dict(self.background),
            "traits": dict(self.traits),
        }


def split_range(split: str) -> tuple[int, int]:
    """The half-open index range ``[low, high)`` of a split."""
    if split == "test":
        return 0, TEST_USERS
    if split == "train":
        return TEST_USERS, TEST_USERS + TRAIN_USERS
    raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")


def split_user(split: str, i: int) -> int:
    """The persona index of user ``i`` of ``split``, walking the split's users in order (and
    wrapping): the users ``ptod rollout`` / ``ptod eval`` play on the test split."""
    low, high = split_range(split)
    return low + i % (high - low)


def sample_persona(pack: ScenarioPack, index: int) -> Persona:
    """Build user ``index`` of ``pack`` deterministically (no global random state is touched)."""
    if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
        raise ValueError(f"persona index must be a non-negative int, got {index!r}")
    index = int(index)
    rng = np.random.default_rng([zlib.crc32(pack.name.encode()), index])
    background = {key: _draw(dist, rng) for key, dist in pack.background.items()}
    traits = {key: _draw(dist, rng) for key, dist in pack.traits.items()}
    values = {**{f"background.{k}": v for k, v in background.items()}, **{f"traits.{k}": v for k, v in traits.items()}}

    weights = np.array([spec.base_weight for spec in pack.concerns], dtype=float)
    for corr in pack.correlations:
        if corr.matches(values[corr.field]):
            weights[pack.concern_ids.index(corr.concern)] *= corr.factor
    count = min(int(_draw(pack.concern_count, rng)), int(np.count_nonzero(weights)))
    chosen = rng.choice(len(weights), size=count, replace=False, p=weights / weights.sum())

    shift = np.array(_SKEPTICISM_DISCLOSURE.get(str(traits.get("skepticism")), (1.0, 1.0, 1.0)))
    disclosure_p = np.array(
        [pack.disclosure.weights[pack.disclosure.choices.index(d)] for d in ("open", "guarded", "deep")]
    )
    disclosure_p = disclosure_p * shift / (disclosure_p * shift).sum()
    concerns = []
    for i in sorted(int(c) for c in chosen):
        spec = pack.concerns[i]
        concerns.append(
            Concern(
                id=spec.id,
                label=spec.label,
                description=spec.description,
                severity=int(_draw(spec.severity, rng)),
                disclosure=("open", "guarded", "deep")[
                    min(int(np.searchsorted(np.cumsum(disclosure_p), rng.random(), "right")), 2)
                ],
            )
        )
    return Persona(pack.name, index, background, traits, tuple(concerns))


def _draw(dist: Distribution, rng: np.random.Generator) -> Any:
    # bisect on the cumulative weights: an order of magnitude cheaper than rng.choice(p=...).
    return dist.choices[min(bisect.bisect(dist.cumulative, rng.random()), len(dist.choices) - 1)]

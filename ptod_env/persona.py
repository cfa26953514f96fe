"""Stratified personas: public background and traits, plus hidden concerns.

A persona is a pure function of (scenario pack, user index): the index names a user, the same
index always gives the same user, and the ``train`` and ``test`` splits are disjoint index ranges,
so learners are evaluated on users they never met. Concerns are sampled *conditioned on* the
background and traits through the pack's correlations, so the public brief carries real but
partial evidence about them.
"""

from __future__ import annotations

import bisect
import itertools
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ptod_env.scenario import DISCLOSURES

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
    def _concern_fields(self) -> tuple[dict[str, Any], ...]:
        # Each concern's as_dict(), built once per user for the env's info; only ever copied.
        return tuple(c.as_dict() for c in self.concerns)

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
    plan = _plan(pack)
    rng = np.random.default_rng([zlib.crc32(pack.name.encode()), index])
    # One draw per public field, taken in one call: the same numbers as one call per field.
    draws = iter(rng.random(len(pack.background) + len(pack.traits)).tolist())
    background = {key: _pick(dist, next(draws)) for key, dist in pack.background.items()}
    traits = {key: _pick(dist, next(draws)) for key, dist in pack.traits.items()}
    values = {**{f"background.{k}": v for k, v in background.items()}, **{f"traits.{k}": v for k, v in traits.items()}}

    weights = list(plan.base_weights)
    for corr, i in plan.correlations:
        if corr.matches(values[corr.field]):
            weights[i] *= corr.factor
    count = min(int(_draw(pack.concern_count, rng)), sum(w != 0 for w in weights))
    total = float(np.array(weights).sum())  # numpy's summation order: the chances match it to the bit
    chosen = _choose([w / total for w in weights], count, rng)

    disclosure = plan.disclosure_cdf(traits.get("skepticism"))
    concerns = []
    for i in sorted(chosen):
        spec = pack.concerns[i]
        concerns.append(
            Concern(
                id=spec.id,
                label=spec.label,
                description=spec.description,
                severity=int(_draw(spec.severity, rng)),
                disclosure=DISCLOSURES[min(bisect.bisect(disclosure, rng.random()), 2)],
            )
        )
    return Persona(pack.name, index, background, traits, tuple(concerns))


def _choose(p: list[float], size: int, rng: np.random.Generator) -> list[int]:
    """``rng.choice(len(p), size, replace=False, p=p)`` to the bit, random stream included, in
    plain Python: numpy's algorithm (draw, drop repeats, zero what was found, draw again) without
    its per-call array overhead, which dominated drawing a user."""
    p, found = list(p), []
    while len(found) < size:
        draws = rng.random(size - len(found)).tolist()
        for i in found:
            p[i] = 0.0
        cdf = list(itertools.accumulate(p))
        cdf = [c / cdf[-1] for c in cdf]
        found.extend(dict.fromkeys(bisect.bisect(cdf, x) for x in draws))
    return found


class _Plan:
    """What drawing users of one pack needs, computed once per pack."""

    def __init__(self, pack: ScenarioPack):
        self.pack = pack
        self.base_weights = tuple(float(spec.base_weight) for spec in pack.concerns)
        self.correlations = tuple((corr, pack.concern_ids.index(corr.concern)) for corr in pack.correlations)
        self._disclosure: dict[str, list[float]] = {}

    def disclosure_cdf(self, skepticism: Any) -> list[float]:
        """Cumulative chances of open, guarded and deep for a user of this skepticism."""
        key = str(skepticism)
        cdf = self._disclosure.get(key)
        if cdf is None:
            shift = np.array(_SKEPTICISM_DISCLOSURE.get(key, (1.0, 1.0, 1.0)))
            weights = self.pack.disclosure
            p = np.array([weights.weights[weights.choices.index(d)] for d in DISCLOSURES])
            p = p * shift / (p * shift).sum()
            cdf = self._disclosure[key] = np.cumsum(p).tolist()
        return cdf


_PLANS: dict[int, _Plan] = {}


def _plan(pack: ScenarioPack) -> _Plan:
    plan = _PLANS.get(id(pack))
    if plan is None or plan.pack is not pack:
        if len(_PLANS) >= 32:
            _PLANS.pop(next(iter(_PLANS)))
        plan = _PLANS[id(pack)] = _Plan(pack)
    return plan


def _draw(dist: Distribution, rng: np.random.Generator) -> Any:
    return _pick(dist, rng.random())


def _pick(dist: Distribution, uniform: float) -> Any:
    # bisect on the cumulative weights: an order of magnitude cheaper than rng.choice(p=...).
    return dist.choices[min(bisect.bisect(dist.cumulative, uniform), len(dist.choices) - 1)]

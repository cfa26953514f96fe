"""``StateTransitionReward``: potential-based shaping from the simulator's state transitions."""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType
from gymnasium.utils import RecordConstructorArgs

from ptod_env.shaping import PotentialWeights, transition_reward

__all__ = ["StateTransitionReward"]


class StateTransitionReward(gym.Wrapper[ObsType, ActType, ObsType, ActType], RecordConstructorArgs):
    """Adds ``scale · (γ·Φ(after) − Φ(before))`` to each step's reward, from ``info["transition"]``.

    Φ is :func:`ptod_env.shaping.potential`: a weighted sum of the stage, the trust and the
    severity-weighted progress of the user's concerns (``weights``, see
    :class:`ptod_env.shaping.PotentialWeights`). It is the same number the STPR learner uses for
    turn-level credit. The shaping term of each step is also put in ``info["shaping"]``, so the
    env's own reward stays recoverable. Over an episode the terms telescope: with ``gamma=1`` they
    sum to ``scale · (Φ(last) − Φ(first))``, and with ``terminal_zero=True`` (Φ of an ended call is
    0, the form under which shaping leaves the optimal policy unchanged) to ``−scale · Φ(first)``
    for a call that ended inside the story.

    The env itself is unshaped (reward 1.0 on acceptance only); this wrapper is the opt-in.

    Example:
        >>> import gymnasium as gym
        >>> import ptod_env
        >>> from wrappers import StateTransitionReward
        >>> env = StateTransitionReward(gym.make("ProactiveSales-v0"), scale=1.0)
        >>> _ = env.reset(seed=0)
        >>> _, reward, *_, info = env.step("Hi, this is Alex from FeastFleet. What is holding you back?")
        >>> reward == info["shaping"]
        True
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        weights: PotentialWeights | None = None,
        scale: float = 1.0,
        gamma: float = 1.0,
        terminal_zero: bool = False,
    ):
        """Wrap an env whose ``info`` carries ``transition`` and ``concerns`` (every ProactiveSales id).

        Args:
            env: the env to wrap.
            weights: the weights of Φ's terms (default ``PotentialWeights()``).
            scale: multiplies the shaping term (finite, >= 0).
            gamma: the discount in ``γ·Φ(after) − Φ(before)``, in (0, 1]; use the learner's.
            terminal_zero: take Φ of an ended call (accepted, rejected, hung up) as 0.
        """
        weights = PotentialWeights() if weights is None else weights
        if not isinstance(weights, PotentialWeights):
            raise TypeError(f"weights must be a ptod_env.shaping.PotentialWeights, got {weights!r}")
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.0 <= scale < math.inf:
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be a number in (0, 1], got {gamma!r}")
        if not isinstance(terminal_zero, bool):
            raise TypeError(f"terminal_zero must be a bool, got {terminal_zero!r}")
        RecordConstructorArgs.__init__(self, weights=weights, scale=scale, gamma=gamma, terminal_zero=terminal_zero)
        gym.Wrapper.__init__(self, env)
        self.weights = weights
        self.scale = float(scale)
        self.gamma = float(gamma)
        self.terminal_zero = terminal_zero

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        shaping = self.scale * transition_reward(
            info["transition"], info["concerns"], self.weights, self.gamma, self.terminal_zero
        )
        info["shaping"] = shaping
        return obs, float(reward) + shaping, terminated, truncated, info

"""One config dataclass per learner. Every field is documented and checked in ``__post_init__``.

Shared settings are base classes: :class:`TrainConfig` (every learner), :class:`SamplingConfig`
(learners that sample groups), :class:`PolicyGradientConfig` (the clipped PG loss) and
:class:`OnPolicyConfig` (whole dialogues in the simulator). The learners' own configs add what
they need: :class:`GRPOConfig` the outcome policy gradient, :class:`STPRConfig` turn-level credit
from state transitions, :class:`AOPDConfig` the privileged self-distillation,
:class:`SIAVPOConfig` both STPR and AOPD; the offline :class:`SFTConfig` and
:class:`LearnToAskConfig` read recorded dialogues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ptod_agents.prompts import TEACHER_CONCERNS, VIEWS
from ptod_env.agents import AGENTS
from ptod_env.persona import SPLITS
from ptod_env.scenario import shipped_scenarios
from ptod_env.shaping import PotentialWeights

DIVERGENCES = ("reverse_kl", "forward_kl", "jsd", "sampled_token")
"""Token divergences of :func:`ptod_agents.losses.distillation_loss`."""
TEACHERS = ("live", "frozen", "ema")
STPR_VARIANTS = ("additive", "sign")
STPR_CREDITS = ("turn_baseline", "turn_reward", "return_to_go")


def _positive(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or not math.isfinite(value):
            raise ValueError(f"{type(config).__name__}.{name} must be a positive finite number, got {value!r}")


def _non_negative(config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or not math.isfinite(value):
            raise ValueError(f"{type(config).__name__}.{name} must be a finite number >= 0, got {value!r}")


def _ints(config: object, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{type(config).__name__}.{name} must be an int >= {minimum}, got {value!r}")


def _choice(config: object, name: str, options: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if value not in options:
        raise ValueError(f"{type(config).__name__}.{name} must be one of {options}, got {value!r}")


@dataclass
class TrainConfig:
    """Settings every learner shares."""

    updates: int = 20
    """Optimizer updates to run (on-policy: one rollout batch each; offline: one minibatch each)."""
    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip per update."""
    domain: str = "merchant_recruitment"
    """Scenario pack to train on."""
    history_turns: int = 2
    """Agent/user exchanges kept in prompts (0 keeps the whole transcript); see ``ptod_agents.prompts``."""
    max_new_tokens: int = 40
    """Longest utterance, in tokens, the policy may produce per turn."""
    eval_episodes: int = 48
    """Test-split users evaluated (one sample each, student view) into ``eval.json`` at the end; 0 skips."""
    save_every: int = 1
    """Write a resumable checkpoint every this many updates."""

    def __post_init__(self) -> None:
        _ints(self, 1, "updates", "max_new_tokens", "save_every")
        _ints(self, 0, "history_turns", "eval_episodes")
        _positive(self, "lr", "max_grad_norm")
        _non_negative(self, "weight_decay")
        _choice(self, "domain", shipped_scenarios())


@dataclass
class SamplingConfig(TrainConfig):
    """Settings of the learners that sample groups of utterances from the policy."""

    group_size: int = 6
    """Samples per context: episodes per user (on-policy learners) or utterances per logged turn
    (Learn-to-Ask); the GRPO group G."""
    temperature: float = 1.0
    """Sampling temperature."""
    minibatch_turns: int = 64
    """Agent turns per gradient step; an update takes as many steps as its turns need."""
    epochs: int = 1
    """Passes over each sampled batch."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _ints(self, 1, "group_size", "minibatch_turns", "epochs")
        _positive(self, "temperature")


@dataclass
class PolicyGradientConfig(SamplingConfig):
    """The clipped policy-gradient loss with group-normalized advantages."""

    clip: float = 0.2
    """PPO ratio clip ε."""
    kl_coef: float = 0.0
    """Weight of the k3 KL to the initial policy (0 disables it and skips the reference forward)."""
    advantage_eps: float = 1e-6
    """ε in the group normalization (R − mean) / (std + ε)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self, "clip", "advantage_eps")
        _non_negative(self, "kl_coef")


@dataclass
class OnPolicyConfig(SamplingConfig):
    """Settings of the learners that play whole dialogues in the simulator."""

    users_per_update: int = 4
    """Training users (groups) per update; each is played ``group_size`` times with one env seed."""
    split: str = "train"
    """Users to train on; evaluation always uses ``test``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _ints(self, 1, "users_per_update")
        _choice(self, "split", SPLITS)


@dataclass
class GRPOConfig(OnPolicyConfig, PolicyGradientConfig):
    """GRPO: A_i = (R_i − mean_G R) / (std_G R + ε) on every token of episode i, clipped ratio."""


@dataclass
class STPRConfig(GRPOConfig):
    """STPR: GRPO whose per-turn advantage is refined by the simulator's state transitions.

    Turn reward r_k = Φ(s_k) − Φ(s_{k−1}) with Φ from :func:`ptod_env.shaping.potential`.
    ``additive``: A_{i,k} = A^E_i + λ·Â^T_{i,k}; ``sign``: A_{i,k} = |A^E_i|·sign(r_k) where r_k ≠ 0.
    """

    variant: str = "additive"
    """``additive`` or ``sign`` (see the class docstring)."""
    lam: float = 0.5
    """λ, the weight of the normalized turn-level term (``additive`` only)."""
    credit: str = "turn_baseline"
    """What the additive term credits (:func:`ptod_agents.losses.stpr_additive`): ``turn_baseline``
    (r_k minus the group's mean r at the same turn index; default), ``turn_reward`` (r_k) or
    ``return_to_go`` (Σ_{j≥k} r_j); the last two are mostly turn position (docs/RESULTS.md)."""
    potential: PotentialWeights = field(default_factory=PotentialWeights)
    """Weights of Φ's stage, trust and concern-progress terms."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "variant", STPR_VARIANTS)
        _choice(self, "credit", STPR_CREDITS)
        _non_negative(self, "lam")
        if not isinstance(self.potential, PotentialWeights):
            raise ValueError(f"STPRConfig.potential must be a PotentialWeights, got {self.potential!r}")


@dataclass
class AOPDConfig(OnPolicyConfig):
    """AOPD: the student samples on-policy; the teacher (same network, privileged prompt) scores
    the student's tokens without gradient; loss D(p_S(·|x_S, y_<n) ‖ sg p_T(·|x_T, y_<n))."""

    divergence: str = "reverse_kl"
    """``reverse_kl``, ``forward_kl``, ``jsd`` or ``sampled_token``."""
    jsd_alpha: float = 0.5
    """α of the generalized JSD (``divergence="jsd"``)."""
    teacher: str = "frozen"
    """``frozen`` (the initial weights; default, chosen on figures: docs/RESULTS.md), ``ema``
    (a moving average of the student's weights) or ``live`` (the current weights: the student
    view and the teacher view then collapse together, docs/learners.md)."""
    ema_decay: float = 0.9
    """Per-update decay of the EMA teacher (``teacher="ema"``)."""
    teacher_concerns: str = "true"
    """``true``, or ``shuffled`` for the ablation: the teacher prompt lists random concerns."""
    distill_weight: float = 1.0
    """Weight of the distillation loss."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(self, "divergence", DIVERGENCES)
        _choice(self, "teacher", TEACHERS)
        _choice(self, "teacher_concerns", TEACHER_CONCERNS)
        if not 0.0 <= self.jsd_alpha <= 1.0:
            raise ValueError(f"AOPDConfig.jsd_alpha must be in [0, 1], got {self.jsd_alpha!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"AOPDConfig.ema_decay must be in [0, 1), got {self.ema_decay!r}")
        _positive(self, "distill_weight")


@dataclass
class SIAVPOConfig(STPRConfig, AOPDConfig):
    """SI-AVPO: the STPR policy-gradient loss plus ``distill_weight`` × the AOPD loss."""


@dataclass
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on recorded dialogues (``ptod_env.records`` JSONL).

    Without ``data`` it imitates reference agents, ``base_episodes`` dialogues of each entry of
    ``demonstrators``; the default builds the conservative base policy: passive dialogues trained
    in the student view and oracle dialogues in the teacher view.
    """

    data: tuple[str, ...] = ()
    """``FILE.jsonl:VIEW`` entries (VIEW is ``student`` or ``teacher``); empty: ``demonstrators``."""
    demonstrators: tuple[str, ...] = ("passive:student", "oracle:teacher")
    """``AGENT:VIEW`` entries: reference agents recorded (LM) or played live (act policy) when
    ``data`` is empty, each trained in its view."""
    base_episodes: int = 150
    """Dialogues per demonstrator."""
    batch_size: int = 32
    """Agent turns per gradient step."""
    lr: float = 2e-3
    """AdamW learning rate (higher than the RL learners': SFT starts from random weights)."""
    updates: int = 120
    """Gradient steps of ``batch_size`` turns."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for entry in self.data:
            _, sep, view = entry.rpartition(":")
            if not sep or view not in VIEWS:
                raise ValueError(f"SFTConfig.data entries must look like FILE.jsonl:student or :teacher, got {entry!r}")
        for entry in self.demonstrators:
            agent, _, view = entry.partition(":")
            if agent not in AGENTS or view not in VIEWS:
                raise ValueError(
                    f"SFTConfig.demonstrators entries must look like AGENT:VIEW with AGENT one of {sorted(AGENTS)}"
                    f" and VIEW one of {VIEWS}, got {entry!r}"
                )
        _ints(self, 1, "base_episodes", "batch_size")


@dataclass
class LearnToAskConfig(PolicyGradientConfig):
    """Learn-to-Ask: offline, single-turn GRPO on logged dialogues with rewards from the observed
    future. Each logged agent turn is a context; the policy samples ``group_size`` utterances for
    it, graded by the simulator's understanding backend:

        reward = macro × (1 + micro_weight · micro) + format_weight · format

    macro: the utterance closes exactly when the logged agent closed (continue/close decision);
    micro: it probes or addresses a concern the user reveals later in the log; format: it ends
    with the end-of-turn token and is understood as something other than unintelligible.
    """

    data: str = ""
    """Recorded dialogues (JSONL); empty: record ``log_episodes`` dialogues of ``log_agent``."""
    log_agent: str = "proactive"
    """Reference agent whose dialogues form the offline log when ``data`` is empty."""
    log_episodes: int = 150
    """Dialogues recorded when ``data`` is empty."""
    contexts_per_update: int = 8
    """Logged agent turns per update (each sampled ``group_size`` times)."""
    micro_weight: float = 2.0
    """Weight of the micro (question-targets-the-future) term."""
    format_weight: float = 0.1
    """Weight of the format term."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _non_negative(self, "micro_weight", "format_weight")
        _ints(self, 1, "log_episodes", "contexts_per_update")


CONFIGS: dict[str, type[TrainConfig]] = {
    "grpo": GRPOConfig,
    "aopd": AOPDConfig,
    "stpr": STPRConfig,
    "siavpo": SIAVPOConfig,
    "sft": SFTConfig,
    "learn2ask": LearnToAskConfig,
}
"""``--algo`` name → config class."""


def config_fields(config_class: type[TrainConfig]) -> list[str]:
    """Names of a config's fields (what ``--set NAME=VALUE`` may change)."""
    return [f.name for f in fields(config_class)]

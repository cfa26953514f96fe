"""The asymmetric-view experiment at act level: every learner from the same conservative base,
evaluated on the same test users with the same env seeds, with intervals over users and seeds.

``benchmarks/asymmetric_acts.py`` prints its rows; ``ptod_agents.demo`` runs a small version.
One *seed* is one independent replicate: its own base (behaviour cloning on passive calls in the
student view and oracle calls in the teacher view), its own training runs and its own sampling
at evaluation. The test users are split between the seeds: seed ``s`` evaluates its own slice of
``users_per_seed`` users (test persona ``i`` with env seed ``i``), the same slice for every method,
so methods are compared user by user and the seeds together cover ``seeds × users_per_seed``
distinct users.

Intervals are nested (two-stage) bootstrap percentiles: seeds are resampled, then users within
each drawn seed, and the mean is recomputed (2,000 draws), so both training randomness and the
finite set of users widen the interval. Paired comparisons resample the per-(seed, user)
differences the same way.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ptod_agents.acts import ActPolicy
from ptod_agents.config import (
    STPR_CREDITS,
    AOPDConfig,
    GRPOConfig,
    LearnToAskConfig,
    OnPolicyConfig,
    SFTConfig,
    SIAVPOConfig,
    STPRConfig,
    TrainConfig,
)
from ptod_agents.evaluate import PASS_AT, pass_at_k
from ptod_agents.losses import group_normalized, stpr_additive
from ptod_agents.rollout import Start, make_envs, play
from ptod_agents.scoring import groups_of, turn_rewards
from ptod_agents.train import make_learner
from ptod_env.evaluation import episode_options
from ptod_env.persona import TEST_USERS

DOMAIN = "merchant_recruitment"


@dataclass(frozen=True)
class Budget:
    """How much every replicate trains and evaluates.

    Attributes:
        base_episodes: passive and oracle calls each, for the behaviour-cloned base.
        base_updates: behaviour-cloning steps of ``base_batch`` turns.
        updates: updates of every on-policy learner (``users`` × ``group_size`` calls each).
        users: training users per update.
        group_size: calls per training user (the group).
        lr: learning rate of the on-policy learners and Learn-to-Ask.
        users_per_seed: test users each seed evaluates every method on (its own slice).
        pass_users: users per seed the base's pass@k is measured on (``max(PASS_AT)`` attempts each).
        curve_users: users per seed of each learning-curve point.
        curve_points: learning-curve points (evenly spaced, 0 and ``updates`` included).
        ppo_timesteps: environment steps of the stable-baselines3 PPO anchors.
    """

    base_episodes: int = 300
    base_updates: int = 1500
    base_batch: int = 64
    updates: int = 80
    users: int = 8
    group_size: int = 6
    lr: float = 1e-3
    users_per_seed: int = 200
    pass_users: int = 60
    curve_users: int = 100
    curve_points: int = 3
    ppo_timesteps: int = 8_000

    @property
    def training_calls(self) -> int:
        return self.updates * self.users * self.group_size


FULL = Budget()
QUICK = Budget(
    base_episodes=100,
    base_updates=600,
    updates=15,
    users_per_seed=150,
    pass_users=40,
    curve_users=60,
    curve_points=3,
    ppo_timesteps=3_000,
)


@dataclass(frozen=True)
class Method:
    """One row of the experiment: a learner and its settings (``algo`` None: the base itself;
    ``"ppo"``: the stable-baselines3 anchor; ``"bc"``: behaviour cloning of other demonstrators,
    a diagnostic of the imitation gap)."""

    name: str
    algo: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    view: str = "student"


METHODS = (
    Method("base", None),
    Method("base (teacher view)", None, view="teacher"),
    Method("GRPO", "grpo"),
    Method("STPR", "stpr"),
    Method("AOPD", "aopd"),
    Method("AOPD (EMA teacher)", "aopd", {"teacher": "ema"}),
    Method("AOPD (live teacher)", "aopd", {"teacher": "live"}),
    Method("SI-AVPO", "siavpo"),
    Method("SI-AVPO (shuffled concerns)", "siavpo", {"teacher_concerns": "shuffled"}),
    Method("Learn-to-Ask", "learn2ask"),
    Method("imitation: oracle, student view", "bc", {"demonstrators": ("oracle:student",)}),
    Method("imitation: proactive, student view", "bc", {"demonstrators": ("proactive:student",)}),
    Method("PPO (student view)", "ppo"),
    Method("PPO (teacher view)", "ppo", view="teacher"),
)
"""Every row of ``benchmarks/asymmetric_acts.py``."""


def bootstrap_ci(values: np.ndarray, rng: np.random.Generator, draws: int = 2000) -> tuple[float, float]:
    """95% nested bootstrap interval of the mean of ``values`` (S seeds × N users of each seed):
    seeds are resampled, then N users within each drawn seed."""
    values = np.asarray(values, dtype=float)
    seeds, users = values.shape
    rows = rng.integers(seeds, size=(draws, seeds, 1))
    cols = rng.integers(users, size=(draws, seeds, users))
    means = values[rows, cols].mean(axis=(1, 2))
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summary(values: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Mean, 95% interval, users and seeds of an S × N matrix of per-user figures."""
    low, high = bootstrap_ci(values, rng)
    return {
        "success": round(float(np.mean(values)), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "users": values.size,
        "seeds": values.shape[0],
    }


def paired(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """The paired difference ``a − b`` (same seeds, users and env seeds) with its 95% interval;
    ``resolved`` when the interval excludes 0."""
    low, high = bootstrap_ci(np.asarray(a, float) - np.asarray(b, float), rng)
    return {
        "difference": round(float(np.mean(a) - np.mean(b)), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "resolved": bool(low > 0 or high < 0),
    }


VALIDATION_USERS = TEST_USERS + 10**9
"""Training-split persona index of validation user 0: settings are chosen on these users, never on
the test split (training draws indices at random from two billion, so these are unseen)."""


def user_options(users: str, i: int) -> dict[str, int]:
    """Reset options of user ``i`` of ``users`` ("test" or "validation")."""
    if users == "test":
        return episode_options("test", i)
    if users == "validation":
        return {"persona_index": VALIDATION_USERS + i}
    raise ValueError(f"users must be 'test' or 'validation', got {users!r}")


def user_outcomes(
    policy: ActPolicy,
    users: int,
    *,
    first: int = 0,
    view: str = "student",
    attempts: int = 1,
    seed: int = 0,
    split: str = "test",
    batch: int = 512,
) -> np.ndarray:
    """(users, attempts) successes: users ``first .. first+users-1`` of ``split`` ("test" or
    "validation"), user ``i`` played ``attempts`` times with env seed ``i``, sampling at
    temperature 1 (torch's generator seeded with ``seed`` first)."""
    torch.manual_seed(seed)
    starts = [Start(first + i, user_options(split, first + i), i) for i in range(users) for _ in range(attempts)]
    envs = make_envs(policy, min(batch, len(starts)), DOMAIN, "test" if split == "test" else "train")
    wins = np.zeros((users, attempts))
    taken = np.zeros(users, dtype=int)
    for first in range(0, len(starts), batch):
        played = play(policy, envs, starts[first : first + batch], view=view)
        for episode in played:
            wins[episode.group, taken[episode.group]] = episode.record["outcome"] == "accepted"
            taken[episode.group] += 1
    for env in envs:
        env.close()
    return wins


def pass_at_curve(wins: np.ndarray) -> np.ndarray:
    """(users, len(PASS_AT)) unbiased pass@k of each user from a (users, attempts) success matrix."""
    attempts = wins.shape[1]
    counts = wins.sum(axis=1).astype(int)
    return np.array([[pass_at_k(attempts, int(c), k) for k in PASS_AT if k <= attempts] for c in counts])


def behaviour_cloned_base(
    budget: Budget, seed: int, demonstrators: tuple[str, ...] = SFTConfig.demonstrators
) -> ActPolicy:
    """The conservative base: behaviour cloning on passive calls (student view) and oracle calls
    (teacher view), one network; other ``demonstrators`` (``AGENT:VIEW``) clone other agents."""
    torch.manual_seed(seed)
    policy = ActPolicy(DOMAIN, seed=seed)
    config = SFTConfig(
        updates=budget.base_updates,
        batch_size=budget.base_batch,
        lr=3e-3,
        base_episodes=budget.base_episodes,
        demonstrators=demonstrators,
        eval_episodes=0,
    )
    learner = make_learner(policy, config, np.random.default_rng(seed), workdir=None)
    for update in range(config.updates):
        learner.step(update)
    return policy


def learner_config(method: Method, budget: Budget) -> TrainConfig:
    """The config of ``method`` under ``budget`` (every other field at its default)."""
    common = {"updates": budget.updates, "lr": budget.lr, "eval_episodes": 0, "domain": DOMAIN}
    if method.algo == "learn2ask":
        # The same number of graded samples as an on-policy learner sees turns, roughly.
        return LearnToAskConfig(**common, contexts_per_update=budget.users * 6, group_size=budget.group_size)
    classes: dict[str, type[OnPolicyConfig]] = {
        "grpo": GRPOConfig,
        "stpr": STPRConfig,
        "aopd": AOPDConfig,
        "siavpo": SIAVPOConfig,
    }
    return classes[method.algo](
        **common, users_per_update=budget.users, group_size=budget.group_size, minibatch_turns=128, **method.settings
    )


def train_method(
    method: Method, base: ActPolicy, budget: Budget, seed: int, curve: Callable[[ActPolicy], float] | None = None
) -> tuple[ActPolicy, list[tuple[int, float]]]:
    """Train a copy of ``base`` with ``method``; ``curve`` (if given) is measured at the budget's
    curve points and returned as (training calls, value) pairs."""
    policy = ActPolicy(DOMAIN, base.hidden)
    policy.model.load_state_dict(base.model.state_dict())
    torch.manual_seed(seed)
    config = learner_config(method, budget)
    learner = make_learner(policy, config, np.random.default_rng(seed), workdir=None)
    marks = {round(budget.updates * j / (budget.curve_points - 1)) for j in range(budget.curve_points)}
    calls_per_update = budget.users * budget.group_size
    points = []
    for update in range(budget.updates + 1):
        if curve is not None and update in marks:
            points.append((update * calls_per_update, curve(policy)))
        if update < budget.updates:
            learner.step(update)
    return policy, points


def ppo_anchor(view: str, budget: Budget, seed: int) -> Callable[[int, int], np.ndarray]:
    """stable-baselines3 PPO on ``DialogueActs`` (``view="teacher"``: with the privileged
    features), trained as ``examples/sb3_ppo.py`` does (shaped reward, training users); returns a
    function ``(first, users, seed, split) → successes`` sampling its policy on users
    ``first .. first+users-1`` of ``split``."""
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from ptod_env.evaluation import env_id_for
    from wrappers import DialogueActs, StateTransitionReward

    privileged = view == "teacher"

    def shaped() -> gym.Env:
        env = StateTransitionReward(gym.make(env_id_for(DOMAIN), split="train"), scale=3.0, gamma=0.95)
        return DialogueActs(env, privileged=privileged)

    model = PPO(
        "MlpPolicy",
        make_vec_env(shaped, n_envs=8, seed=seed),
        learning_rate=1e-3,
        n_steps=64,
        batch_size=128,
        n_epochs=10,
        gamma=0.95,
        ent_coef=0.02,
        seed=seed,
        device="cpu",
    )
    model.learn(total_timesteps=budget.ppo_timesteps)

    def outcomes(first: int, users: int, eval_seed: int, split: str) -> np.ndarray:
        model.set_random_seed(eval_seed)
        env_split = "test" if split == "test" else "train"
        env = DialogueActs(gym.make(env_id_for(DOMAIN), split=env_split), privileged=privileged)
        wins = np.zeros(users)
        for i in range(users):
            obs, _ = env.reset(seed=first + i, options=user_options(split, first + i))
            done, info = False, {}
            while not done:
                action, _ = model.predict(obs, deterministic=False)
                obs, _, terminated, truncated, info = env.step(int(action))
                done = terminated or truncated
            wins[i] = info["outcome"] == "accepted"
        env.close()
        return wins

    return outcomes


def turn_index_correlation(policy: ActPolicy, config: STPRConfig, seed: int, users: int = 32) -> dict[str, Any]:
    """How much of STPR's turn advantage is turn position: on ``users`` training users × the
    config's group, the Pearson correlation of each turn's advantage with its turn index, the
    share of variance it explains, and the mean advantage per turn index."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    envs = make_envs(policy, users * config.group_size, DOMAIN, "train")
    starts = []
    for group in range(users):
        env_seed = int(rng.integers(2**31))
        starts += [Start(env_seed, None, group)] * config.group_size
    episodes = play(policy, envs, starts)
    advantages, positions = [], []
    for group in groups_of(episodes).values():
        outcome = group_normalized(torch.tensor([e.reward for e in group]), config.advantage_eps)
        rewards, mask = turn_rewards(group, config)
        per_turn = stpr_additive(outcome, rewards, mask, config.lam, config.advantage_eps, config.credit)
        transition_part = per_turn - outcome[:, None] * mask
        for i, episode in enumerate(group):
            advantages += transition_part[i, : len(episode.turns)].tolist()
            positions += list(range(len(episode.turns)))
    advantages, positions = np.array(advantages), np.array(positions)
    r = float(np.corrcoef(advantages, positions)[0, 1]) if advantages.std() > 0 else 0.0
    by_turn = {int(k): round(float(advantages[positions == k].mean()), 3) for k in np.unique(positions)}
    return {"credit": config.credit, "corr_turn_index": round(r, 3), "r2": round(r * r, 3), "mean_by_turn": by_turn}


def run_replicate(
    seed: int, budget: Budget, methods: Sequence[Method], log: Callable[[str], None], split: str = "test"
) -> dict[str, Any]:
    """One seed: the base, every method from it, their outcomes on ``split``'s users ("test", or
    "validation" to choose settings), learning curves, the base's pass@k in both views and STPR's
    turn-index diagnostics."""
    first = seed * budget.users_per_seed  # this seed's slice of the users
    tick = time.perf_counter()
    base = behaviour_cloned_base(budget, seed)
    log(f"seed {seed}: base in {time.perf_counter() - tick:.0f} s")
    result: dict[str, Any] = {"outcomes": {}, "teacher_view": {}, "curves": {}, "pass_at": {}, "seconds": {}}
    for view in ("student", "teacher"):
        wins = user_outcomes(
            base, budget.pass_users, first=first, view=view, attempts=max(PASS_AT), seed=seed, split=split
        )
        result["pass_at"][view] = pass_at_curve(wins)
    result["stpr_turn_index"] = [
        turn_index_correlation(base, STPRConfig(credit=credit), seed) for credit in STPR_CREDITS
    ]

    def curve(policy: ActPolicy) -> np.ndarray:
        return user_outcomes(policy, budget.curve_users, first=first, seed=seed + 7919, split=split)[:, 0]

    for method in methods:
        tick = time.perf_counter()
        if method.algo is None:
            trained = base
        elif method.algo == "bc":
            # The imitation gap: how well the student view can do by copying an agent's acts.
            trained = behaviour_cloned_base(budget, seed, method.settings["demonstrators"])
        elif method.algo == "ppo":
            outcomes = ppo_anchor(method.view, budget, seed)
            result["outcomes"][method.name] = outcomes(first, budget.users_per_seed, seed, split)
            result["seconds"][method.name] = time.perf_counter() - tick
            log(f"seed {seed}: {method.name} in {result['seconds'][method.name]:.0f} s")
            continue
        else:
            with_curve = method.algo != "learn2ask"
            trained, points = train_method(method, base, budget, seed, curve if with_curve else None)
            result["curves"][method.name] = points
        view = "student" if method.algo is not None else method.view
        result["outcomes"][method.name] = user_outcomes(
            trained, budget.users_per_seed, first=first, view=view, seed=seed + 1, split=split
        )[:, 0]
        if method.algo in ("aopd", "siavpo", "stpr"):
            # Does training on student-view calls degrade what the teacher view knew?
            result["teacher_view"][method.name] = user_outcomes(
                trained, budget.users_per_seed, first=first, view="teacher", seed=seed + 2, split=split
            )[:, 0]
        result["seconds"][method.name] = time.perf_counter() - tick
        log(f"seed {seed}: {method.name} in {result['seconds'][method.name]:.0f} s")
    return result


def _replicate_job(job: tuple) -> dict[str, Any]:
    seed, budget, methods, split = job
    torch.set_num_threads(1)  # the network is tiny; processes, not threads, use the cores
    return run_replicate(seed, budget, methods, lambda line: print(line, file=sys.stderr, flush=True), split)


def run_experiment(
    seeds: int, budget: Budget, methods: Sequence[Method], workers: int = 2, split: str = "test"
) -> list[dict[str, Any]]:
    """:func:`run_replicate` for seeds ``0 .. seeds-1`` in ``workers`` processes (progress on stderr)."""
    if not any(m.name == "base" for m in methods):
        raise ValueError("the experiment needs the 'base' method (every comparison is paired with it)")
    jobs = [(seed, budget, list(methods), split) for seed in range(seeds)]
    if workers <= 1:
        return [_replicate_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_replicate_job, jobs))


def report(replicates: Sequence[dict[str, Any]], methods: Sequence[Method], budget: Budget) -> list[dict[str, Any]]:
    """The experiment's JSON rows: one per method, the base's pass@k per view, the teacher view
    after training, paired comparisons, STPR's turn-index diagnostics."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    stacked = {m.name: np.stack([r["outcomes"][m.name] for r in replicates]) for m in methods}
    for method in methods:
        row = {"method": method.name, **summary(stacked[method.name], rng)}
        if method.algo not in (None, "ppo", "bc"):
            row["training_calls"] = budget.training_calls if method.algo != "learn2ask" else 0
        if method.name != "base":
            row["vs_base"] = paired(stacked[method.name], stacked["base"], rng)
        row["seconds_per_seed"] = round(float(np.mean([r["seconds"][method.name] for r in replicates])), 1)
        rows.append(row)
    for view in ("student", "teacher"):
        per_k = np.stack([r["pass_at"][view] for r in replicates])  # S × users × K
        ks = PASS_AT[: per_k.shape[2]]
        rows.append(
            {
                "method": "base",
                "view": view,
                "attempts": max(PASS_AT),
                "users": per_k.shape[0] * per_k.shape[1],
                "pass@k": {f"pass@{k}": round(float(per_k[:, :, j].mean()), 4) for j, k in enumerate(ks)},
                "ci95": {
                    f"pass@{k}": [round(x, 4) for x in bootstrap_ci(per_k[:, :, j], rng)] for j, k in enumerate(ks)
                },
            }
        )
    teacher_names = replicates[0]["teacher_view"].keys()
    for name in teacher_names:
        after = np.stack([r["teacher_view"][name] for r in replicates])
        rows.append(
            {
                "method": name,
                "view": "teacher",
                **summary(after, rng),
                "vs_base_teacher_view": paired(after, stacked["base (teacher view)"], rng),
            }
        )
    for a, b in (
        ("SI-AVPO", "GRPO"),
        ("STPR", "GRPO"),
        ("AOPD", "base"),
        ("SI-AVPO", "SI-AVPO (shuffled concerns)"),
        ("AOPD", "AOPD (live teacher)"),
        ("AOPD", "AOPD (EMA teacher)"),
        ("SI-AVPO", "STPR"),
    ):
        if a in stacked and b in stacked:
            rows.append({"comparison": f"{a} - {b}", **paired(stacked[a], stacked[b], rng)})
    for credit in STPR_CREDITS:
        diag = [d for r in replicates for d in r["stpr_turn_index"] if d["credit"] == credit]
        rows.append(
            {
                "diagnostic": "stpr_turn_index",
                "credit": credit,
                "corr_turn_index": round(float(np.mean([d["corr_turn_index"] for d in diag])), 3),
                "r2": round(float(np.mean([d["r2"] for d in diag])), 3),
                "mean_by_turn_seed0": diag[0]["mean_by_turn"],
            }
        )
    return rows


def curve_bands(replicates: Sequence[dict[str, Any]], name: str, rng: np.random.Generator):
    """(calls, mean, low, high) of method ``name``'s learning curve over seeds and curve users."""
    points = [r["curves"][name] for r in replicates]
    calls = [c for c, _ in points[0]]
    means, lows, highs = [], [], []
    for j in range(len(calls)):
        matrix = np.stack([p[j][1] for p in points])
        low, high = bootstrap_ci(matrix, rng, draws=500)
        means.append(float(matrix.mean()))
        lows.append(low)
        highs.append(high)
    return calls, means, lows, highs


def draw_curves(ax, replicates: Sequence[dict[str, Any]], names: Sequence[str], base_rows=None) -> None:
    """Success against training calls with 95% bands for ``names`` on matplotlib axes ``ax``;
    dashed lines for ``base_rows`` (label → success)."""
    rng = np.random.default_rng(0)
    for name in names:
        calls, means, lows, highs = curve_bands(replicates, name, rng)
        (line,) = ax.plot(calls, means, marker="o", label=name)
        ax.fill_between(calls, lows, highs, color=line.get_color(), alpha=0.2)
    for label, value in (base_rows or {}).items():
        ax.axhline(value, linestyle="--", color="grey" if "teacher" in label else "black", linewidth=1)
        ax.text(0, value, f" {label}", va="bottom", fontsize=8)
    ax.set(xlabel="training calls", ylabel="success, student view", ylim=(0, 1))
    ax.legend(fontsize=8, loc="center right")


def draw_pass_at(ax, rows: Sequence[dict[str, Any]]) -> None:
    """The base's pass@k per view (``report``'s pass@k rows) with 95% bands on axes ``ax``."""
    for row in rows:
        ks = [int(key.split("@")[1]) for key in row["pass@k"]]
        lows = [row["ci95"][key][0] for key in row["pass@k"]]
        highs = [row["ci95"][key][1] for key in row["pass@k"]]
        (line,) = ax.plot(ks, list(row["pass@k"].values()), marker="o", label=f"base, {row['view']} view")
        ax.fill_between(ks, lows, highs, color=line.get_color(), alpha=0.2)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="k (attempts per user)", ylabel="pass@k (test users)", ylim=(0, 1))
    ax.legend()


def save_figure(path, panels: Sequence[tuple[str, Callable[[Any], None]]], width: float = 6.5) -> None:
    """One PNG with a panel per ``(title, draw)``; ``draw(ax)`` fills the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 4.3), squeeze=False)
    for ax, (title, draw) in zip(axes[0], panels, strict=True):
        draw(ax)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def budget_dict(budget: Budget) -> dict[str, Any]:
    return dataclasses.asdict(budget)

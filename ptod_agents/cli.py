"""``ptod train`` and ``ptod eval``. torch and transformers are imported inside the handlers, so
``ptod --help`` and ``ptod rollout`` stay fast."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing

from ptod_agents.config import CONFIGS, TrainConfig
from ptod_agents.presets import PRESETS
from ptod_agents.prompts import TEACHER_CONCERNS, VIEWS
from ptod_env.cli import add_env_arguments, add_workers_argument, format_table, positive_int
from ptod_env.understanding import DEFAULT_UNDERSTANDING
from wrappers.views import DEFAULT_SYSTEM_PROMPT


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval`` to the ``ptod`` command line."""
    train = subparsers.add_parser("train", help="train a policy (GRPO, AOPD, STPR, SI-AVPO, SFT, Learn-to-Ask)")
    train.add_argument("--algo", choices=sorted(CONFIGS), required=True)
    train.add_argument("--out", required=True, metavar="DIR", help="run directory (metrics, checkpoints, policy)")
    add_policy_kind_argument(train)
    train.add_argument("--preset", choices=sorted(PRESETS), default="tiny-cpu", help="model built when no --init")
    train.add_argument("--init", metavar="DIR", help="start from this run directory or model directory")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue DIR from its latest checkpoint")
    train.add_argument("--updates", type=positive_int, help="number of updates (config field 'updates')")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a config field, e.g. --set lam=1.0 --set teacher=ema (see ptod_agents/config.py)",
    )
    train.add_argument("--cache", metavar="DIR", help="preset cache (default: $PTOD_CACHE or ~/.cache/ptod)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=run_train)

    evaluate = subparsers.add_parser("eval", help="evaluate a trained policy, a chat model directory or a served model")
    evaluate.add_argument(
        "--policy",
        required=True,
        metavar="DIR|openai:MODEL",
        help="a ptod run/policy dir (LM or act policy), a HF chat model dir, or openai:MODEL served at --base-url",
    )
    evaluate.add_argument("--episodes", type=positive_int, default=48, help="users evaluated")
    evaluate.add_argument("--samples", type=positive_int, default=1, help="attempts per user (pass@k for k <= this)")
    add_env_arguments(evaluate)
    evaluate.add_argument("--view", choices=VIEWS, default="student")
    evaluate.add_argument(
        "--teacher-concerns", choices=TEACHER_CONCERNS, default="true", help="'shuffled': the random-concerns ablation"
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="user i uses env seed SEED+i; also seeds the policy's sampling"
    )
    evaluate.add_argument("--temperature", type=float, default=1.0)
    evaluate.add_argument("--history-turns", type=int, help="exchanges kept in prompts (default: as trained; 0 = all)")
    evaluate.add_argument("--max-new-tokens", type=positive_int, help="default: as trained, else 60")
    evaluate.add_argument("--understanding", default=DEFAULT_UNDERSTANDING, help="env understanding backend")
    evaluate.add_argument("--speech", default="template", help="env speech backend")
    evaluate.add_argument("--record", metavar="FILE.jsonl", help="write every episode")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_workers_argument(evaluate)
    served = evaluate.add_argument_group("served model (--policy openai:MODEL)")
    served.add_argument("--base-url", help="the OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1")
    served.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    served.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    served.add_argument("--retries", type=int, default=2, help="retries of a failed request (then the turn is silence)")
    served.add_argument("--concurrency", type=positive_int, default=8, help="requests in flight at once (per worker)")
    served.add_argument(
        "--system-prompt",
        default=DEFAULT_SYSTEM_PROMPT,
        help="system message before each view ('' for none, e.g. a model trained by ptod train)",
    )
    evaluate.set_defaults(run=run_eval)


def add_policy_kind_argument(parser: argparse.ArgumentParser) -> None:
    """``--policy lm|acts``: the kind of fresh policy ``ptod train`` builds when no ``--init``."""
    parser.add_argument(
        "--policy",
        choices=("lm", "acts"),
        default="lm",
        dest="policy_kind",
        help="lm: a language model (--preset) on the text env; acts: a small network over wrappers.DialogueActs",
    )


def parse_overrides(config_class: type[TrainConfig], pairs: list[str]) -> dict[str, typing.Any]:
    """``["lam=1.0", "teacher=ema"]`` → typed keyword arguments for ``config_class``."""
    hints = typing.get_type_hints(config_class)
    names = {f.name for f in dataclasses.fields(config_class)}
    values: dict[str, typing.Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in names:
            raise SystemExit(f"--set {pair!r}: expected FIELD=VALUE with FIELD one of {sorted(names)}")
        kind = hints[name]
        if kind is bool:
            values[name] = text.lower() in ("1", "true", "yes")
        elif kind in (int, float, str):
            values[name] = kind(text)
        elif kind == tuple[str, ...]:
            values[name] = tuple(part for part in text.split(",") if part)
        else:
            raise SystemExit(f"--set {name}: this field cannot be set from the command line")
    return values


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ptod_agents.train import train

    torch.set_num_threads(min(2, torch.get_num_threads()))
    config_class = CONFIGS[args.algo]
    overrides = parse_overrides(config_class, args.set)
    if args.updates:
        overrides["updates"] = args.updates
    try:
        config = config_class(**overrides)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    figures = train(
        args.algo,
        args.out,
        config=config,
        init=args.init,
        preset=args.preset,
        policy_kind=args.policy_kind,
        seed=args.seed,
        resume=args.resume,
        cache_dir=args.cache,
        progress=not args.quiet,
    )
    if figures:
        print(format_table([figures]))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from ptod_agents.evaluate import evaluate_policy
    from ptod_agents.served import ServedPolicy, is_served
    from ptod_agents.train import load_policy

    torch.set_num_threads(min(2, torch.get_num_threads()))
    if is_served(args.policy):
        try:
            policy = ServedPolicy.from_spec(
                args.policy,
                args.base_url,
                api_key_env=args.api_key_env,
                timeout=args.timeout,
                retries=args.retries,
                concurrency=args.concurrency,
                system_prompt=args.system_prompt,
            )
        except ValueError as exc:
            raise SystemExit(f"ptod eval: {exc}") from None
        meta = {"algo": args.policy}
    else:
        policy, meta = load_policy(args.policy)
    history = args.history_turns if args.history_turns is not None else meta.get("history_turns", 0)
    figures = evaluate_policy(
        policy,
        domain=args.domain,
        split=args.split,
        episodes=args.episodes,
        samples=args.samples,
        view=args.view,
        teacher_concerns=args.teacher_concerns,
        seed=args.seed,
        history_turns=history,
        max_new_tokens=args.max_new_tokens or meta.get("max_new_tokens", 60),
        temperature=args.temperature,
        env_kwargs={"understanding": args.understanding, "speech": args.speech},
        record=args.record,
        progress=not args.json,
        name=meta.get("algo", "policy"),
        workers=args.workers,
    )
    if args.json:
        print(json.dumps(figures))
    else:
        print(format_table([figures]))
        print("  ".join(f"{key} {value:.3f}" for key, value in figures.items() if key.startswith("pass@")))
        if "served" in figures:
            served, latency = figures["served"], figures["served"]["latency_per_turn_s"]
            print(
                f"served: {served['turns']} turns, latency per turn mean {latency['mean']}s p50 {latency['p50']}s "
                f"p95 {latency['p95']}s; {served['failed_turns']} failed turns, {served['retries']} retries, "
                f"{served['timeouts']} timeouts, {served['errors']} errors, {served['empty_replies']} empty replies"
            )
    return 0

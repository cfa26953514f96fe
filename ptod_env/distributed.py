"""Spreading users over Ray actors (``pip install -e ".[ray]"``): ``--workers N``.

The unit of work is a *chunk*: a list of user indices handed to a picklable *job*, a callable
``job(users) -> results`` that plays those users from their own seeds (user ``i`` always uses
env seed ``seed + i``). :func:`map_chunks` runs the chunks in this process (``workers=1``, no Ray
needed) or on ``workers`` Ray actors, each holding one copy of the job (its envs, agent or
policy are built once per actor and reused), and yields the results chunk by chunk in
submission order. Because a user's episode depends only on its own seed and chunk, the results
are the same for any number of workers.

Ray is started on first use: ``ray.init()`` joins the cluster named by ``RAY_ADDRESS`` or one
started with ``ray start`` on this machine, else starts a local one. For several machines:
``ray start --head`` on one, ``ray start --address=HEAD_IP:6379`` on the others (the same
Python environment with ptod installed on each), then run the same ``ptod`` command on the head
node. Actors are spread over the nodes (``SPREAD``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Job = Callable[[list[int]], list[Any]]


def user_chunks(users: int, size: int) -> list[list[int]]:
    """``range(users)`` cut into consecutive chunks of at most ``size`` indices."""
    if users < 0 or size < 1:
        raise ValueError(f"need users >= 0 and size >= 1, got users={users} size={size}")
    return [list(range(first, min(first + size, users))) for first in range(0, users, size)]


def balanced_chunk_size(users: int, workers: int, most: int = 50) -> int:
    """A chunk size giving each worker about four chunks (so a slow chunk does not hold the
    others back), at most ``most`` users."""
    return max(1, min(most, math.ceil(users / (4 * workers))))


def check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    return workers


class _Worker:
    """A Ray actor holding one copy of a job."""

    def __init__(self, job: Job):
        self.job = job

    def run(self, users: list[int]) -> list[Any]:
        return self.job(users)


def map_chunks(job: Job, chunks: Sequence[Sequence[int]], workers: int = 1) -> Iterator[list[Any]]:
    """Yield ``job(chunk)`` for every chunk, in order: here when ``workers == 1``, else on
    ``workers`` Ray actors (at most one per chunk)."""
    check_workers(workers)
    if workers == 1:
        for chunk in chunks:
            yield job(list(chunk))
        return
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise ImportError(f"--workers {workers} needs Ray: pip install -e '.[ray]' (or use --workers 1)") from exc
    if not ray.is_initialized():
        ray.init(logging_level=logging.WARNING, include_dashboard=False)
    remote = ray.remote(_Worker).options(scheduling_strategy="SPREAD")
    actors = [remote.remote(job) for _ in range(min(workers, len(chunks)))]
    try:
        pool = ActorPool(actors)
        yield from pool.map(lambda actor, chunk: actor.run.remote(list(chunk)), list(chunks))
    finally:
        for actor in actors:
            ray.kill(actor)

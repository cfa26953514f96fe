"""Persona sampling: the concern draw is numpy's choice without replacement, to the bit."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ptod_env.persona import _choose

WEIGHTS = st.lists(st.one_of(st.just(0.0), st.floats(0.01, 10.0)), min_size=1, max_size=14).filter(any)


@settings(max_examples=300, deadline=None)
@given(weights=WEIGHTS, size=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_choose_draws_what_numpy_choice_draws(weights, size, seed):
    size = min(size, sum(w > 0 for w in weights))
    p = np.array(weights) / np.array(weights).sum()
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    assert _choose(p.tolist(), size, ours) == numpys.choice(len(p), size=size, replace=False, p=p).tolist()
    assert ours.random() == numpys.random()  # the same numbers consumed from the stream

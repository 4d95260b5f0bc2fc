"""Deterministic generator of the small sample corpora shipped in ``data/samples``.

Licence of the generated data: every text in the sample files is written by the csmpt
authors (hand-written phrase banks in :mod:`sample_corpora` combined by this generator);
nothing is copied from the web, Wikipedia or any existing data set.  The generated samples
are dedicated to the public domain under CC0-1.0 (the code itself is under the project's
Apache-2.0 licence).

Files written by :func:`write_samples`:

``cs_web.jsonl``
    Stand-in for curated Czech web text: news, encyclopedic entries, municipal notices,
    trips, local history and how-to guides.
``cs_crawl.jsonl``
    Stand-in for a broader, informal crawl: forum threads, reviews, recipes, classified ads
    and blogs, plus a few inappropriate documents (sources ``spam`` and ``toxic``) and a few
    odd but valid records (emoji, no-break spaces, one very long line).
``cs_crawl_clean.jsonl``
    ``cs_crawl.jsonl`` without the inappropriate documents (same order, same records).
``en_web/doc_NNNN.txt``
    English web-like documents, one per file.
``cs_hellaswag.jsonl``
    CS-HellaSwag style items ``{"query", "choices", "gold"}`` built from the same activity
    scripts that appear in the corpora.
``filter_train.jsonl``
    Labelled snippets ``{"text", "label"}`` (1 = inappropriate) for training a text filter;
    none of them equals a document of ``cs_crawl.jsonl``.

The output only depends on ``seed``: every part uses its own :class:`random.Random` seeded
with a string derived from it, JSON is written with sorted keys and Unix line endings.
"""

from __future__ import annotations

import json
import logging
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import docs_cs_crawl as csc
from . import docs_cs_web as csw
from . import docs_en as en
from .phrases_cs_activities import ACTIVITIES, Activity
from .phrases_cs_common import CONNECTORS, FINAL_CONNECTOR

__all__ = [
    "INAPPROPRIATE_SOURCES",
    "MAX_DOC_CHARS",
    "MIN_DOC_CHARS",
    "build_cs_crawl",
    "build_cs_hellaswag",
    "build_cs_web",
    "build_en_web",
    "build_filter_train",
    "write_samples",
]

logger = logging.getLogger(__name__)

#: Inclusive bounds on the length (in characters) of every corpus document.
MIN_DOC_CHARS = 300
MAX_DOC_CHARS = 3000

#: Sources of the documents that a quality filter should remove from ``cs_crawl``.
INAPPROPRIATE_SOURCES: frozenset[str] = frozenset({"spam", "toxic"})

_N_WEB = 300
_N_CRAWL = 330
_N_CRAWL_SPAM = 13
_N_CRAWL_TOXIC = 9
_N_EN = 175
_N_HELLASWAG = 200
_N_FILTER_BAD = 230
_N_FILTER_GOOD = 270
_MAX_TRIES = 200

Builder = Callable[[random.Random, int], str]
Record = dict[str, str]

_WEB_MIX: tuple[tuple[str, Builder, int], ...] = (
    ("news", csw.build_news, 30),
    ("encyclopedia", csw.build_encyclopedia, 17),
    ("announcement", csw.build_announcement, 16),
    ("travel", csw.build_travel, 11),
    ("history", csw.build_history, 10),
    ("guide", csw.build_guide, 20),
)

_CRAWL_MIX: tuple[tuple[str, Builder, int], ...] = (
    ("forum", csc.build_forum, 26),
    ("review", csc.build_review, 15),
    ("recipe", csc.build_recipe, 13),
    ("ad", csc.build_ad, 12),
    ("blog", csc.build_blog, 34),
)

_CRAWL_ODD: tuple[tuple[str, Builder], ...] = (
    ("blog", csc.build_emoji_blog),
    ("forum", csc.build_long_line_forum),
    ("blog", csc.build_nbsp_blog),
)

_EN_MIX: tuple[tuple[str, Builder, int], ...] = (
    ("news", en.build_en_news, 35),
    ("guide", en.build_en_guide, 30),
    ("encyclopedia", en.build_en_encyclopedia, 35),
)


def _target_length(rng: random.Random) -> int:
    """Draw a target document length: short, medium or long."""
    low, high = rng.choices(((320, 700), (700, 1400), (1400, 2700)), weights=(3, 4, 3))[0]
    return rng.randint(low, high)


def _bounded(builder: Builder, rng: random.Random, seen: set[str]) -> str:
    """Call ``builder`` until it returns a new text within the length bounds."""
    for _ in range(_MAX_TRIES):
        text = builder(rng, _target_length(rng))
        if MIN_DOC_CHARS <= len(text) <= MAX_DOC_CHARS and text not in seen:
            seen.add(text)
            return text
    raise RuntimeError(f"{builder.__name__} failed to produce a valid document")


def _plan(
    rng: random.Random, mix: Sequence[tuple[str, Builder, int]], n: int
) -> list[tuple[str, Builder]]:
    """Split ``n`` documents among the sources of ``mix`` by weight and shuffle them."""
    total = sum(weight for _, _, weight in mix)
    counts = [n * weight // total for _, _, weight in mix]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    plan = [
        (source, builder)
        for (source, builder, _), count in zip(mix, counts, strict=True)
        for _ in range(count)
    ]
    rng.shuffle(plan)
    return plan


def _records(corpus: str, plan: Sequence[tuple[str, Builder]], rng: random.Random) -> list[Record]:
    seen: set[str] = set()
    return [
        {"id": f"{corpus}-{i:05d}", "source": source, "text": _bounded(builder, rng, seen)}
        for i, (source, builder) in enumerate(plan)
    ]


def _cycling_guide() -> Builder:
    """A guide builder that walks through all activities in random order before repeating."""
    queue: list[Activity] = []

    def build_guide(rng: random.Random, target: int) -> str:
        if not queue:
            queue.extend(rng.sample(ACTIVITIES, len(ACTIVITIES)))
        return csw.build_guide(rng, target, activity=queue.pop())

    return build_guide


def build_cs_web(seed: int) -> list[Record]:
    """Build the records of ``cs_web.jsonl`` (curated Czech web text)."""
    rng = random.Random(f"{seed}:cs_web")
    guide = _cycling_guide()
    mix = [(s, guide if b is csw.build_guide else b, w) for s, b, w in _WEB_MIX]
    return _records("cs_web", _plan(rng, mix, _N_WEB), rng)


def build_cs_crawl(seed: int) -> list[Record]:
    """Build the records of ``cs_crawl.jsonl``, including inappropriate and odd documents."""
    rng = random.Random(f"{seed}:cs_crawl")
    n_clean = _N_CRAWL - _N_CRAWL_SPAM - _N_CRAWL_TOXIC - len(_CRAWL_ODD)
    plan = _plan(rng, _CRAWL_MIX, n_clean)
    plan += [("spam", csc.build_spam)] * _N_CRAWL_SPAM
    plan += [("toxic", csc.build_toxic)] * _N_CRAWL_TOXIC
    rng.shuffle(plan)
    for source, builder in _CRAWL_ODD:
        plan.insert(rng.randrange(len(plan) + 1), (source, builder))
    return _records("cs_crawl", plan, rng)


def build_en_web(seed: int) -> list[str]:
    """Build the English documents of the ``en_web`` folder."""
    rng = random.Random(f"{seed}:en_web")
    seen: set[str] = set()
    return [_bounded(builder, rng, seen) for _, builder in _plan(rng, _EN_MIX, _N_EN)]


def build_cs_hellaswag(seed: int, n_items: int = _N_HELLASWAG) -> list[dict[str, object]]:
    """Build CS-HellaSwag items from the shared activity scripts.

    The query is ``"<label>: <actor> <step i>. <connector>"`` (optionally with step ``i-1``
    before it); the gold ending is step ``i+1``; the three distractors are steps of three
    other activities.  Gold positions are exactly balanced over 0-3.
    """
    rng = random.Random(f"{seed}:cs_hellaswag")
    pairs = [(a, i) for a, act in enumerate(ACTIVITIES) for i in range(len(act.steps) - 1)]
    golds = [k % 4 for k in range(n_items)]
    rng.shuffle(golds)
    items: list[dict[str, object]] = []
    seen: set[str] = set()
    for _ in range(_MAX_TRIES):
        order = list(pairs)
        rng.shuffle(order)
        for a, i in order:
            if len(items) == n_items:
                return items
            act = ACTIVITIES[a]
            steps = act.steps
            context = f"{rng.choice(act.actors)} {steps[i]}."
            if i >= 1 and rng.random() < 0.5:
                context = (
                    f"{rng.choice(act.actors)} {steps[i - 1]}. {rng.choice(CONNECTORS)} {steps[i]}."
                )
            last = i + 1 == len(steps) - 1
            conn = FINAL_CONNECTOR if last else rng.choice(CONNECTORS)
            query = f"{act.label}: {context} {conn}"
            if query in seen:
                continue
            seen.add(query)
            others = rng.sample([b for b in range(len(ACTIVITIES)) if b != a], 3)
            endings = [f"{rng.choice(ACTIVITIES[b].steps)}." for b in others]
            gold = golds[len(items)]
            endings.insert(gold, f"{steps[i + 1]}.")
            items.append({"query": query, "choices": endings, "gold": gold})
    raise RuntimeError("could not build enough distinct CS-HellaSwag items")


def build_filter_train(seed: int, exclude: set[str]) -> list[dict[str, object]]:
    """Build labelled filter-training snippets (1 = inappropriate) not contained in ``exclude``."""
    rng = random.Random(f"{seed}:filter_train")
    seen = set(exclude)
    records: list[dict[str, object]] = []

    def add(make: Callable[[], str], label: int, count: int) -> None:
        added = 0
        for _ in range(count * 50):
            text = make()
            if text not in seen:
                seen.add(text)
                records.append({"text": text, "label": label})
                added += 1
                if added == count:
                    return
        raise RuntimeError(f"could not build {count} distinct snippets with label {label}")

    def inappropriate() -> str:
        if rng.random() < 0.55:
            return csc.spam_snippet(rng, rng.randint(1, 4))
        return csc.toxic_snippet(rng, rng.randint(1, 4))

    add(inappropriate, 1, _N_FILTER_BAD)
    add(lambda: csc.clean_snippet(rng), 0, _N_FILTER_GOOD)
    rng.shuffle(records)
    return records


def _dump_jsonl(path: Path, records: Sequence[Mapping[str, object]]) -> None:
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records]
    path.write_text("".join(lines), encoding="utf-8", newline="\n")


def write_samples(out_dir: Path, seed: int = 1234) -> dict[str, Path]:
    """Generate all sample files into ``out_dir`` and return a name -> path mapping.

    The output is byte-identical for the same ``seed``.  Stale ``doc_*.txt`` files in
    ``out_dir/en_web`` are removed first so the folder holds exactly the generated documents.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    web = build_cs_web(seed)
    crawl = build_cs_crawl(seed)
    clean = [r for r in crawl if r["source"] not in INAPPROPRIATE_SOURCES]
    hellaswag = build_cs_hellaswag(seed)
    filter_train = build_filter_train(seed, {r["text"] for r in crawl})
    en_docs = build_en_web(seed)

    paths = {
        "cs_web": out_dir / "cs_web.jsonl",
        "cs_crawl": out_dir / "cs_crawl.jsonl",
        "cs_crawl_clean": out_dir / "cs_crawl_clean.jsonl",
        "en_web": out_dir / "en_web",
        "cs_hellaswag": out_dir / "cs_hellaswag.jsonl",
        "filter_train": out_dir / "filter_train.jsonl",
    }
    _dump_jsonl(paths["cs_web"], web)
    _dump_jsonl(paths["cs_crawl"], crawl)
    _dump_jsonl(paths["cs_crawl_clean"], clean)
    _dump_jsonl(paths["cs_hellaswag"], hellaswag)
    _dump_jsonl(paths["filter_train"], filter_train)
    en_dir = paths["en_web"]
    en_dir.mkdir(exist_ok=True)
    for stale in sorted(en_dir.glob("doc_*.txt")):
        stale.unlink()
    for i, text in enumerate(en_docs):
        (en_dir / f"doc_{i:04d}.txt").write_text(text + "\n", encoding="utf-8", newline="\n")

    logger.info(
        "cs_web: %d docs; cs_crawl: %d docs (%d inappropriate); cs_crawl_clean: %d",
        len(web),
        len(crawl),
        len(crawl) - len(clean),
        len(clean),
    )
    logger.info(
        "en_web: %d docs; cs_hellaswag: %d items; filter_train: %d records",
        len(en_docs),
        len(hellaswag),
        len(filter_train),
    )
    return paths


def _main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out_dir = Path(argv[0]) if argv else Path("data/samples")
    seed = int(argv[1]) if len(argv) > 1 else 1234
    for name, path in write_samples(out_dir, seed).items():
        logger.info("%s -> %s", name, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

"""Builders of single English sample documents (``en_web``) from the hand-written banks.

Written by the csmpt authors; the generated text is released as CC0-1.0.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from . import phrases_en as en
from . import phrases_en_topics as topics

__all__ = ["EN_ACTORS", "build_en_encyclopedia", "build_en_guide", "build_en_news"]

#: Actors for English activity narratives as ``(first mention, later mention)``.
EN_ACTORS: tuple[tuple[str, str], ...] = (
    ("A young woman", "she"),
    ("An older man", "he"),
    ("Our neighbour", "our neighbour"),
    ("The instructor", "the instructor"),
    ("A student", "the student"),
    ("A man in an apron", "he"),
)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _pick(rng: random.Random, bank: Sequence[str], k: int) -> list[str]:
    k = max(0, min(k, len(bank)))
    return [bank[i] for i in sorted(rng.sample(range(len(bank)), k))]


def _join(paragraphs: Sequence[str]) -> str:
    return "\n\n".join(p for p in paragraphs if p)


def build_en_news(rng: random.Random, target: int) -> str:
    """A local news article in English."""
    topic = rng.choice(en.EN_NEWS_TOPICS)
    slots = {
        "town": rng.choice(en.EN_TOWNS),
        "day": rng.choice(_DAYS),
        "n": str(rng.randint(3, 12)),
    }
    name = rng.choice(en.EN_NAMES)
    people = [f"{rng.choice(topic['roles'])} {name}", name.split()[-1]]
    details = [d.format(**slots) for d in topic["details"]]
    rng.shuffle(details)
    paragraphs = [
        rng.choice(topic["titles"]).format(**slots),
        " ".join([rng.choice(topic["leads"]).format(**slots)] + details[:2]),
    ]
    details = details[2:]
    picked = _pick(rng, topic["quotes"], 2)
    quotes = [f"\u201c{q},\u201d said {who}." for q, who in zip(picked, people, strict=False)]
    quotes.reverse()
    while (details or quotes) and len(_join(paragraphs)) < target:
        chunk = details[: rng.randint(1, 2)]
        details = details[len(chunk) :]
        if quotes:
            chunk.append(quotes.pop())
        paragraphs.append(" ".join(chunk))
    paragraphs.append(rng.choice(topic["closings"]))
    return _join(paragraphs)


def build_en_guide(rng: random.Random, target: int) -> str:
    """A how-to text narrating one activity step by step."""
    title, steps = rng.choice(topics.EN_ACTIVITIES)
    actor, later = rng.choice(EN_ACTORS)
    sentences = [f"{actor} {steps[0]}."]
    for j in range(1, len(steps)):
        conn = "Finally," if j == len(steps) - 1 else rng.choice(en.EN_CONNECTORS) + ","
        sentences.append(f"{conn} {later} {steps[j]}.")
    paragraphs = [
        f"{title}: a step-by-step guide",
        " ".join(_pick(rng, topics.EN_GUIDE_INTROS, 2)),
        " ".join(sentences[:3]),
        " ".join(sentences[3:]),
    ]
    if len(_join(paragraphs)) < target:
        paragraphs.append(" ".join(_pick(rng, topics.EN_GUIDE_TIPS, 3)))
    return _join(paragraphs)


def build_en_encyclopedia(rng: random.Random, target: int) -> str:
    """An encyclopedic entry in English."""
    (title, sentences), (other, related) = rng.sample(topics.EN_ENTRIES, 2)
    body = [sentences[0]] + _pick(rng, sentences[1:], rng.randint(3, len(sentences) - 1))
    cut = rng.randint(2, max(2, len(body) - 1))
    paragraphs = [title, " ".join(body[:cut]), " ".join(body[cut:])]
    if len(_join(paragraphs)) < target:
        paragraphs.append(f"See also: {other}. " + " ".join(_pick(rng, related, 2)))
    return _join(paragraphs)

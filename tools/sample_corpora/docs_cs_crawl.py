"""Builders of Czech documents for corpus ``cs_crawl`` and the filter training snippets.

Covers forum threads, reviews, recipes, classified ads and blogs, the inappropriate documents
(spam and toxic posts) and a few odd but valid records (emoji, no-break spaces, one very long
line).

Written by the csmpt authors; the generated text is released as CC0-1.0.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from . import phrases_cs_bad as bad
from . import phrases_cs_common as common
from . import phrases_cs_forum as forum
from . import phrases_cs_news as news
from . import phrases_cs_reviews as reviews
from . import phrases_cs_shop as shop
from .docs_cs import (
    ACTIVITY_BY_LABEL,
    MAX_CHARS,
    fill,
    fmt_num,
    gender_form,
    join_paragraphs,
    make_slots,
    narrate,
    narrative_window,
    phone_number,
    pick,
)
from .phrases_cs_activities import ACTIVITIES

__all__ = [
    "build_ad",
    "build_blog",
    "build_emoji_blog",
    "build_forum",
    "build_long_line_forum",
    "build_nbsp_blog",
    "build_recipe",
    "build_review",
    "build_spam",
    "build_toxic",
    "clean_snippet",
    "spam_snippet",
    "toxic_snippet",
]

_SINGLE_LETTER_RE = re.compile(r"(?<=\s)([vkszaouiVKSZAOUI]) ")


def _activity_story(rng: random.Random, labels: Sequence[str], gender: str) -> str:
    activity = ACTIVITY_BY_LABEL[rng.choice(labels)] if labels else rng.choice(ACTIVITIES)
    intro = gender_form(rng.choice(forum.ACTIVITY_INTROS), gender)
    return f"{intro} {narrative_window(rng, activity)}"


def build_forum(rng: random.Random, target: int) -> str:
    """A forum thread: question by the author and replies by other users."""
    topic = rng.choice(forum.FORUM_TOPICS)
    nicks = rng.sample(common.FORUM_NICKS, 6)
    op_gender = rng.choice("mf")
    question = [rng.choice(forum.FORUM_GREETINGS)]
    question += pick(rng, topic["question"], rng.randint(2, len(topic["question"])))
    paragraphs = [
        rng.choice(topic["titles"]),
        f"{nicks[0]}: " + gender_form(" ".join(question), op_gender),
    ]
    pool = list(topic["replies"]) + pick(rng, forum.FORUM_REPLIES, 2)
    rng.shuffle(pool)
    story_at = rng.randint(0, 2) if topic["activities"] and rng.random() < 0.6 else -1
    turn = 0
    while pool and len(join_paragraphs(paragraphs)) < target:
        nick = nicks[1 + turn % 5]
        gender = rng.choice("mf")
        if turn == story_at:
            text = _activity_story(rng, topic["activities"], gender)
        else:
            k = rng.randint(1, 2)
            chunk, pool = pool[:k], pool[k:]
            text = gender_form(" ".join(chunk), gender)
        paragraphs.append(f"{nick}: {text}")
        turn += 1
        if turn == 3 and rng.random() < 0.5:
            paragraphs.append(
                f"{nicks[0]}: " + gender_form(rng.choice(forum.FORUM_OP_FOLLOWUPS), op_gender)
            )
    return join_paragraphs(paragraphs)


def _one_review(rng: random.Random, product: reviews.Product) -> str:
    stars = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 4))[0]
    gender = rng.choice("mf")
    n_good = {1: 0, 2: 1, 3: 1, 4: 2, 5: 3}[stars]
    n_bad = {1: 3, 2: 2, 3: 2, 4: 1, 5: 0}[stars]
    body = pick(rng, product["good"], n_good) + pick(rng, product["bad"], n_bad)
    body += pick(rng, reviews.REVIEW_GENERIC, rng.randint(0, 2))
    if stars >= 4:
        body += pick(rng, reviews.REVIEW_POSITIVE, rng.randint(1, 2))
    rng.shuffle(body)
    lines = [
        f"{rng.choice(common.FORUM_NICKS)} | Hodnocení: {stars} z 5",
        " ".join(body),
        "Klady: " + (", ".join(pick(rng, product["pros"], 2)) if stars > 1 else "nic"),
        "Zápory: "
        + (", ".join(pick(rng, product["cons"], 1 + (stars < 4))) if stars < 5 else "zatím žádné"),
        rng.choice(reviews.REVIEW_VERDICTS[stars - 1]),
    ]
    return gender_form("\n".join(lines), gender)


def build_review(rng: random.Random, target: int) -> str:
    """A product page with one or more user reviews."""
    product = rng.choice(reviews.PRODUCTS)
    paragraphs = [f"Recenze: {product['name']}"]
    while len(join_paragraphs(paragraphs)) < min(target, 900) and len(paragraphs) < 4:
        paragraphs.append(_one_review(rng, product))
    return join_paragraphs(paragraphs)


def build_recipe(rng: random.Random, target: int) -> str:
    """A recipe post with ingredients, steps and optional cooking story."""
    recipe = rng.choice(shop.RECIPES)
    gender = rng.choice("mf")
    steps = recipe["steps"]
    if rng.random() < 0.5:
        method = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    else:
        method = " ".join(steps)
    paragraphs = [
        recipe["title"],
        rng.choice(shop.RECIPE_INTROS),
        "Suroviny:\n" + "\n".join(f"- {item}" for item in recipe["ingredients"]),
        "Postup:\n" + method,
    ]
    if len(join_paragraphs(paragraphs)) < target:
        paragraphs.append(_activity_story(rng, (recipe["activity"],), gender))
    paragraphs.append(" ".join(pick(rng, shop.RECIPE_OUTROS, rng.randint(1, 2))))
    return join_paragraphs(paragraphs)


def _one_ad(rng: random.Random, slots: dict[str, str], kind: str = "") -> str:
    kind = kind or rng.choice(("sell", "sell", "buy", "rent", "job", "lost"))
    phone = phone_number(rng)
    if kind == "sell":
        lines = [f"Prodám {rng.choice(shop.AD_SELL_ITEMS)}."]
        lines += [fill(s, slots) for s in pick(rng, shop.AD_SELL_LINES, rng.randint(1, 3))]
        if "Cena dohodou." not in lines:
            lines.append(f"Cena {fmt_num(rng.randrange(300, 15000, 100))} Kč.")
        lines.append(f"Tel. {phone}")
    elif kind == "buy":
        lines = [
            fill(rng.choice(shop.ADS_BUY), slots),
            "Platím hotově, odvoz zajistím.",
            f"Tel. {phone}",
        ]
    elif kind == "rent":
        lines = [fill(s, slots) for s in shop.ADS_RENT] + [f"Kontakt: {phone}"]
    elif kind == "job":
        lines = [
            fill(rng.choice(shop.ADS_JOBS), slots),
            rng.choice((f"Kontakt: {phone}", f"Volejte po 17. hodině na {phone}.")),
        ]
    else:
        lines = [
            rng.choice(shop.ADS_LOST),
            f"Prosíme o informace na čísle {phone}.",
            "Nálezce čeká odměna.",
        ]
    return " ".join(lines)


def build_ad(rng: random.Random, target: int) -> str:
    """A page of classified ads from one local bazaar."""
    slots = make_slots(rng)
    paragraphs = [f"Inzerce – {slots['town_name']} a okolí"]
    kinds = ["sell", "sell", "sell", "buy", "rent", "job", "job", "lost"]
    rng.shuffle(kinds)
    while kinds and len(join_paragraphs(paragraphs)) < max(min(target, 1300), 300):
        ad = _one_ad(rng, slots, kinds.pop())
        if ad not in paragraphs:
            paragraphs.append(ad)
    return join_paragraphs(paragraphs)


def build_blog(rng: random.Random, target: int) -> str:
    """An informal first-person diary entry, sometimes describing an activity."""
    gender = rng.choice("mf")
    slots = make_slots(rng)
    paragraphs = [rng.choice(forum.BLOG_TITLES), f"Příspěvek ze dne {slots['date']}"]
    body = pick(rng, forum.BLOG_BODY, len(forum.BLOG_BODY))
    rng.shuffle(body)
    first = [rng.choice(forum.BLOG_OPENINGS)] + body[:2]
    body = body[2:]
    paragraphs.append(" ".join(first))
    story_done = rng.random() < 0.4
    while body and len(join_paragraphs(paragraphs)) < target:
        if not story_done and rng.random() < 0.5:
            paragraphs.append(_activity_story(rng, (), gender))
            story_done = True
            continue
        chunk = body[: rng.randint(2, 4)]
        body = body[len(chunk) :]
        paragraphs.append(" ".join(chunk))
    if not story_done:
        paragraphs.append(_activity_story(rng, (), gender))
    paragraphs.append(rng.choice(forum.BLOG_CLOSINGS))
    return gender_form(join_paragraphs(paragraphs), gender)


# ------------------------------------------------------------------- inappropriate


def spam_snippet(rng: random.Random, n_sentences: int) -> str:
    """A few spam sentences from one or two spam banks plus a call to action."""
    banks = (bad.GAMBLING_SPAM, bad.MONEY_SPAM, bad.ADULT_SPAM)
    main = rng.choice(banks)
    slots = make_slots(rng)
    sentences = pick(rng, main, n_sentences)
    if rng.random() < 0.2:
        other = rng.choice([b for b in banks if b is not main])
        sentences += pick(rng, other, 1)
    rng.shuffle(sentences)
    sentences.append(rng.choice(bad.SPAM_CALLS))
    return " ".join(fill(s, slots) for s in sentences)


def toxic_snippet(rng: random.Random, n_sentences: int) -> str:
    """A few rude sentences, sometimes shouted."""
    sentences = pick(rng, bad.TOXIC_SENTENCES, n_sentences)
    rng.shuffle(sentences)
    if rng.random() < 0.25:
        i = rng.randrange(len(sentences))
        sentences[i] = sentences[i].upper()
    if rng.random() < 0.3:
        sentences[-1] = sentences[-1].rstrip(".") + "!!!"
    return " ".join(sentences)


def build_spam(rng: random.Random, target: int) -> str:
    """A spam message (gambling, quick money or adult services)."""
    parts: list[str] = []
    if rng.random() < 0.4:
        bank = rng.choice((bad.GAMBLING_SPAM, bad.MONEY_SPAM, bad.ADULT_SPAM))
        parts.append(fill(rng.choice(bank), make_slots(rng)).upper())
    while len(join_paragraphs(parts)) < max(min(target, 900), 320):
        text = spam_snippet(rng, rng.randint(3, 6))
        parts.append(text if rng.random() < 0.5 else text.replace(". ", ".\n"))
    return join_paragraphs(parts)


def build_toxic(rng: random.Random, target: int) -> str:
    """A thread of aggressive, insulting comments."""
    parts: list[str] = []
    if rng.random() < 0.5:
        parts.append(rng.choice(bad.TOXIC_OPENERS))
    nicks = rng.sample(common.FORUM_NICKS, 4)
    turn = 0
    while len(join_paragraphs(parts)) < max(min(target, 800), 320):
        parts.append(f"{nicks[turn % 4]}: {toxic_snippet(rng, rng.randint(2, 4))}")
        turn += 1
    return join_paragraphs(parts)


# ------------------------------------------------------------------------ odd records


def build_emoji_blog(rng: random.Random, target: int) -> str:
    """A blog entry with emoji, typographic quotes, an ellipsis and dashes."""
    slots = make_slots(rng)
    snowman = ACTIVITY_BY_LABEL["Stavění sněhuláka"]
    skiing = ACTIVITY_BY_LABEL["Lyžování"]
    paragraphs = [
        "Víkend na horách 🏔️",
        "Tak jsme konečně dorazili! 😀🎉 Cesta trvala skoro pět hodin, ale stálo to za to.",
        "Babička nám při odjezdu říkala: „Hlavně se pořádně oblečte, na horách je pořád "
        "zima,“ a měla pravdu… ❄️ Ráno bylo venku minus dvanáct.",
        "Cestou jsme se zastavili na ‚nejlepší bramborák v kraji‘ – a byl opravdu výborný 👍",
        f"Děti hned po snídani běžely ven ⛄ {narrate(rng, snowman)}",
        f"Odpoledne jsme šli na svah 🎿 {narrate(rng, skiing, 1, 5)}",
        "Večer celá rodina 👨‍👩‍👧‍👦 seděla u kamen a hrála karty. Ve 21:30 už všichni spali 😴",
        f"Příspěvek ze dne {slots['date']} – mějte se krásně ❤️",
    ]
    return join_paragraphs(paragraphs)


def build_long_line_forum(rng: random.Random, target: int) -> str:
    """A forum post written as one very long line without any line break."""
    topic = rng.choice(forum.FORUM_TOPICS)
    sentences = list(topic["question"]) + list(topic["replies"]) + list(forum.FORUM_REPLIES)
    sentences += forum.BLOG_BODY
    sentences += rng.choice(shop.RECIPES)["steps"]
    text = f"{rng.choice(common.FORUM_NICKS)}: {rng.choice(topic['titles'])} – "
    text += gender_form(" ".join(sentences), "m")
    if len(text) > MAX_CHARS - 10:
        text = text[: MAX_CHARS - 10]
        text = text[: text.rfind(" ")] + "…"
    return text


def build_nbsp_blog(rng: random.Random, target: int) -> str:
    """A blog entry typeset with no-break spaces after one-letter prepositions."""
    return _SINGLE_LETTER_RE.sub("\\1\u00a0", build_blog(rng, target))


# ---------------------------------------------------------------------- filter data


def clean_snippet(rng: random.Random) -> str:
    """A short appropriate text (2–5 sentences) drawn from the clean crawl and web banks."""
    kind = rng.randrange(8)
    gender = rng.choice("mf")
    slots = make_slots(rng)
    if kind == 0:
        topic = rng.choice(forum.FORUM_TOPICS)
        parts = [rng.choice(forum.FORUM_GREETINGS)]
        parts += pick(rng, topic["question"], rng.randint(1, 3))
    elif kind == 1:
        topic = rng.choice(forum.FORUM_TOPICS)
        parts = pick(rng, topic["replies"], 2) + pick(rng, forum.FORUM_REPLIES, 1)
    elif kind == 2:
        parts = pick(rng, forum.BLOG_BODY, rng.randint(2, 4))
        rng.shuffle(parts)
    elif kind == 3:
        product = rng.choice(reviews.PRODUCTS)
        parts = pick(rng, product["good"], 1) + pick(rng, product["bad"], 1)
        parts += pick(rng, reviews.REVIEW_GENERIC, 1)
    elif kind == 4:
        steps = rng.choice(shop.RECIPES)["steps"]
        start = rng.randrange(len(steps) - 2)
        parts = list(steps[start : start + rng.randint(2, 3)])
    elif kind == 5:
        parts = [_one_ad(rng, slots)]
    elif kind == 6:
        activity = rng.choice(ACTIVITIES)
        start = rng.randrange(len(activity.steps) - 3)
        parts = [narrate(rng, activity, start, start + rng.randint(2, 3))]
    else:
        news_topic = rng.choice(news.NEWS_TOPICS)
        parts = [fill(rng.choice(news_topic["leads"]), slots)]
        parts += [fill(s, slots) for s in pick(rng, news_topic["details"], 2)]
    return gender_form(" ".join(parts), gender)

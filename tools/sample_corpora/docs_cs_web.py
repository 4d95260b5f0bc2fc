"""Builders of Czech documents for corpus ``cs_web``: news, encyclopedia, notices, trips.

Written by the csmpt authors; the generated text is released as CC0-1.0.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from . import phrases_cs_common as common
from . import phrases_cs_news as news
from . import phrases_cs_notices as notices
from . import phrases_cs_web as web
from .docs_cs import (
    MAX_CHARS,
    cap,
    fill,
    join_paragraphs,
    make_slots,
    narrate,
    pick,
)
from .phrases_cs_activities import ACTIVITIES, Activity

__all__ = [
    "build_announcement",
    "build_encyclopedia",
    "build_guide",
    "build_history",
    "build_news",
    "build_travel",
]


def _news_article(rng: random.Random, target: int, topic: news.NewsTopic) -> list[str]:
    """Paragraphs of one news article: title, lead, details with quotes, closing."""
    slots = make_slots(rng)
    name, gender = rng.choice(common.PEOPLE)
    role = rng.choice(topic["roles"])[0 if gender == "m" else 1]
    mentions: list[str] = []

    def who() -> str:
        # Full role and name on the first mention, the surname afterwards.
        mentions.append(name)
        return f"{role} {name}" if len(mentions) == 1 else name.split()[-1]

    def said() -> str:
        return rng.choice(news.SAID)[0 if gender == "m" else 1]

    # Remarks are rendered lazily, so ``who()`` sees the order in which they end up in the text.
    def quote(q: str) -> Callable[[], str]:
        return lambda: f"„{q},“ {said()} {who()}."

    def report(r: str) -> Callable[[], str]:
        return lambda: f"{cap(who())} {said()}, že {r}."

    remarks = [quote(q) for q in pick(rng, topic["quotes"], 2)]
    remarks += [report(r) for r in pick(rng, topic["reports"], 2)]
    rng.shuffle(remarks)
    details = [fill(d, slots) for d in topic["details"]]
    rng.shuffle(details)
    n_lead = rng.randint(1, 2)
    paragraphs = [
        fill(rng.choice(topic["titles"]), slots),
        " ".join([fill(rng.choice(topic["leads"]), slots)] + details[:n_lead]),
    ]
    details = details[n_lead:]
    closing = fill(rng.choice(topic["closings"]), slots)
    while (details or remarks) and len(join_paragraphs(paragraphs)) + len(closing) < target:
        chunk = details[: rng.randint(1, 3)]
        details = details[len(chunk) :]
        if remarks and (not details or rng.random() < 0.6):
            chunk.append(remarks.pop()())
        paragraphs.append(" ".join(chunk))
    paragraphs.append(closing)
    return paragraphs


def build_news(rng: random.Random, target: int) -> str:
    """A local news article, or a regional news round-up for long targets."""
    topics = rng.sample(news.NEWS_TOPICS, len(news.NEWS_TOPICS))
    if target < 1500:
        return join_paragraphs(_news_article(rng, target, topics[0]))
    paragraphs = [rng.choice(("Zprávy z regionu", "Krátce z obcí a měst", "Týden v regionu"))]
    while topics and len(join_paragraphs(paragraphs)) < target - 300:
        article = _news_article(rng, rng.randint(400, 900), topics.pop())
        if len(join_paragraphs(paragraphs + article)) > MAX_CHARS - 50:
            break
        paragraphs += article
    return join_paragraphs(paragraphs)


def build_encyclopedia(rng: random.Random, target: int) -> str:
    """An encyclopedic entry: fixed nature/craft entries or templated towns and castles."""
    kind = rng.random()
    slots = make_slots(rng)
    history_fits = kind >= 0.55
    if kind < 0.55:
        title, sentences = rng.choice(web.ENCYCLOPEDIA_ENTRIES)
        body = [sentences[0]] + pick(rng, sentences[1:], rng.randint(3, len(sentences) - 1))
    elif kind < 0.8:
        title = f"{slots['town_name']} ({slots['town_kind']})"
        body = [fill(s, slots) for s in web.TOWN_SENTENCES[:2]]
        body += [fill(s, slots) for s in pick(rng, web.TOWN_SENTENCES[2:], 6)]
    else:
        title = f"Hrad {slots['castle']}"
        body = [fill(s, slots) for s in pick(rng, web.CASTLE_SENTENCES, 7)]
    paragraphs = [title]
    cut = rng.randint(2, max(2, len(body) - 2))
    paragraphs.append(" ".join(body[:cut]))
    paragraphs.append(" ".join(body[cut:]))
    text = join_paragraphs(paragraphs)
    if history_fits and len(text) < target and rng.random() < 0.5:
        extra = [fill(s, slots) for s in pick(rng, web.HISTORY_SENTENCES, 3)]
        text = join_paragraphs([text, " ".join(extra)])
    return text


def build_announcement(rng: random.Random, target: int) -> str:
    """A municipal notice with a signature of the mayor."""
    notice = rng.choice(notices.ANNOUNCEMENTS)
    slots = make_slots(rng)
    if "months" in notice:
        date = f"{rng.randint(1, 28)}. {common.MONTHS_GEN[rng.choice(notice['months'])]}"
        slots.update(date=date, weekday_date=f"{slots['day']} {date}")
    name, gender = rng.choice(common.PEOPLE)
    role = "starosta" if gender == "m" else "starostka"
    title = notice["title"]
    paragraphs = [title.upper() if rng.random() < 0.3 else title]
    core = [fill(s, slots) for s in notice["core"]]
    paragraphs.append(" ".join(s for s in core if "\n" not in s))
    paragraphs.extend(s for s in core if "\n" in s)
    extra = [fill(s, slots) for s in pick(rng, notice["extra"], len(notice["extra"]))]
    rng.shuffle(extra)
    while extra and len(join_paragraphs(paragraphs)) < target:
        chunk = extra[: rng.randint(1, 3)]
        extra = extra[len(chunk) :]
        paragraphs.append(" ".join(chunk))
    closings = [fill(s, slots) for s in pick(rng, notices.ANNOUNCEMENT_CLOSINGS, 2)]
    paragraphs.append(" ".join(closings))
    paragraphs.append(f"{name}, {role} {slots['town_gen_noun']}")
    return join_paragraphs(paragraphs)


def build_travel(rng: random.Random, target: int) -> str:
    """A trip report going through start, route, sights, food, tips and closing."""
    slots = make_slots(rng)
    paragraphs = [fill(rng.choice(notices.TRAVEL_TITLES), slots)]
    per_section = 1 if target < 700 else (2 if target < 1200 else 3)
    for section in notices.TRAVEL_SECTIONS:
        k = rng.randint(1, per_section)
        paragraphs.append(" ".join(fill(s, slots) for s in pick(rng, section, k)))
    return join_paragraphs(paragraphs)


def build_history(rng: random.Random, target: int) -> str:
    """A local history piece built from history and castle sentences."""
    slots = make_slots(rng)
    paragraphs = [fill(rng.choice(web.HISTORY_TITLES), slots)]
    sentences = [fill(s, slots) for s in pick(rng, web.HISTORY_SENTENCES, 14)]
    while sentences and len(join_paragraphs(paragraphs)) < target:
        chunk = sentences[: rng.randint(2, 4)]
        sentences = sentences[len(chunk) :]
        paragraphs.append(" ".join(chunk))
    return join_paragraphs(paragraphs)


def build_guide(rng: random.Random, target: int, activity: Activity | None = None) -> str:
    """A how-to guide that narrates a whole activity (random unless given), as in CS-HellaSwag."""
    activity = activity or rng.choice(ACTIVITIES)
    slots = make_slots(rng)
    actor = rng.choice(activity.actors)
    slots.update(
        label=activity.label,
        label_lower=activity.label.lower(),
        actor_lower=actor[:1].lower() + actor[1:],
    )
    paragraphs = [
        fill(rng.choice(notices.GUIDE_TITLES), slots),
        " ".join(fill(s, slots) for s in pick(rng, notices.GUIDE_INTROS, 2)),
        fill(rng.choice(notices.GUIDE_VIDEO_LEADS), slots)
        + " "
        + narrate(rng, activity, actor=actor),
    ]
    if len(join_paragraphs(paragraphs)) < target:
        others = [a for a in activity.actors if a != actor]
        paragraphs.append(
            "Pro srovnání se podívejme ještě na jeden příklad. "
            + narrate(rng, activity, rng.randint(0, 2), actor=rng.choice(others))
        )
    paragraphs.append(" ".join(pick(rng, notices.GUIDE_TIPS, rng.randint(1, 3))))
    paragraphs.append(rng.choice(notices.GUIDE_OUTROS))
    return join_paragraphs(paragraphs)

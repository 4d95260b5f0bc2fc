"""Shared helpers for building Czech sample documents from the hand-written phrase banks.

Document builders live in :mod:`sample_corpora.docs_cs_web` and
:mod:`sample_corpora.docs_cs_crawl`.  Every builder takes a :class:`random.Random` and a target
length in characters and returns the document text.  Builders only use the random generator
passed in, so the output is fully determined by its seed.

Written by the csmpt authors; the generated text is released as CC0-1.0.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from . import phrases_cs_bad as bad
from . import phrases_cs_common as common
from . import phrases_cs_web as web
from .phrases_cs_activities import ACTIVITIES, Activity

__all__ = [
    "ACTIVITY_BY_LABEL",
    "MAX_CHARS",
    "Builder",
    "cap",
    "fill",
    "fmt_num",
    "gender_form",
    "join_paragraphs",
    "make_slots",
    "narrate",
    "narrative_window",
    "phone_number",
    "pick",
]

#: Signature of a document builder: ``(rng, target_chars) -> text``.
Builder = Callable[[random.Random, int], str]

#: Activities indexed by their HellaSwag label.
ACTIVITY_BY_LABEL: dict[str, Activity] = {a.label: a for a in ACTIVITIES}

#: Upper bound on document length that builders aim to respect.
MAX_CHARS = 3000

_GENDER_RE = re.compile(r"\[([^\[\]|]*)\|([^\[\]|]*)\]")


def gender_form(text: str, gender: str) -> str:
    """Resolve ``[masculine|feminine]`` alternatives in ``text`` for ``gender`` (m or f)."""
    group = 1 if gender == "m" else 2
    return _GENDER_RE.sub(lambda m: m.group(group), text)


def cap(text: str) -> str:
    """Return ``text`` with its first character upper-cased."""
    return text[:1].upper() + text[1:]


def fmt_num(value: int) -> str:
    """Format an integer with a space as the thousands separator (Czech style)."""
    return f"{value:,}".replace(",", " ")


def phone_number(rng: random.Random) -> str:
    """Draw a fictional Czech mobile phone number."""
    return (
        f"{rng.choice((602, 605, 721, 733, 777, 604))} {rng.randint(100, 999)} "
        f"{rng.randint(100, 999)}"
    )


def _spam_url(rng: random.Random) -> str:
    first, second = rng.sample(bad.SPAM_DOMAIN_PARTS, 2)
    tld = rng.choice(bad.SPAM_TLDS)
    style = rng.randrange(3)
    if style == 0:
        return f"www.{first}-{second}{tld}"
    if style == 1:
        return f"{first}{second}{rng.randint(1, 99)}{tld}"
    return f"https://{first}{second}{tld}/bonus?id={rng.randint(1000, 9999)}"


def make_slots(rng: random.Random) -> dict[str, str]:
    """Draw one consistent set of slot values (town, dates, numbers ...) for a document."""
    town, kind = rng.choice(common.TOWNS)
    forms = common.TOWN_FORMS[kind]
    day = rng.choice(common.DAYS_LOC)
    date = f"{rng.randint(1, 28)}. {rng.choice(common.MONTHS_GEN)}"
    month_loc = rng.choice(common.MONTHS_LOC)
    (century_loc, century_gen), (century2_loc, _) = rng.sample(common.CENTURIES, 2)
    years_hist = sorted(rng.sample(range(1620, 1890), 3))
    num_small = rng.randint(5, 19)
    nobles = rng.choice(web.NOBLES)
    street, street2 = rng.sample(common.STREETS, 2)
    name_m = rng.choice([name for name, gender in common.PEOPLE if gender == "m"])
    return {
        "town_name": town,
        "town_kind": kind,
        "town_nom": f"{forms['nom']} {town}",
        "Town_nom": cap(f"{forms['nom']} {town}"),
        "town_gen": f"{forms['gen']} {town}",
        "town_loc": f"{forms['loc']} {town}",
        "Town_loc": cap(f"{forms['loc']} {town}"),
        "town_locn": f"{forms['locn']} {town}",
        "this_locn": forms["this_locn"],
        "town_gen_noun": forms["gen"],
        "office": forms["office"],
        "office_lower": forms["office"].lower(),
        "office_loc": forms["office_loc"],
        "region_loc": rng.choice(common.REGIONS_LOC),
        "day": day,
        "Day": cap(day),
        "date": date,
        "weekday_date": f"{day} {date}",
        "month_loc": month_loc,
        "Month_loc": cap(month_loc),
        "street": street,
        "street2": street2,
        "place_loc": rng.choice(common.PLACES_LOC),
        "num_small": str(num_small),
        "km_total": str(num_small + rng.randint(3, 9)),
        "num_mid": str(rng.randint(20, 95)),
        "num_big": fmt_num(rng.randint(120, 2900)),
        "price_mil": str(rng.randint(5, 60)),
        "year": str(rng.randint(1991, 2015)),
        "year_old": str(rng.randint(1150, 1420)),
        "year_hist": str(years_hist[0]),
        "year_hist2": str(years_hist[1]),
        "year_hist3": str(years_hist[2]),
        "alt": str(rng.randint(230, 780)),
        "temp": str(rng.randint(22, 33)),
        "h1": str(rng.randint(7, 10)),
        "h2": str(rng.randint(12, 16)),
        "h_evening": str(rng.randint(16, 18)),
        "price_czk": str(rng.randrange(150, 360, 10)),
        "fee_czk": str(rng.randrange(600, 960, 20)),
        "entry_czk": str(rng.randrange(40, 160, 10)),
        "rent_czk": fmt_num(rng.randrange(9000, 19000, 500)),
        "phone": phone_number(rng),
        "church": rng.choice(common.CHURCHES),
        "century_loc": century_loc,
        "century_gen": century_gen,
        "century2_loc": century2_loc,
        "castle": rng.choice(web.CASTLES),
        "nobles": nobles,
        "Nobles": cap(nobles),
        "name_m": name_m,
        "win_czk": fmt_num(rng.randrange(50_000, 2_000_000, 10_000)),
        "dep_czk": str(rng.randrange(100, 600, 50)),
        "income_czk": fmt_num(rng.randrange(40_000, 250_000, 5_000)),
        "pct": str(rng.randrange(50, 400, 25)),
        "url": _spam_url(rng),
    }


def fill(template: str, slots: dict[str, str], gender: str = "m") -> str:
    """Fill the slots of ``template`` and resolve its gender alternatives."""
    return gender_form(template.format(**slots), gender)


def pick(rng: random.Random, bank: Sequence[str], k: int) -> list[str]:
    """Pick up to ``k`` distinct items from ``bank``, keeping their original order."""
    k = max(0, min(k, len(bank)))
    idx = sorted(rng.sample(range(len(bank)), k))
    return [bank[i] for i in idx]


def join_paragraphs(paragraphs: Sequence[str]) -> str:
    """Join the non-empty paragraphs with blank lines."""
    return "\n\n".join(p for p in paragraphs if p)


def narrate(
    rng: random.Random,
    activity: Activity,
    start: int = 0,
    stop: int | None = None,
    actor: str | None = None,
) -> str:
    """Tell steps ``start:stop`` of ``activity`` exactly in the CS-HellaSwag style."""
    steps = activity.steps
    stop = len(steps) if stop is None else stop
    actor = actor or rng.choice(activity.actors)
    sentences = [f"{actor} {steps[start]}."]
    conn = ""
    for j in range(start + 1, stop):
        if j == len(steps) - 1:
            conn = common.FINAL_CONNECTOR
        else:
            conn = rng.choice([c for c in common.CONNECTORS if c != conn])
        sentences.append(f"{conn} {steps[j]}.")
    return " ".join(sentences)


def narrative_window(rng: random.Random, activity: Activity) -> str:
    """Narrate a random run of at least three consecutive steps of ``activity``."""
    n = len(activity.steps)
    length = rng.randint(3, n)
    start = rng.randint(0, n - length)
    return narrate(rng, activity, start, start + length)

"""Shared Czech phrase banks: fictional places, people, dates and connectors.

Every string in this module was written by hand by the csmpt authors for the sample
corpora; nothing is copied from any existing text.  Released as CC0-1.0.

Grammar conventions used by all Czech phrase modules:

* Place and person names are only ever used in the nominative, either as a sentence
  subject or in apposition after a generic noun (``v obci Horní Lhota``), so they never
  need to be declined.
* Gender-dependent words are written as ``[masculine|feminine]`` and resolved by
  :func:`sample_corpora.generator.gender_form` for the speaker of the document.
"""

from __future__ import annotations

__all__ = [
    "CENTURIES",
    "CHURCHES",
    "CONNECTORS",
    "DAYS_LOC",
    "FINAL_CONNECTOR",
    "FORUM_NICKS",
    "MONTHS_GEN",
    "MONTHS_LOC",
    "PEOPLE",
    "PLACES_LOC",
    "REGIONS_LOC",
    "STREETS",
    "TOWNS",
    "TOWN_FORMS",
]

#: Fictional municipalities as ``(name in nominative, kind)``; kind is ``obec`` or ``město``.
TOWNS: tuple[tuple[str, str], ...] = (
    ("Horní Lhota", "obec"),
    ("Dolní Bukovice", "obec"),
    ("Malé Březno", "obec"),
    ("Kamenná Hora", "obec"),
    ("Stará Hať", "obec"),
    ("Lipovec", "obec"),
    ("Zahrádky", "obec"),
    ("Vysoké Pole", "obec"),
    ("Mlýnec", "obec"),
    ("Sedlec nad Potokem", "obec"),
    ("Bělá nad Olší", "město"),
    ("Vranov pod Skálou", "město"),
    ("Rokytnice u Lesa", "město"),
    ("Javorník nad Říčkou", "město"),
    ("Nové Hradiště", "město"),
    ("Kostelec na Pláni", "město"),
)

#: Inflected forms of the generic noun that precedes a town name.
TOWN_FORMS: dict[str, dict[str, str]] = {
    "obec": {
        "nom": "obec",
        "gen": "obce",
        "loc": "v obci",
        "locn": "obci",
        "this_locn": "této obci",
        "office": "Obecní úřad",
        "adj": "obecní",
        "office_loc": "na obecním úřadě",
    },
    "město": {
        "nom": "město",
        "gen": "města",
        "loc": "ve městě",
        "locn": "městě",
        "this_locn": "tomto městě",
        "office": "Městský úřad",
        "adj": "městský",
        "office_loc": "na městském úřadě",
    },
}

#: Real Czech regions in the locative, with their preposition.
REGIONS_LOC: tuple[str, ...] = (
    "ve Středočeském kraji",
    "v Jihomoravském kraji",
    "na Vysočině",
    "v Libereckém kraji",
    "v Olomouckém kraji",
    "v Jihočeském kraji",
    "ve Zlínském kraji",
    "v Pardubickém kraji",
    "v Plzeňském kraji",
    "v Královéhradeckém kraji",
)

#: Fictional people as ``(full name, gender)`` with gender ``m`` or ``f``.
PEOPLE: tuple[tuple[str, str], ...] = (
    ("Jan Novák", "m"),
    ("Petr Svoboda", "m"),
    ("Tomáš Dvořák", "m"),
    ("Martin Černý", "m"),
    ("Jiří Procházka", "m"),
    ("Pavel Kučera", "m"),
    ("Lukáš Veselý", "m"),
    ("Josef Horák", "m"),
    ("Michal Němec", "m"),
    ("Karel Pokorný", "m"),
    ("Ondřej Pospíšil", "m"),
    ("Radek Holub", "m"),
    ("Jana Nováková", "f"),
    ("Eva Svobodová", "f"),
    ("Lucie Dvořáková", "f"),
    ("Petra Černá", "f"),
    ("Marie Procházková", "f"),
    ("Tereza Kučerová", "f"),
    ("Hana Veselá", "f"),
    ("Kateřina Horáková", "f"),
    ("Lenka Němcová", "f"),
    ("Veronika Pokorná", "f"),
    ("Zuzana Pospíšilová", "f"),
    ("Alena Holubová", "f"),
)

#: Days of the week in the locative ("on Monday").
DAYS_LOC: tuple[str, ...] = (
    "v pondělí",
    "v úterý",
    "ve středu",
    "ve čtvrtek",
    "v pátek",
    "v sobotu",
    "v neděli",
)

#: Month names in the genitive, as used in dates ("12. května").
MONTHS_GEN: tuple[str, ...] = (
    "ledna",
    "února",
    "března",
    "dubna",
    "května",
    "června",
    "července",
    "srpna",
    "září",
    "října",
    "listopadu",
    "prosince",
)

#: Month names in the locative ("in May").
MONTHS_LOC: tuple[str, ...] = (
    "v lednu",
    "v únoru",
    "v březnu",
    "v dubnu",
    "v květnu",
    "v červnu",
    "v červenci",
    "v srpnu",
    "v září",
    "v říjnu",
    "v listopadu",
    "v prosinci",
)

#: Centuries as ``(locative "in the ...", genitive "from the ...")`` with correct prepositions.
CENTURIES: tuple[tuple[str, str], ...] = (
    ("ve 13. století", "ze 13. století"),
    ("ve 14. století", "ze 14. století"),
    ("v 15. století", "z 15. století"),
    ("v 16. století", "ze 16. století"),
    ("v 17. století", "ze 17. století"),
    ("v 18. století", "z 18. století"),
)

#: Churches and chapels in the nominative.
CHURCHES: tuple[str, ...] = (
    "kostel svatého Jakuba",
    "kostel svatého Václava",
    "kostel svaté Markéty",
    "kaple svaté Anny",
    "kostel svatého Mikuláše",
    "kostel Nanebevzetí Panny Marie",
)

#: Street names written so that they follow the word "ulici" ("v ulici Školní").
STREETS: tuple[str, ...] = (
    "Školní",
    "Polní",
    "Lesní",
    "Zahradní",
    "Na Výsluní",
    "U Rybníka",
    "K Mlýnu",
    "Nádražní",
    "Krátká",
    "Za Kostelem",
    "Luční",
    "Pod Hájem",
)

#: Meeting places in the locative.
PLACES_LOC: tuple[str, ...] = (
    "na parkovišti u hasičské zbrojnice",
    "na návsi u kapličky",
    "u sportovního areálu",
    "před kulturním domem",
    "na dvoře základní školy",
    "u autobusové zastávky v centru",
)

#: Sentence connectors used between the steps of an activity narrative.
CONNECTORS: tuple[str, ...] = ("Potom", "Poté", "Pak", "Následně")

#: Connector that introduces the final step of an activity narrative.
FINAL_CONNECTOR = "Nakonec"

#: Fictional forum user names.
FORUM_NICKS: tuple[str, ...] = (
    "martin77",
    "zahradnice",
    "kutil_jirka",
    "lenka.m",
    "honza1985",
    "petra_k",
    "mamka3deti",
    "stary_rybar",
    "novacek",
    "cyklo_tom",
    "bara_v",
    "radek_s",
    "kocourek",
    "jana_z_vesnice",
    "motorkar",
    "pekarka",
    "tatka_pepa",
    "ivet",
)

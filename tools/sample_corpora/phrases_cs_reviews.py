"""Hand-written Czech phrase banks for product reviews (corpus ``cs_crawl``).

Gender-dependent words are written as ``[masculine|feminine]`` and resolved per author.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["PRODUCTS", "REVIEW_GENERIC", "REVIEW_POSITIVE", "REVIEW_VERDICTS", "Product"]


class Product(TypedDict):
    """A reviewed product: name, pros, cons, positive and negative sentences."""

    name: str
    pros: tuple[str, ...]
    cons: tuple[str, ...]
    good: tuple[str, ...]
    bad: tuple[str, ...]


#: Reviewed products: name, pros, cons, positive and negative sentences.
PRODUCTS: tuple[Product, ...] = (
    {
        "name": "Tyčový vysavač",
        "pros": ("nízká hmotnost", "dlouhá výdrž baterie", "snadné vysypávání"),
        "cons": ("hlučnější motor", "malý zásobník na prach"),
        "good": (
            "Vysavač je lehký a uklízení s ním je hračka.",
            "Baterie vydrží na celý byt a ještě zbude.",
            "Na koberci vysaje i psí chlupy.",
        ),
        "bad": (
            "Zásobník je malý, musím ho vysypávat dvakrát během úklidu.",
            "Při vyšším výkonu je dost hlučný.",
            "Nabíjení trvá skoro čtyři hodiny.",
        ),
    },
    {
        "name": "Kávovar na espresso",
        "pros": ("chutná káva", "rychlé nahřátí", "napěňovač mléka"),
        "cons": ("náročnější čištění", "malá odkapávací miska"),
        "good": (
            "Káva je hustá, s krásnou pěnou, jako v kavárně.",
            "Kávovar se nahřeje za necelou minutu.",
            "Napěňovač zvládne mléko na cappuccino za pár vteřin.",
        ),
        "bad": (
            "Čištění páky a napěňovače zabere dost času.",
            "Odkapávací miska je malá a rychle přeteče.",
            "Po půl roce začal kávovar téct u páky.",
        ),
    },
    {
        "name": "Bezdrátová sluchátka",
        "pros": ("čistý zvuk", "pohodlné nošení", "dobré potlačení hluku"),
        "cons": ("slabší mikrofon", "pouzdro se snadno poškrábe"),
        "good": (
            "Zvuk je čistý a basy jsou výrazné, ale nepřehlušují ostatní.",
            "Sluchátka mi nevypadávají ani při běhu.",
            "V tramvaji díky potlačení hluku neslyším skoro nic.",
        ),
        "bad": (
            "Při telefonování si lidé stěžují, že mě špatně slyší.",
            "Párování s notebookem občas zlobí.",
            "Pouzdro je po měsíci celé poškrábané.",
        ),
    },
    {
        "name": "Pračka s předním plněním",
        "pros": ("úsporný provoz", "tichý chod", "rychlý program"),
        "cons": ("dlouhé standardní programy", "nepřehledný displej"),
        "good": (
            "Pračka je tichá, při ždímání ji skoro neslyšíme.",
            "Rychlý program vypere trička za půl hodiny.",
            "Spotřeba vody i elektřiny je opravdu nízká.",
        ),
        "bad": (
            "Standardní program trvá skoro tři hodiny.",
            "Displej je nepřehledný, bez návodu jsem se v něm [nevyznal|nevyznala].",
            "Dvířka jdou trochu ztuha.",
        ),
    },
    {
        "name": "Turistické boty",
        "pros": ("nepromokavost", "pevná podrážka", "pohodlí hned od začátku"),
        "cons": ("vyšší hmotnost", "tkaničky se rozvazují"),
        "good": (
            "Boty nepromokly ani při celodenním dešti.",
            "[Nemusel|Nemusela] jsem je rozchodit, byly pohodlné hned první den.",
            "Podrážka drží i na mokrých kamenech.",
        ),
        "bad": (
            "Jsou dost těžké, po celém dni to v nohách cítím.",
            "Tkaničky se pořád rozvazují.",
            "V létě se v nich nohy potí.",
        ),
    },
    {
        "name": "Stan pro dvě osoby",
        "pros": ("rychlá stavba", "nízká hmotnost", "prostorná předsíň"),
        "cons": ("tenká podlážka", "kolíky se ohýbají"),
        "good": (
            "Stan postavím [sám|sama] za deset minut.",
            "Nepromokl ani při noční bouřce.",
            "Do předsíně se vejdou dva batohy i boty.",
        ),
        "bad": (
            "Kolíky jsou z měkkého hliníku a v tvrdé zemi se ohýbají.",
            "Podlážka je tenká, doporučuji pod ni dát plachtu.",
            "Uvnitř se v noci sráží vlhkost.",
        ),
    },
    {
        "name": "Elektrická sekačka",
        "pros": ("tichý chod", "snadná údržba", "velký sběrný koš"),
        "cons": ("kabel se plete pod nohy", "slabší výkon na vysokou trávu"),
        "good": (
            "Sekačka je tichá, takže sousedé nemají důvod si stěžovat.",
            "Posekat celou zahradu mi zabere půl hodiny.",
            "Koš na trávu je velký a snadno se vysypává.",
        ),
        "bad": (
            "Kabel se neustále plete pod nohy.",
            "Na vysokou a mokrou trávu je slabá.",
            "Kolečka jsou plastová a dost vrzají.",
        ),
    },
    {
        "name": "Dětská koloběžka",
        "pros": ("nastavitelná výška řídítek", "pevná konstrukce"),
        "cons": ("tvrdá kolečka", "slabá brzda"),
        "good": (
            "Syn na ní jezdí každý den do školky.",
            "Výšku řídítek jsme snadno nastavili.",
            "Koloběžka je pevná a vydržela už několik pádů.",
        ),
        "bad": (
            "Kolečka jsou tvrdá a na dlažbě to drnčí.",
            "Brzda je slabá, z kopce bych ji dítěti [nepůjčil|nepůjčila].",
        ),
    },
)

#: Neutral review sentences that fit any product and any rating.
REVIEW_GENERIC: tuple[str, ...] = (
    "[Objednal|Objednala] jsem v pondělí a balík dorazil hned ve středu.",
    "Používám to asi tři měsíce, takže už můžu hodnotit.",
    "Návod byl jen v angličtině, což mi trochu vadilo.",
    "Obal byl trochu pomačkaný, ale uvnitř bylo všechno v pořádku.",
    "[Vybíral|Vybírala] jsem dlouho a recenze mi hodně pomohly, tak přidávám svou.",
    "Doma to používáme skoro každý den.",
)

#: Positive review sentences that fit any product (used for four and five stars).
REVIEW_POSITIVE: tuple[str, ...] = (
    "Za tu cenu se nedá nic vytknout.",
    "Reklamace drobné vady proběhla bez problémů, vyměnili mi to do týdne.",
    "Kamarádce jsem to už [doporučil|doporučila].",
    "Po zkušenostech bych koupi klidně [zopakoval|zopakovala].",
)

#: Verdict sentences indexed by star rating minus one.
REVIEW_VERDICTS: tuple[tuple[str, ...], ...] = (
    ("Nekupujte, vyhozené peníze.", "Za mě velké zklamání."),
    ("[Čekal|Čekala] jsem víc, znovu bych to [nekoupil|nekoupila].",),
    ("Nic extra, ale svůj účel to plní.", "Průměr, nic víc a nic míň."),
    ("Drobné mouchy to má, ale doporučuji.", "Celkově jsem [spokojený|spokojená]."),
    ("Rozhodně doporučuji!", "Nejlepší nákup za poslední roky, jsem [nadšený|nadšená]."),
)

"""Hand-written Czech phrase banks for municipal notices, trips and how-to guides.

Used for corpus ``cs_web``.  Slots in braces are filled by the generator; see
:mod:`sample_corpora.phrases_cs_common` for the grammar conventions.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "ANNOUNCEMENTS",
    "ANNOUNCEMENT_CLOSINGS",
    "GUIDE_INTROS",
    "GUIDE_OUTROS",
    "GUIDE_TIPS",
    "GUIDE_TITLES",
    "GUIDE_VIDEO_LEADS",
    "TRAVEL_SECTIONS",
    "TRAVEL_TITLES",
    "Announcement",
]


class _AnnouncementRequired(TypedDict):
    title: str
    core: tuple[str, ...]
    extra: tuple[str, ...]


class Announcement(_AnnouncementRequired, total=False):
    """A municipal notice; ``months`` (0 = January) is optional."""

    months: tuple[int, ...]


#: Municipal notices: title, sentences always used (in order), optional extra sentences and
#: optionally the months (0 = January) in which the notice makes sense.
ANNOUNCEMENTS: tuple[Announcement, ...] = (
    {
        "title": "Přerušení dodávky vody",
        "core": (
            "{office} {town_name} oznamuje občanům, že {weekday_date} bude od {h1} do {h2} "
            "hodin přerušena dodávka pitné vody.",
            "Důvodem je oprava vodovodního potrubí v ulici {street}.",
        ),
        "extra": (
            "Náhradní zásobování zajistí cisterna, která bude stát {place_loc}.",
            "Prosíme občany, aby si předem připravili dostatečnou zásobu vody.",
            "Po obnovení dodávky může být voda krátce zakalená, nechte ji chvíli odtéct.",
            "Práce provádí vodárenská společnost, která se za komplikace omlouvá.",
            "V případě nepříznivého počasí se termín může posunout.",
        ),
    },
    {
        "title": "Svoz velkoobjemového odpadu",
        "months": (2, 3, 8, 9),
        "core": (
            "{office} {town_name} oznamuje, že {weekday_date} proběhne svoz velkoobjemového "
            "a nebezpečného odpadu.",
            "Kontejnery budou přistaveny {place_loc} od {h1} do {h2} hodin.",
        ),
        "extra": (
            "Odevzdat lze starý nábytek, koberce, matrace, pneumatiky a elektrospotřebiče.",
            "Barvy, oleje a baterie převezme obsluha svozového vozu.",
            "Stavební suť a bioodpad do kontejnerů nepatří.",
            "Odpad prosíme nenechávejte u kontejnerů před termínem svozu.",
            "Svoz je pro občany s trvalým pobytem zdarma.",
        ),
    },
    {
        "title": "Pozvánka na zasedání zastupitelstva",
        "core": (
            "Zastupitelstvo {town_gen} se sejde {weekday_date} v {h_evening} hodin v zasedací "
            "místnosti úřadu.",
            "Program zasedání:\n1. Zahájení a volba ověřovatelů zápisu\n"
            "2. Kontrola plnění usnesení\n3. Rozpočtové opatření\n"
            "4. Prodej pozemku u rybníka\n5. Diskuse a závěr",
        ),
        "extra": (
            "Zasedání je veřejné a občané se mohou vyjádřit k projednávaným bodům.",
            "Materiály k jednotlivým bodům jsou k nahlédnutí na úřadě.",
            "Záznam ze zasedání bude zveřejněn na webových stránkách.",
        ),
    },
    {
        "title": "Očkování psů proti vzteklině",
        "months": (3, 4, 8, 9),
        "core": (
            "Upozorňujeme majitele psů, že hromadné očkování psů proti vzteklině proběhne "
            "{weekday_date} od {h1} hodin {place_loc}.",
            "Poplatek za očkování jednoho psa činí {price_czk} Kč.",
        ),
        "extra": (
            "Nezapomeňte s sebou vzít očkovací průkaz.",
            "Psi musí být na vodítku a s náhubkem.",
            "Očkování provede místní veterinární lékař.",
            "Zároveň bude možné nechat psa očipovat.",
        ),
    },
    {
        "title": "Uzavírka místní komunikace",
        "core": (
            "Z důvodu pokládky kabelů bude od {date} po dobu {num_small} dnů uzavřena "
            "ulice {street}.",
            "Objížďka povede sousedními ulicemi a bude vyznačena dopravním značením.",
        ),
        "extra": (
            "Vjezd vozidlům záchranné služby bude umožněn.",
            "Prosíme řidiče o zvýšenou opatrnost v okolí stavby.",
            "Svoz odpadu z uzavřené ulice proběhne v náhradním termínu.",
            "Chodci mohou ulicí procházet po provizorním chodníku.",
        ),
    },
    {
        "title": "Pozvánka na rozsvícení vánočního stromu",
        "months": (10,),
        "core": (
            "Srdečně vás zveme na slavnostní rozsvícení vánočního stromu, které se uskuteční "
            "{weekday_date} v {h_evening} hodin {place_loc}.",
            "Zazpívají děti ze základní školy a zahraje místní dechovka.",
        ),
        "extra": (
            "Připraven bude svařák, horký čaj pro děti a vánoční cukroví.",
            "Děti mohou přinést dopisy pro Ježíška.",
            "Na malém jarmarku bude možné koupit adventní věnce a vánoční ozdoby.",
            "Vstup je volný, těšíme se na vás.",
        ),
    },
    {
        "title": "Pozvánka na dětský den",
        "months": (4, 5),
        "core": (
            "Sbor dobrovolných hasičů a {office_lower} zvou všechny děti a rodiče na dětský den, "
            "který proběhne {weekday_date} od {h1} hodin {place_loc}.",
            "Na děti čekají soutěže, skákací hrad a ukázka hasičské techniky.",
        ),
        "extra": (
            "Za splnění úkolů dostane každé dítě sladkou odměnu.",
            "Občerstvení zajistí místní hasiči.",
            "V případě nepříznivého počasí se akce přesouvá do tělocvičny.",
            "Odpoledne proběhne také soutěž o nejhezčí dort.",
        ),
    },
    {
        "title": "Poplatek za svoz odpadu",
        "core": (
            "Upozorňujeme občany, že poplatek za svoz komunálního odpadu na letošní rok je "
            "splatný do konce března.",
            "Výše poplatku činí {fee_czk} Kč za osobu a rok.",
        ),
        "extra": (
            "Platbu je možné provést v hotovosti na úřadě nebo převodem na účet.",
            "Jako variabilní symbol uveďte číslo popisné domu.",
            "Senioři nad 80 let a děti do jednoho roku jsou od poplatku osvobozeni.",
            "Po zaplacení obdržíte na úřadě novou známku na popelnici.",
        ),
    },
    {
        "title": "Přerušení dodávky elektřiny",
        "core": (
            "Distributor elektrické energie oznamuje, že {weekday_date} od {h1} do {h2} hodin "
            "dojde k přerušení dodávky elektřiny.",
            "Vypnutí se týká ulic {street} a {street2} a přilehlého okolí.",
        ),
        "extra": (
            "Důvodem jsou plánované práce na elektrickém vedení.",
            "Doporučujeme předem vypnout citlivé elektrospotřebiče.",
            "Na vedení je i během vypnutí nutné pohlížet jako na zařízení pod napětím.",
        ),
    },
)

#: Closing sentences shared by all notices.
ANNOUNCEMENT_CLOSINGS: tuple[str, ...] = (
    "Děkujeme za pochopení.",
    "Za případné komplikace se omlouváme.",
    "Bližší informace získáte {office_loc} nebo na telefonním čísle {phone}.",
    "Informace jsou zveřejněny také na úřední desce a v mobilním rozhlasu.",
    "Prosíme, informujte o této zprávě i své starší sousedy.",
)

#: Titles of trip reports.
TRAVEL_TITLES: tuple[str, ...] = (
    "Výlet na hrad {castle}",
    "Tip na víkend: zřícenina hradu {castle}",
    "Procházka z {town_gen} ke hradu {castle}",
    "Za historií a přírodou {region_loc}",
)

#: Trip report sections in the order they appear in a text.
TRAVEL_SECTIONS: tuple[tuple[str, ...], ...] = (
    (
        "Naše cesta začíná na autobusové zastávce {town_loc}.",
        "Auto můžete nechat na parkovišti u kostela {town_loc}.",
        "Výlet je vhodný pro rodiny s dětmi i pro zdatnější turisty.",
        "Nejkrásnější je tahle trasa na podzim, kdy se listí barví do žluta a do červena.",
        "Vyrazili jsme brzy ráno, dokud bylo ještě chladno.",
    ),
    (
        "Po žluté turistické značce stoupáme lesem asi {num_small} kilometrů.",
        "Cesta vede nejprve podél potoka a potom strmě do kopce.",
        "Na rozcestí u staré hájovny odbočíme doprava a pokračujeme po modré značce.",
        "Trasa je místy kamenitá, proto doporučujeme pevnou obuv.",
        "Z louky nad vsí se otevírá výhled na celé údolí.",
        "Kolem cesty rostou borůvky a v létě se tu dá najít spousta hub.",
        "Po necelé hodině chůze se mezi stromy objeví první zbytky hradeb.",
    ),
    (
        "Zřícenina hradu {castle} stojí na skalnatém ostrohu nad řekou.",
        "Hrad byl založen {century_loc} a za třicetileté války byl vypálen.",
        "Z věže, na kterou vedou strmé dřevěné schody, je vidět až na hřebeny hor.",
        "Na nádvoří jsou informační tabule, které vyprávějí o historii hradu.",
        "Děti se nejvíc těší na hladomornu a hlubokou studnu.",
        "Podle pověsti se na hradě zjevuje bílá paní.",
    ),
    (
        "Po prohlídce se můžete občerstvit v hospodě pod hradem, kde vaří výbornou česnečku.",
        "Na náměstí {town_loc} je malá cukrárna s domácími koláči.",
        "Nezapomeňte ochutnat místní pivo z malého pivovaru.",
        "My jsme si vzali svačinu s sebou a posadili se na lavičku pod lípou.",
    ),
    (
        "Vstupné na věž stojí {entry_czk} korun, děti do šesti let mají vstup zdarma.",
        "Hrad je otevřen od dubna do října, v zimě jen o víkendech.",
        "Pro návrat můžete využít autobus, který jezdí každé dvě hodiny.",
        "Trasa měří celkem asi {km_total} kilometrů a zvládnou ji i menší děti.",
        "Psi jsou na hradě vítáni, musí však být na vodítku.",
    ),
    (
        "Výlet na hrad {castle} můžeme jen doporučit.",
        "Domů jsme se vraceli unavení, ale plní zážitků.",
        "Příště bychom se rádi vydali i na protější kopec s rozhlednou.",
    ),
)

#: Titles of how-to guides; ``{label}`` is an activity label in the nominative.
GUIDE_TITLES: tuple[str, ...] = (
    "{label}: postup krok za krokem",
    "{label} bez starostí",
    "Praktické dovednosti: {label_lower}",
    "{label} jako od profesionála",
)

#: Opening sentences of guides; the label is always the subject.
GUIDE_INTROS: tuple[str, ...] = (
    "{label} není nic složitého, pokud víte, jak postupovat.",
    "{label} patří k činnostem, které by měl zvládnout každý.",
    "{label} je dovednost, která se hodí v každé domácnosti.",
    "V našem seriálu o praktických dovednostech se tentokrát podíváme, jak to dělají zkušení.",
    "Připravili jsme pro vás jednoduchý návod, který vychází z pozorování zkušených lidí.",
)

#: Sentences that introduce the demonstrated procedure; ``{actor_lower}`` is nominative.
GUIDE_VIDEO_LEADS: tuple[str, ...] = (
    "Ve videu, které jsme natočili {town_loc}, ukazuje celý postup {actor_lower}.",
    "Na následujícím příkladu je vidět, jak to dělá {actor_lower}.",
    "Podívejme se, jak postupuje {actor_lower}.",
    "Celý postup nám předvedl zkušený praktik.",
)

#: Generic practical tips.
GUIDE_TIPS: tuple[str, ...] = (
    "Důležité je nespěchat a mít všechno připravené předem.",
    "Pokud si nejste jisti, požádejte o pomoc někoho zkušenějšího.",
    "Začátečníci by si měli celý postup nejprve několikrát vyzkoušet.",
    "Nezapomeňte, že bezpečnost je vždy na prvním místě.",
    "S trochou praxe to zvládnete za polovinu času.",
    "Po práci vždy ukliďte nářadí na své místo.",
    "Nejčastější chybou je, že lidé chtějí mít hotovo příliš rychle.",
    "Vyplatí se investovat do kvalitních pomůcek, které vydrží roky.",
)

#: Closing sentences of guides.
GUIDE_OUTROS: tuple[str, ...] = (
    "Tak hodně štěstí a ať se dílo podaří!",
    "V příštím díle se podíváme na další užitečnou dovednost.",
    "Své zkušenosti nám můžete napsat do komentářů pod článkem.",
)

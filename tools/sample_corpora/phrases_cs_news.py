"""Hand-written Czech phrase banks for local news articles (corpus ``cs_web``).

Each topic holds titles, lead sentences, detail sentences, direct quotes (without final
punctuation), reported clauses (to follow ``že``), closing sentences and the roles of the
people who may be quoted.  Slots in braces are filled by the generator with forms that never
need further inflection (see :mod:`sample_corpora.phrases_cs_common`).

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import TypedDict

from .phrases_cs_news_events import EVENT_TOPICS

__all__ = ["COMMUNITY_TOPICS", "NEWS_TOPICS", "SAID", "NewsTopic"]


class NewsTopic(TypedDict):
    """One news topic; ``roles`` are ``(masculine, feminine)`` pairs, the rest sentences."""

    roles: tuple[tuple[str, str], ...]
    titles: tuple[str, ...]
    leads: tuple[str, ...]
    details: tuple[str, ...]
    quotes: tuple[str, ...]
    reports: tuple[str, ...]
    closings: tuple[str, ...]


#: Verbs of saying as ``(masculine, feminine)`` past-tense pairs.
SAID: tuple[tuple[str, str], ...] = (
    ("uvedl", "uvedla"),
    ("řekl", "řekla"),
    ("vysvětlil", "vysvětlila"),
    ("dodal", "dodala"),
    ("upozornil", "upozornila"),
    ("potvrdil", "potvrdila"),
)

#: Community news: roads, schools, festivals, libraries, cycle paths and ponds.
COMMUNITY_TOPICS: tuple[NewsTopic, ...] = (
    {
        "roles": (("starosta", "starostka"), ("místostarosta", "místostarostka")),
        "titles": (
            "Oprava hlavní silnice {town_gen} začne {day}",
            "Silnice {town_loc} dostane nový povrch",
            "Řidiče {town_loc} čekají objížďky",
        ),
        "leads": (
            "{Day} začne {town_loc} rozsáhlá oprava hlavní silnice, která vede přes centrum.",
            "Hlavní silnice {town_loc} projde během léta kompletní rekonstrukcí.",
            "Práce na opravě silnice {town_loc} potrvají podle plánu {num_small} týdnů.",
        ),
        "details": (
            "Dělníci nejprve odfrézují starý asfalt a opraví poškozené obrubníky.",
            "Součástí stavby bude také nové veřejné osvětlení a bezpečnější přechod u školy.",
            "Po dobu prací bude silnice uzavřena a doprava povede po objížďce přes sousední obce.",
            "Autobusy budou jezdit podle upraveného jízdního řádu.",
            "Některé autobusové zastávky se na dobu opravy přesunou o několik set metrů.",
            "Oprava vyjde na {price_mil} milionů korun, většinu peněz uhradí kraj.",
            "Obyvatelé domů podél silnice se ke svým domům dostanou pouze pěšky.",
            "Stavební firma slíbila, že v noci a o víkendech pracovat nebude.",
            "Silnice byla tak rozbitá, že si na ni stěžovali řidiči i cyklisté.",
        ),
        "quotes": (
            "Víme, že objížďka lidi zdrží, ale oprava byla nutná",
            "Silnice byla v havarijním stavu a čekat už nešlo",
            "Pokud vydrží počasí, budeme hotovi ještě před začátkem školního roku",
        ),
        "reports": (
            "firma dokončí práce do konce září",
            "o postupu prací bude obyvatele pravidelně informovat na webu",
            "objížďka bude dobře označena už od hlavní silnice",
        ),
        "closings": (
            "Aktuální informace o uzavírkách najdou lidé na webových stránkách {town_gen}.",
            "Po dokončení opravy by měla silnice vydržet nejméně dvacet let.",
            "Další etapa oprav je naplánována na příští rok.",
        ),
    },
    {
        "roles": (("ředitel školky", "ředitelka školky"), ("starosta", "starostka")),
        "titles": (
            "{Town_nom} otevře novou mateřskou školku",
            "Nová školka {town_loc} přijme {num_mid} dětí",
            "Děti {town_loc} se dočkají nové školky",
        ),
        "leads": (
            "{Town_nom} dokončuje stavbu nové mateřské školy, která otevře své dveře v září.",
            "Rodiče malých dětí {town_loc} se mohou radovat, nová školka je téměř hotová.",
            "Po dvou letech stavby se {town_loc} blíží otevření nové mateřské školy.",
        ),
        "details": (
            "Budova má dvě prostorné třídy, jídelnu a zahradu s pískovištěm a skluzavkou.",
            "Kapacita dosavadní školky už dávno nestačila a řada dětí musela dojíždět jinam.",
            "Stavba stála přibližně {price_mil} milionů korun a část peněz pokryla dotace.",
            "Na zahradě vyroste také vyvýšený záhon, kde si děti samy vypěstují zeleninu.",
            "Zápis do nové školky proběhne {month_loc} {office_loc}.",
            "Školka bude otevřená od šesti hodin ráno, aby vyhověla rodičům, kteří dojíždějí.",
            "Ve školce bude pracovat pět učitelek a dvě asistentky.",
            "Střecha budovy je osázená rozchodníkem a na dvoře je nádrž na dešťovou vodu.",
        ),
        "quotes": (
            "Chtěli jsme, aby se děti cítily jako doma, a proto jsme zvolili hodně dřeva",
            "O místa je velký zájem, ale věříme, že letos uspokojíme všechny rodiny",
            "Nová školka je pro nás investicí do budoucnosti",
        ),
        "reports": (
            "přednost při zápisu budou mít děti s trvalým pobytem v místě",
            "školné zůstane stejné jako v původní budově",
            "v létě se uskuteční den otevřených dveří pro rodiče",
        ),
        "closings": (
            "Slavnostní otevření školky je naplánováno na první zářijový den.",
            "Přihlášky si mohou rodiče vyzvednout na úřadě nebo stáhnout z webu.",
            "Stará budova školky poslouží po rekonstrukci jako klubovna pro seniory.",
        ),
    },
    {
        "roles": (("předseda spolku", "předsedkyně spolku"), ("starosta", "starostka")),
        "titles": (
            "{Town_nom} chystá tradiční letní slavnosti",
            "Na slavnosti {town_loc} dorazily stovky lidí",
            "Pouť {town_loc} nabídne hudbu i řemeslný jarmark",
        ),
        "leads": (
            "{Day} se {town_loc} uskuteční tradiční letní slavnosti.",
            "Místní spolky připravily na sobotu bohatý program pro děti i dospělé.",
            "Místní spolky pořádají slavnosti {town_loc} každý rok už od roku {year}.",
        ),
        "details": (
            "Na návsi vystoupí dechová hudba a večer zahraje rocková kapela.",
            "Pro děti je připravena soutěž ve skákání v pytli a malování na obličej.",
            "Na řemeslném jarmarku budou k vidění výrobky z keramiky, dřeva a proutí.",
            "Místní hasiči předvedou ukázku zásahu a děti si mohou vyzkoušet hasičskou hadici.",
            "Součástí programu je také výstava starých fotografií z kroniky obce.",
            "Vstup na slavnosti je zdarma, výtěžek z tomboly půjde na opravu kapličky.",
            "Místní hospoda připraví grilované klobásy a domácí koláče.",
            "Večer slavnosti zakončí ohňostroj nad rybníkem.",
        ),
        "quotes": (
            "Slavnosti jsou pro nás příležitostí, kdy se sejdou všechny generace",
            "Přípravy trvaly několik měsíců a zapojila se do nich celá obec",
            "Doufáme, že nám vyjde počasí a přijde hodně lidí",
        ),
        "reports": (
            "v případě deště se program přesune do kulturního domu",
            "parkovat bude možné na louce za hřištěm",
            "letos se na přípravách podílelo přes padesát dobrovolníků",
        ),
        "closings": (
            "Podrobný program slavností je vyvěšen na vývěsce a na webu {town_gen}.",
            "Pořadatelé prosí návštěvníky, aby přijeli spíše pěšky nebo na kole.",
            "Slavnosti začínají v deset hodin dopoledne.",
        ),
    },
    {
        "roles": (("knihovník", "knihovnice"), ("starosta", "starostka")),
        "titles": (
            "Knihovna {town_loc} se po rekonstrukci znovu otevírá",
            "Místní knihovna má nové prostory i dětský koutek",
            "Knihovna {town_loc} půjčuje i deskové hry",
        ),
        "leads": (
            "Po půlroční rekonstrukci se {day} znovu otevře místní knihovna.",
            "Knihovna {town_loc} se přestěhovala do zrekonstruované budovy staré fary.",
            "Čtenáři {town_loc} se dočkali modernější knihovny.",
        ),
        "details": (
            "Knihovna získala nové regály, pohodlná křesla a dětský koutek s kobercem.",
            "Čtenáři si nově mohou půjčit také elektronické čtečky a deskové hry.",
            "V knihovně je k dispozici počítač s internetem a tiskárnou.",
            "Fond knihovny čítá přibližně {num_big} svazků a každý měsíc se rozšiřuje.",
            "Každý čtvrtek odpoledne bude probíhat čtení pro nejmenší děti.",
            "Knihovna plánuje besedy se spisovateli a cestovatelské přednášky.",
            "Roční registrace pro dospělé stojí padesát korun, děti mají členství zdarma.",
        ),
        "quotes": (
            "Chceme, aby knihovna byla místem, kde se lidé rádi potkávají",
            "Nejvíc se těším na děti, které k nám budou chodit po škole",
            "Zájem o čtení v obci neklesá, spíš naopak",
        ),
        "reports": (
            "otevírací doba se rozšíří o sobotní dopoledne",
            "knihy lze nově rezervovat přes internet",
            "knihovna přijímá darované knihy v dobrém stavu",
        ),
        "closings": (
            "Knihovna je otevřena v úterý a ve čtvrtek od 13 do 18 hodin.",
            "Všichni čtenáři jsou na slavnostní otevření srdečně zváni.",
            "Více informací podá knihovna telefonicky nebo e-mailem.",
        ),
    },
    {
        "roles": (("starosta", "starostka"), ("projektant", "projektantka")),
        "titles": (
            "Cyklostezka spojí {town_nom} se sousední obcí",
            "{Town_nom} buduje novou cyklostezku podél řeky",
            "Nová cyklostezka {town_loc} je hotová",
        ),
        "leads": (
            "Stavba cyklostezky, která povede podél řeky, začne {month_loc}.",
            "{Town_nom} se brzy dočká bezpečného spojení pro cyklisty a chodce.",
            "Cyklisté {town_loc} už nebudou muset jezdit po frekventované silnici.",
        ),
        "details": (
            "Stezka bude dlouhá přibližně {num_small} kilometrů a široká tři metry.",
            "Povrch bude asfaltový, takže ji využijí i bruslaři a maminky s kočárky.",
            "Podél trasy vyrostou odpočívadla s lavičkami a stojany na kola.",
            "Stezka povede po bývalém železničním náspu mezi poli a loukami.",
            "Na stavbu přispěl kraj i Státní fond dopravní infrastruktury.",
            "Nejsložitější částí stavby bude nová lávka přes potok.",
            "Dosud museli cyklisté jezdit po úzké silnici, kde je hustý provoz.",
        ),
        "quotes": (
            "Na tuhle stezku čekali lidé léta, konečně se to povedlo",
            "Bezpečnost cyklistů i chodců pro nás byla prioritou",
            "Věříme, že stezku budou využívat i děti cestou do školy",
        ),
        "reports": (
            "slavnostní otevření stezky se uskuteční na jaře",
            "stezka bude v zimě udržována a posypávána",
            "v budoucnu by se trasa mohla prodloužit až k hradu",
        ),
        "closings": (
            "Během stavby bude polní cesta k rybníku uzavřena.",
            "Obec zve všechny obyvatele na společnou první jízdu po nové stezce.",
            "Mapa trasy je k dispozici na úřadě a na internetu.",
        ),
    },
    {
        "roles": (("rybář", "rybářka"), ("hospodář rybářského spolku", "hospodářka spolku")),
        "titles": (
            "Výlov rybníka {town_loc} přilákal davy lidí",
            "Rybník {town_loc} prošel odbahněním",
            "Na hrázi {town_loc} se prodávali kapři přímo z kádí",
        ),
        "leads": (
            "{Day} se uskutečnil tradiční podzimní výlov rybníka {town_loc}.",
            "Rybník na okraji {town_gen} se po dvou letech znovu naplnil vodou.",
            "Stovky lidí sledovaly, jak rybáři vytahují sítě plné kaprů.",
        ),
        "details": (
            "Rybáři v holínkách a brodicích kalhotách stahovali síť k hrázi.",
            "Z rybníka vylovili kapry, štiky, amury i několik sumců.",
            "Čerstvé ryby se prodávaly přímo na hrázi z velkých kádí.",
            "Děti si mohly rybu podržet a nechat se s ní vyfotit.",
            "Odbahnění rybníka zlepší kvalitu vody a pomůže zadržet vodu v krajině.",
            "Na hrázi se podávala rybí polévka a smažené rybí hranolky.",
            "Rybník je domovem vzácných obojživelníků a vodních ptáků.",
        ),
        "quotes": (
            "Letošní úlovek je nadprůměrný, ryby dobře přibraly",
            "Výlov je pro nás svátek, na který se těšíme celý rok",
            "Po odbahnění bude rybník hlubší a ryby se v něm budou mít lépe",
        ),
        "reports": (
            "většina kaprů poputuje do sádek a na vánoční trh",
            "rybník bude na jaře znovu nasazen plůdkem",
            "rybářský spolek přijímá nové členy",
        ),
        "closings": (
            "Prodej ryb bude pokračovat i o příštím víkendu.",
            "Výlov se uskuteční opět za rok.",
            "Na hrázi je třeba dbát opatrnosti, protože je kluzká.",
        ),
    },
)

#: All news topics.
NEWS_TOPICS: tuple[NewsTopic, ...] = COMMUNITY_TOPICS + EVENT_TOPICS

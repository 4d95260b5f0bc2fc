"""Hand-written informal Czech phrase banks: forum threads and blog diaries (``cs_crawl``).

Gender-dependent words are written as ``[masculine|feminine]`` and resolved per speaker.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

__all__ = [
    "ACTIVITY_INTROS",
    "BLOG_BODY",
    "BLOG_CLOSINGS",
    "BLOG_OPENINGS",
    "BLOG_TITLES",
    "FORUM_GREETINGS",
    "FORUM_OP_FOLLOWUPS",
    "FORUM_REPLIES",
    "FORUM_TOPICS",
]

#: Opening phrases of a forum question.
FORUM_GREETINGS: tuple[str, ...] = (
    "Ahoj všem, [potřeboval|potřebovala] bych poradit.",
    "Dobrý den, prosím o radu.",
    "Zdravím, mám dotaz na zkušenější.",
    "Čau lidi, snad mi někdo pomůže.",
    "Ahoj, [hledal|hledala] jsem tu podobné téma, ale nic jsem [nenašel|nenašla].",
)

#: Forum topics: related activity labels, thread titles, question sentences (in order) and
#: topic-specific replies.
FORUM_TOPICS: tuple[dict[str, tuple[str, ...]], ...] = (
    {
        "activities": ("Mytí auta", "Výměna pneumatiky"),
        "titles": ("Auto ráno nechce nastartovat", "Auto v mrazu nestartuje, co s tím?"),
        "question": (
            "Od minulého týdne mi auto ráno nechce nastartovat, jenom to cvakne a nic.",
            "Když to ale odpoledne zkusím znovu, chytne na první pokus.",
            "Baterka je stará asi pět let, ale minulou zimu byla v pohodě.",
            "Nechci hned utrácet v servisu, tak se ptám tady.",
            "Máte někdo podobnou zkušenost?",
        ),
        "replies": (
            "To bude na sto procent baterka, v mrazu ztrácí kapacitu a pět let je na ni dost.",
            "Nech si ji změřit v servisu, většinou to udělají zadarmo.",
            "Zkontroluj taky svorky, jestli nejsou zoxidované, to dělá divy.",
            "Mně se stalo to samý a nakonec to byl startér.",
            "Kup si nabíječku a dej baterku přes noc nabít, uvidíš.",
            "Jestli to jen cvakne, tak bych [tipoval|tipovala] relé nebo startér.",
        ),
    },
    {
        "activities": ("Zalévání zahrady", "Sekání trávy"),
        "titles": ("Rajčatům žloutnou listy", "Co na plíseň u rajčat?"),
        "question": (
            "Letos mi na zahrádce žloutnou spodní listy rajčat a jsou na nich hnědé skvrny.",
            "Zalévám každý večer a hnojím kopřivovým výluhem.",
            "Loni se mi to nestalo, tak nevím, co dělám špatně.",
            "Poradíte, jestli je ještě můžu zachránit?",
        ),
        "replies": (
            "To vypadá na plíseň, postižené listy hned otrhej a vyhoď je, nedávej je na kompost.",
            "Nezalévej na listy, jen ke kořenům, a radši ráno než večer.",
            "Já mám rajčata pod stříškou a od té doby s plísní problém nemám.",
            "Zkus postřik z přesličky, mně to pomohlo.",
            "Spodní listy stejně otrhávej, ať rostlina dýchá.",
        ),
    },
    {
        "activities": (),
        "titles": ("Notebook se přehřívá", "Větrák v notebooku jede pořád naplno"),
        "question": (
            "Mám asi čtyři roky starý notebook a poslední dobou se strašně zahřívá.",
            "Větrák jede pořád naplno a občas se to celé samo vypne.",
            "Nic náročného na něm nedělám, jen internet a filmy.",
            "Vyplatí se to ještě řešit, nebo mám rovnou koupit nový?",
        ),
        "replies": (
            "Rozdělej ho a vyčisti větrák od prachu, to je v devíti případech z deseti ono.",
            "Vyměň teplovodivou pastu na procesoru, po čtyřech letech už je vyschlá.",
            "Kup si chladicí podložku, stojí pár stovek.",
            "Nepokládej ho na postel nebo na deku, to zakrývá větrání.",
            "Já bych ho [dal|dala] do servisu, čištění stojí kolem pěti stovek.",
        ),
    },
    {
        "activities": (),
        "titles": ("Dvouleté dítě nechce večer spát", "Usínání batolete, zoufalá máma"),
        "question": (
            "Náš syn má dva roky a poslední měsíc vůbec nechce večer usnout.",
            "Uspávání trvá klidně dvě hodiny a pak se v noci několikrát budí.",
            "Jsme už oba úplně vyčerpaní.",
            "Máte nějaké osvědčené triky?",
        ),
        "replies": (
            "Nám pomohl pravidelný večerní rituál, koupání, pohádka a spát, pořád ve stejný čas.",
            "Zkraťte mu odpolední spánek, možná spí přes den moc dlouho.",
            "Tohle je fáze, přejde to, vydržte.",
            "Vypněte hodinu před spaním televizi i tablet, to dělá hodně.",
            "My jsme mu koupili noční světýlko a od té doby se nebojí tmy.",
        ),
    },
    {
        "activities": ("Malování pokoje", "Výměna žárovky"),
        "titles": ("Kolik stojí rekonstrukce koupelny?", "Cenová nabídka na koupelnu, je to moc?"),
        "question": (
            "Chystáme rekonstrukci malé koupelny v paneláku, asi čtyři metry čtvereční.",
            "Chceme vyměnit vanu za sprchový kout a udělat nové obklady.",
            "Dostali jsme nabídku na sto osmdesát tisíc a přijde nám to hodně.",
            "Je to normální cena, nebo nás chtějí natáhnout?",
        ),
        "replies": (
            "Bohužel to je dneska normální cena, řemeslníci i materiál hrozně podražili.",
            "Nechte si udělat aspoň tři nabídky a porovnejte je.",
            "Obklady si kupte sami, ušetříte na marži.",
            "Hlavně si pohlídejte hydroizolaci pod sprchou, to se nevyplácí šidit.",
            "My jsme dělali koupelnu loni a nakonec to vyšlo ještě dráž, než říkali.",
        ),
    },
    {
        "activities": ("Venčení psa",),
        "titles": ("Pes tahá na vodítku", "Labrador na procházce táhne jak traktor"),
        "question": (
            "Máme ročního labradora a na procházkách strašně tahá na vodítku.",
            "Když uvidí jiného psa, skoro mě povalí.",
            "Zkoušeli jsme různé obojky, ale nic nepomáhá.",
            "Vyplatí se jít do psí školy?",
        ),
        "replies": (
            "Psí škola rozhodně, naučí to spíš vás než psa :-)",
            "Když zatáhne, zastav se a počkej, až povolí, a teprve pak jdi dál.",
            "Zkus postroj s kroužkem na hrudi, u nás to hodně pomohlo.",
            "Víc ho unav, labrador potřebuje pořádný pohyb, házej mu míček.",
            "Hlavně trpělivost, za měsíc to nebude, to je běh na dlouhou trať.",
        ),
    },
    {
        "activities": ("Pečení chleba", "Vaření"),
        "titles": ("Proč mi nekyne těsto na chleba?", "Domácí chleba je placatý"),
        "question": (
            "Zkouším péct chleba doma a těsto mi vůbec nenakyne.",
            "Dávám mouku, sůl, vodu a droždí podle receptu.",
            "Nechám to hodinu v kuchyni, ale pořád je to placka.",
            "Co dělám špatně?",
        ),
        "replies": (
            "Voda nesmí být horká, jinak droždí zabiješ, musí být jen vlažná.",
            "Dej mísu na teplé místo, třeba k topení, a přikryj ji utěrkou.",
            "Droždí musí být čerstvé, zkontroluj datum.",
            "Sůl nesypej přímo na droždí, to mu nedělá dobře.",
            "Hněť déle, aspoň deset minut, dokud těsto nepřestane lepit.",
        ),
    },
    {
        "activities": ("Jízda na kole",),
        "titles": ("Jaké kolo pro začátečníka?", "Trekové, nebo horské kolo?"),
        "question": (
            "Po letech bych [chtěl|chtěla] zase začít jezdit na kole.",
            "Hlavně po cyklostezkách a polních cestách, žádné závody.",
            "Rozpočet mám kolem patnácti tisíc.",
            "Doporučíte trekové, nebo horské kolo?",
        ),
        "replies": (
            "Na cyklostezky bych [vzal|vzala] trekové, je pohodlnější.",
            "Za patnáct tisíc už seženeš slušné horské kolo s dobrými brzdami.",
            "Kup si nějaké z bazaru, na začátek to úplně stačí.",
            "Nezapomeň na helmu a pořádný zámek.",
            "Hlavně si ho vyzkoušej, správná velikost rámu je základ.",
        ),
    },
)

#: Replies that fit any thread.
FORUM_REPLIES: tuple[str, ...] = (
    "Taky by mě to zajímalo, mám úplně stejný problém.",
    "Tohle už se tu řešilo, zkus vyhledávání.",
    "Mně pomohlo přesně tohle, tak hodně štěstí :-)",
    "Souhlasím s předchozím příspěvkem.",
    "Napiš pak, jak to dopadlo.",
    "Přesně tak, nic jiného bych [nezkoušel|nezkoušela].",
    "Nejsem odborník, ale já bych to nechal[|a] na někom, kdo tomu rozumí.",
)

#: Follow-ups by the author of the thread.
FORUM_OP_FOLLOWUPS: tuple[str, ...] = (
    "Díky moc, to mě nenapadlo.",
    "Tak jsem to [zkusil|zkusila] a opravdu to pomohlo, díky!",
    "Ještě jednou díky všem, jste super.",
    "Díky, zkusím to a dám vědět.",
)

#: Titles of blog diary entries.
BLOG_TITLES: tuple[str, ...] = (
    "Zápisky ze zahrady",
    "Víkendové zápisky",
    "Co se u nás dělo tento týden",
    "Můj první půlmaraton",
    "Stěhování aneb chaos v krabicích",
    "Nedělní pečení",
    "Deník z chalupy",
)

#: First sentences of blog entries.
BLOG_OPENINGS: tuple[str, ...] = (
    "Tak jsem zase tady, po dlouhé době.",
    "Dneska to bude krátké, jsem [utahaný|utahaná] jak kotě.",
    "Tenhle týden byl fakt nabitý.",
    "Ahoj, milí čtenáři!",
    "No, kde začít.",
    "Počasí bylo celý týden příšerné, ale víkend to vynahradil.",
)

#: Sentences for the body of blog entries.
BLOG_BODY: tuple[str, ...] = (
    "V sobotu ráno jsme vyrazili na chalupu a cestou jsme se zastavili u babičky.",
    "Na zahradě bylo po týdnu deště tolik práce, že nevím, kam dřív skočit.",
    "Rajčata konečně začínají červenat a okurek je letos tolik, že je rozdávám sousedům.",
    "Odpoledne jsem [upekl|upekla] bábovku, ale trochu se mi připálila.",
    "Večer jsme seděli na terase a koukali na hvězdy.",
    "V práci je teď blázinec, takže se na víkendy těším dvojnásob.",
    "Běhat chodím třikrát týdně a pomalu se dostávám do formy.",
    "Dneska jsem [uběhl|uběhla] deset kilometrů bez zastavení, což je můj osobní rekord!",
    "Krabice od stěhování pořád stojí v obýváku a nikomu se je nechce vybalit.",
    "Kočka zase ulovila myš a hrdě nám ji donesla až na práh.",
    "V neděli jsme byli na procházce u rybníka a viděli jsme volavku.",
    "[Zkusil|Zkusila] jsem nový recept na dýňovou polévku a byl to úspěch.",
    "Děti se celý den honily po zahradě a večer usnuly hned po večeři.",
    "Soused nám půjčil sekačku, protože ta naše zase nechtěla naskočit.",
    "Musím se přiznat, že na úklid jsem tento týden úplně [zapomněl|zapomněla].",
    "Ráno byla na trávě jinovatka, tak jsem [zakryl|zakryla] záhony netkanou textilií.",
    "Konečně jsem [dočetl|dočetla] knížku, kterou mám rozečtenou od jara.",
    "Babička mi ukázala, jak se plete šála, a já jsem [zjistil|zjistila], že to není vůbec lehké.",
    "Na trhu jsem [koupil|koupila] med od místního včelaře a je výborný.",
    "Večer jsem [zavolal|zavolala] kamarádce a [kecali|kecaly] jsme skoro dvě hodiny.",
)

#: Sentences that introduce an activity narrative inside a blog entry or forum post.
ACTIVITY_INTROS: tuple[str, ...] = (
    "Dneska jsem u sousedů [viděl|viděla], jak se to dělá pořádně.",
    "Odpoledne jsem [koukal|koukala] z okna, jak na to jde někdo zkušený.",
    "[Našel|Našla] jsem na internetu video, kde je to hezky vidět.",
    "Popíšu vám, jak to u nás probíhalo.",
    "Kdyby to někoho zajímalo, takhle to vypadalo krok za krokem.",
)

#: Final sentences of blog entries.
BLOG_CLOSINGS: tuple[str, ...] = (
    "Tak zase příště!",
    "Mějte se krásně a napište mi, jak jste se měli vy.",
    "Díky, že čtete, a brzy zase ahoj.",
    "Fotky přidám, až je stáhnu z mobilu.",
)

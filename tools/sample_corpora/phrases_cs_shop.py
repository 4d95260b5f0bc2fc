"""Hand-written Czech phrase banks: recipes and classified ads (corpus ``cs_crawl``).

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "ADS_BUY",
    "ADS_JOBS",
    "ADS_LOST",
    "ADS_RENT",
    "AD_SELL_ITEMS",
    "AD_SELL_LINES",
    "RECIPES",
    "RECIPE_INTROS",
    "RECIPE_OUTROS",
    "Recipe",
]


class Recipe(TypedDict):
    """A recipe: title, related activity label, ingredients and steps."""

    title: str
    activity: str
    ingredients: tuple[str, ...]
    steps: tuple[str, ...]


#: Recipes: title, related activity label, ingredients and steps in the first person plural.
RECIPES: tuple[Recipe, ...] = (
    {
        "title": "Bramboračka s houbami",
        "activity": "Vaření",
        "ingredients": (
            "500 g brambor",
            "2 mrkve",
            "1 petržel",
            "kousek celeru",
            "1 cibule",
            "3 stroužky česneku",
            "hrst sušených hub",
            "2 lžíce hladké mouky",
            "majoránka, kmín, sůl, pepř",
        ),
        "steps": (
            "Brambory oloupeme a nakrájíme na kostičky.",
            "Kořenovou zeleninu očistíme a nastrouháme nahrubo.",
            "Na oleji osmažíme nadrobno nakrájenou cibuli dozlatova.",
            "Přidáme mouku a uděláme světlou jíšku.",
            "Jíšku zalijeme vodou, přidáme brambory, zeleninu a namočené houby.",
            "Polévku vaříme asi dvacet minut, dokud brambory nezměknou.",
            "Nakonec přidáme prolisovaný česnek a majoránku a dosolíme podle chuti.",
        ),
    },
    {
        "title": "Domácí kmínový chléb",
        "activity": "Pečení chleba",
        "ingredients": (
            "300 g žitné mouky",
            "200 g pšeničné mouky",
            "20 g droždí",
            "350 ml vlažné vody",
            "2 lžičky soli",
            "1 lžička kmínu",
        ),
        "steps": (
            "Droždí rozmícháme ve vlažné vodě se lžičkou cukru.",
            "Do mísy nasypeme obě mouky, sůl a kmín.",
            "Přilijeme kvásek a hněteme těsto alespoň deset minut.",
            "Mísu přikryjeme utěrkou a necháme těsto hodinu kynout na teplém místě.",
            "Vykynuté těsto vytvarujeme do bochníku a potřeme vodou.",
            "Pečeme v troubě vyhřáté na 220 stupňů asi 45 minut.",
            "Upečený chléb necháme vychladnout na mřížce.",
        ),
    },
    {
        "title": "Palačinky s marmeládou",
        "activity": "Úklid kuchyně",
        "ingredients": (
            "250 ml mléka",
            "120 g hladké mouky",
            "2 vejce",
            "špetka soli",
            "olej na smažení",
            "marmeláda na plnění",
        ),
        "steps": (
            "Vejce rozšleháme s mlékem a špetkou soli.",
            "Postupně přidáváme mouku a mícháme, dokud nevznikne hladké řídké těsto.",
            "Těsto necháme půl hodiny odpočinout.",
            "Na pánvi rozpálíme trochu oleje a nalijeme jednu naběračku těsta.",
            "Palačinku smažíme z obou stran dozlatova.",
            "Hotové palačinky potřeme marmeládou a zarolujeme.",
        ),
    },
    {
        "title": "Hovězí guláš",
        "activity": "Vaření",
        "ingredients": (
            "1 kg hovězí kližky",
            "4 cibule",
            "3 lžíce sladké papriky",
            "1 lžíce kmínu",
            "2 stroužky česneku",
            "sůl, pepř, majoránka",
            "olej",
        ),
        "steps": (
            "Cibuli nakrájíme nadrobno a na oleji ji pomalu osmažíme dohněda.",
            "Maso nakrájíme na kostky a přidáme k cibuli.",
            "Maso zprudka opečeme ze všech stran.",
            "Hrnec stáhneme z ohně, maso zasypeme paprikou a krátce promícháme.",
            "Podlijeme vodou, přidáme kmín a dusíme doměkka asi dvě hodiny.",
            "Nakonec přidáme česnek a majoránku a necháme chvíli probublat.",
        ),
    },
    {
        "title": "Jablečný závin",
        "activity": "Příprava kávy",
        "ingredients": (
            "1 balení listového těsta",
            "1 kg jablek",
            "hrst rozinek",
            "hrst vlašských ořechů",
            "3 lžíce cukru",
            "1 lžička skořice",
            "strouhanka",
            "1 vejce",
        ),
        "steps": (
            "Jablka oloupeme a nastrouháme nahrubo.",
            "Smícháme je s cukrem, skořicí, rozinkami a nasekanými ořechy.",
            "Listové těsto rozválíme na tenký plát a posypeme strouhankou.",
            "Na těsto rozložíme jablečnou náplň a těsto opatrně zarolujeme.",
            "Závin potřeme rozšlehaným vejcem.",
            "Pečeme při 180 stupních asi 40 minut dozlatova.",
        ),
    },
    {
        "title": "Křupavé bramboráky",
        "activity": "Úklid kuchyně",
        "ingredients": (
            "1 kg brambor",
            "2 vejce",
            "4 stroužky česneku",
            "3 lžíce hladké mouky",
            "majoránka, sůl, pepř",
            "sádlo nebo olej na smažení",
        ),
        "steps": (
            "Brambory oloupeme a nastrouháme najemno.",
            "Z nastrouhaných brambor vymačkáme přebytečnou vodu.",
            "Přidáme vejce, prolisovaný česnek, mouku a koření a vše promícháme.",
            "Na pánvi rozpálíme tuk a lžící tvoříme tenké placky.",
            "Bramboráky smažíme z obou stran dozlatova.",
            "Hotové bramboráky necháme okapat na papírové utěrce.",
        ),
    },
    {
        "title": "Smažený sýr",
        "activity": "Úklid kuchyně",
        "ingredients": (
            "4 plátky eidamu",
            "2 vejce",
            "hladká mouka",
            "strouhanka",
            "olej na smažení",
            "tatarská omáčka",
        ),
        "steps": (
            "Plátky sýra obalíme v mouce, rozšlehaném vejci a strouhance.",
            "Obalování zopakujeme dvakrát, aby sýr při smažení nevytekl.",
            "V pánvi rozpálíme dostatek oleje.",
            "Sýr smažíme krátce z obou stran dozlatova.",
            "Podáváme s vařenými brambory a tatarskou omáčkou.",
        ),
    },
    {
        "title": "Zeleninová polévka",
        "activity": "Vaření",
        "ingredients": (
            "2 mrkve",
            "3 brambory",
            "1 cibule",
            "hrst hrášku",
            "kousek celeru",
            "čerstvá petrželka",
            "sůl",
        ),
        "steps": (
            "Do velkého hrnce dáme vařit osolenou vodu.",
            "Cibuli oloupeme a nakrájíme na drobné kousky.",
            "Na pánvi rozpálíme trochu oleje a osmažíme na něm cibuli dozlatova.",
            "Do hrnce přidáme nakrájenou mrkev, brambory a osmaženou cibuli.",
            "Polévku necháme zvolna vařit asi dvacet minut a občas ji zamícháme.",
            "Polévku ochutnáme a dosolíme podle chuti.",
            "Hotovou polévku nalijeme do talířů a posypeme čerstvou petrželkou.",
        ),
    },
)

#: Introductions of recipe posts.
RECIPE_INTROS: tuple[str, ...] = (
    "Tenhle recept mám od babičky a dělám ho pořád dokola.",
    "Dneska vám přináším jednoduchý recept, který zvládne i úplný začátečník.",
    "U nás doma se tohle vaří skoro každou neděli.",
    "Na přání několika z vás sdílím recept, o který jste si psali.",
    "Rychlé jídlo na všední den, které chutná celé rodině.",
)

#: Closing sentences of recipe posts.
RECIPE_OUTROS: tuple[str, ...] = (
    "Dobrou chuť!",
    "Pokud recept vyzkoušíte, napište mi do komentářů, jak vám chutnalo.",
    "Příprava zabere zhruba hodinu.",
    "Recept je pro čtyři osoby.",
)

#: Items for sale, in the accusative (they follow ``Prodám``).
AD_SELL_ITEMS: tuple[str, ...] = (
    "dětské kolo s pomocnými kolečky",
    "zimní pneumatiky na ocelových discích",
    "rozkládací sedačku",
    "kočárek tři v jednom",
    "pračku s předním plněním",
    "sadu zahradního nábytku",
    "horské kolo",
    "lednici s mrazákem",
    "kytaru s pouzdrem",
    "stan pro čtyři osoby",
    "elektrickou sekačku",
    "sjezdové lyže s vázáním",
    "dřevěnou dětskou postýlku",
    "akvárium s příslušenstvím",
)

#: Lines added to a sale ad (none of them depends on the item's gender).
AD_SELL_LINES: tuple[str, ...] = (
    "Je to ve velmi dobrém stavu, bez poškození.",
    "Jen drobné známky používání.",
    "Důvod prodeje: stěhování.",
    "Důvod prodeje: děti vyrostly.",
    "Vše plně funkční, lze vyzkoušet na místě.",
    "Osobní odběr {town_loc}, případně pošlu poštou.",
    "Cena dohodou.",
)

#: Wanted-to-buy ads.
ADS_BUY: tuple[str, ...] = (
    "Koupím starý motocykl v jakémkoli stavu, i nepojízdný.",
    "Koupím staré hračky a plechová autíčka z doby před rokem 1990.",
    "Koupím pozemek nebo chatu v okolí {town_gen}.",
    "Koupím palivové dřevo, nejlépe buk nebo dub.",
    "Koupím použité cihly a střešní tašky z demolice.",
)

#: Rental ads, always used together in this order.
ADS_RENT: tuple[str, ...] = (
    "Pronajmu byt 2+1 {town_loc}, v klidné části blízko lesa.",
    "Byt je po rekonstrukci a částečně zařízený.",
    "Nájem {rent_czk} Kč měsíčně plus energie.",
    "Vhodné pro pár nebo menší rodinu, domácí mazlíčci po dohodě.",
    "K bytu patří sklep a místo na zahradě.",
)

#: Job offers and services.
ADS_JOBS: tuple[str, ...] = (
    "Hledáme brigádníky na sběr jahod, práce vhodná i pro studenty.",
    "Přijmeme kuchaře nebo kuchařku do restaurace {town_loc}.",
    "Hledám paní na úklid rodinného domu jednou týdně.",
    "Nabízím doučování matematiky pro žáky základní školy.",
    "Nabízím hlídání dětí, mám zkušenosti a doporučení.",
    "Provádím drobné zednické a malířské práce, levně a rychle.",
)

#: Lost-and-found ads.
ADS_LOST: tuple[str, ...] = (
    "Ztratil se pes, hnědý kříženec jezevčíka, slyší na jméno Ben.",
    "Na parkovišti u obchodu se našel klíč od auta s modrou klíčenkou.",
    "Ztratila se šedá kočka s bílými tlapkami.",
    "V autobuse zůstal dětský batoh s učebnicemi.",
)

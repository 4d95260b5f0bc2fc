"""Hand-written Czech phrase banks for news about events: storms, fires, weather and sport.

Same structure as :mod:`sample_corpora.phrases_cs_news` (used for corpus ``cs_web``).

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # runtime import would be circular: phrases_cs_news imports this module
    from .phrases_cs_news import NewsTopic

__all__ = ["EVENT_TOPICS"]

#: Event news topics.
EVENT_TOPICS: tuple[NewsTopic, ...] = (
    {
        "roles": (("velitel hasičů", "velitelka hasičů"), ("starosta", "starostka")),
        "titles": (
            "Silná bouřka poničila střechy {town_loc}",
            "Vichřice {town_loc} lámala stromy",
            "Přívalový déšť zaplavil sklepy {town_loc}",
        ),
        "leads": (
            "{Day} večer se přes {town_nom} přehnala silná bouřka s krupobitím.",
            "Prudká bouřka, která {day} zasáhla {town_nom}, napáchala škody za statisíce.",
            "Hasiči vyjížděli {day} večer {town_loc} k desítkám zásahů.",
        ),
        "details": (
            "Vítr lámal stromy a na několika místech strhl střešní krytinu.",
            "Voda z polí zaplavila sklepy a zahrady v dolní části {town_gen}.",
            "Spadlý strom zablokoval silnici a na několik hodin přerušil elektrické vedení.",
            "Hasiči odčerpávali vodu ze sklepů až do pozdních nočních hodin.",
            "Kroupy velikosti třešní poškodily auta zaparkovaná na ulici.",
            "Bez elektřiny zůstalo na několik hodin přibližně {num_big} domácností.",
            "Nikdo naštěstí nebyl vážně zraněn.",
            "Místní dobrovolníci pomáhali sousedům vynášet zatopené věci ze sklepů.",
        ),
        "quotes": (
            "Takovou bouřku tady nepamatují ani nejstarší obyvatelé",
            "Během jedné hodiny jsme měli přes dvacet výjezdů",
            "Lidem děkuji, že si navzájem pomáhali a nikdo nezůstal sám",
        ),
        "reports": (
            "obec požádá kraj o finanční pomoc na opravu škod",
            "kontejnery na poničené věci budou přistaveny u hasičské zbrojnice",
            "meteorologové varovali před bouřkami už od rána",
        ),
        "closings": (
            "Lidé, kterým bouřka poškodila majetek, by měli co nejdříve kontaktovat pojišťovnu.",
            "Odklízení následků bouřky potrvá ještě několik dní.",
            "Podle předpovědi by se bouřky mohly během týdne vrátit.",
        ),
    },
    {
        "roles": (("mluvčí hasičů", "mluvčí hasičů"), ("velitel hasičů", "velitelka hasičů")),
        "titles": (
            "Požár stodoly {town_loc} hasilo pět jednotek",
            "Oheň {town_loc} zničil dřevník a ohrožoval dům",
            "Hasiči {town_loc} zachránili rodinný dům před plameny",
        ),
        "leads": (
            "{Day} odpoledne vypukl {town_loc} požár stodoly na okraji obce.",
            "K požáru dřevníku vyjížděli hasiči {day} krátce před půlnocí.",
            "Rychlý zásah hasičů {day} zabránil tomu, aby se oheň rozšířil na dům.",
        ),
        "details": (
            "Na místo vyjelo pět jednotek hasičů včetně dobrovolníků ze sousedních obcí.",
            "Plameny byly vidět až z vedlejší vesnice.",
            "Hasiči museli vodu dovážet cisternami, protože hydrant nestačil.",
            "Ve stodole bylo uskladněno seno a zemědělské stroje.",
            "Škoda byla předběžně vyčíslena na několik set tisíc korun.",
            "Příčinu požáru nyní zjišťuje vyšetřovatel.",
            "Zraněn nebyl nikdo, majitel stihl ze stavení vyvést zvířata.",
            "Dohašování a rozebírání spálených trámů trvalo až do rána.",
        ),
        "quotes": (
            "Oheň se šířil velmi rychle, protože uvnitř bylo suché seno",
            "Díky rychlému zásahu se podařilo ochránit sousední rodinný dům",
            "Lidem připomínáme, aby v suchém období nerozdělávali ohně",
        ),
        "reports": (
            "jednotky byly na místě do deseti minut od ohlášení",
            "požár pravděpodobně způsobila závada na elektroinstalaci",
            "hasiči drželi na místě hlídku až do rána",
        ),
        "closings": (
            "Hasiči upozorňují, že v létě platí zákaz rozdělávání ohňů v lesích.",
            "Vyšetřování příčiny požáru pokračuje.",
            "Obec nabídla majiteli pomoc s odklizením trosek.",
        ),
    },
    {
        "roles": (("meteorolog", "meteoroložka"),),
        "titles": (
            "Víkend přinese teplé počasí, odpoledne hrozí bouřky",
            "Léto se vrací, teploty vystoupí nad třicet stupňů",
            "Meteorologové slibují slunečný týden",
        ),
        "leads": (
            "Nadcházející dny budou {region_loc} převážně slunečné a teplé.",
            "Po chladnějším týdnu se {region_loc} opět oteplí.",
            "Meteorologové předpovídají {region_loc} letní počasí s odpoledními bouřkami.",
        ),
        "details": (
            "Odpolední teploty vystoupí až k {temp} stupňům Celsia.",
            "Ráno se v údolích mohou tvořit mlhy, které se brzy rozpustí.",
            "Na odpoledne jsou hlášeny bouřky s přívalovými srážkami a kroupami.",
            "Noci budou teplé a ve městech teplota neklesne pod dvacet stupňů.",
            "Lékaři doporučují pít dostatek vody a v poledne nevycházet na slunce.",
            "Koupaliště a přírodní nádrže očekávají nápor návštěvníků.",
            "Zemědělci se obávají, že sucho poškodí úrodu obilí.",
        ),
        "quotes": (
            "Nejtepleji bude v neděli, pak přijde studená fronta",
            "Bouřky budou velmi nerovnoměrné, někde nezaprší vůbec",
            "Tropické noci letos přicházejí dříve než obvykle",
        ),
        "reports": (
            "teploty se v příštím týdnu vrátí k dlouhodobému průměru",
            "výstraha před bouřkami platí až do nedělního večera",
            "srážek bude méně, než by krajina potřebovala",
        ),
        "closings": (
            "Aktuální výstrahy zveřejňuje Český hydrometeorologický ústav na svém webu.",
            "Podrobnou předpověď na další dny přineseme v pondělí.",
            "Houbaři si na bohatou úrodu budou muset ještě počkat.",
        ),
    },
    {
        "roles": (("meteorolog", "meteoroložka"),),
        "titles": (
            "Meteorologové varují před mrazem",
            "Do Česka se vrací déšť a ochlazení",
            "Na horách napadne první sníh",
        ),
        "leads": (
            "Meteorologové očekávají, že teploty {region_loc} v noci klesnou pod nulu.",
            "Po několika slunečných dnech se {region_loc} výrazně ochladí.",
            "Studená fronta přinese {region_loc} déšť a na horách i sníh.",
        ),
        "details": (
            "Denní teploty nepřekročí deset stupňů Celsia.",
            "Na horách může padat sníh a silnice budou místy namrzat.",
            "Vítr bude foukat od západu a v nárazech dosáhne až šedesáti kilometrů za hodinu.",
            "Zemědělci vítají déšť, protože půda byla po suchém létě vyprahlá.",
            "Ve druhé polovině týdne by se mělo opět vyjasnit.",
            "Zahrádkáři by měli choulostivé rostliny na noc přikrýt.",
            "Ranní mrazy mohou poškodit kvetoucí ovocné stromy.",
        ),
        "quotes": (
            "Řidičům doporučujeme, aby na horách počítali s náledím",
            "Mrazy ve dvou metrech nad zemí mohou dosáhnout až minus pěti stupňů",
            "Déšť přijde vhod, ale sucho v hlubších vrstvách půdy nevyřeší",
        ),
        "reports": (
            "nejchladnější bude noc ze soboty na neděli",
            "výstraha před náledím platí pro vyšší polohy",
            "ochlazení potrvá nejméně do konce týdne",
        ),
        "closings": (
            "Aktuální výstrahy zveřejňuje Český hydrometeorologický ústav na svém webu.",
            "Řidiči by měli přezout na zimní pneumatiky.",
            "Houbaři se mohou po deštích těšit na bohatou úrodu.",
        ),
    },
    {
        "roles": (("trenér", "trenérka"), ("předseda klubu", "předsedkyně klubu")),
        "titles": (
            "Fotbalisté z {town_gen} porazili souseda",
            "Místní fotbalový klub slaví postup do vyšší soutěže",
            "Derby {town_loc} skončilo smírně",
        ),
        "leads": (
            "Fotbalisté z {town_gen} zvítězili {day} v domácím derby 3:1.",
            "Místní fotbalový klub zakončil sezónu na prvním místě tabulky.",
            "Nedělní derby na hřišti {town_loc} sledovalo přes {num_big} diváků.",
        ),
        "details": (
            "Domácí otevřeli skóre už v desáté minutě po rychlém protiútoku.",
            "Hosté sice ve druhém poločase snížili, ale na vyrovnání už nedosáhli.",
            "Hrálo se na novém trávníku, který klub vybudoval s pomocí obce.",
            "Nejlepším hráčem zápasu byl brankář, který chytil pokutový kop.",
            "Po zápase se konala tombola a diváci mohli ochutnat domácí guláš.",
            "Klub hledá nové hráče do mládežnických týmů.",
            "Tréninky žáků probíhají v úterý a ve čtvrtek na místním hřišti.",
        ),
        "quotes": (
            "Kluci makali celý zápas a vítězství si zasloužili",
            "Bez podpory fanoušků bychom to nezvládli",
            "Teď si odpočineme a v létě začneme znovu trénovat",
        ),
        "reports": (
            "klub plánuje rekonstrukci šaten",
            "do týmu se vrací zkušený útočník po zranění",
            "vstupné na domácí zápasy zůstane i v příští sezóně dobrovolné",
        ),
        "closings": (
            "Další zápas sehrají fotbalisté příští neděli na hřišti soupeře.",
            "Klub děkuje všem sponzorům a fanouškům za podporu.",
            "Nábor mladých fotbalistů probíhá po celé léto.",
        ),
    },
)

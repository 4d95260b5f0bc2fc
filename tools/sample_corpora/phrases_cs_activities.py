"""Hand-written Czech activity scripts shared by the corpora and CS-HellaSwag.

Each activity has a label (as used by HellaSwag, e.g. ``Vaření``), several possible actors
and an ordered list of steps.  A step is a verb phrase in the third person singular of the
present/perfective future, which has the same form for both genders, so any actor fits.

Rules that keep every combination grammatical:

* a step never starts with a clitic (``se``, ``si``, ``ho``, ``ji`` ...) and its first
  clause contains none, so it can follow an actor (``Muž nakrájí ...``) or a connector
  (``Potom nakrájí ...``);
* clitics only appear directly after the verb of a later ``a``-clause (``a vhodí ji``);
* steps contain no connecting adverbs like ``potom`` or ``nakonec``.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ACTIVITIES", "Activity"]


class Activity(NamedTuple):
    """One everyday activity: HellaSwag label, possible actors and ordered steps."""

    label: str
    actors: tuple[str, ...]
    steps: tuple[str, ...]


ACTIVITIES: tuple[Activity, ...] = (
    Activity(
        "Vaření",
        ("Muž v zástěře", "Mladá kuchařka", "Starší pán", "Kuchař v bílé čepici"),
        (
            "postaví na sporák velký hrnec s osolenou vodou",
            "oloupe cibuli a nakrájí ji na drobné kousky",
            "rozpálí na pánvi trochu oleje a osmaží na něm cibuli dozlatova",
            "přidá do hrnce nakrájenou mrkev, brambory a osmaženou cibuli",
            "nechá polévku zvolna vařit asi dvacet minut a občas ji zamíchá",
            "ochutná polévku lžící a dosolí ji podle chuti",
            "nalije hotovou polévku do talířů a posype ji čerstvou petrželkou",
        ),
    ),
    Activity(
        "Pečení chleba",
        ("Pekař", "Babička", "Mladá žena", "Pekař v zástěře"),
        (
            "nasype do velké mísy mouku, sůl a trochu kmínu",
            "rozmíchá droždí ve vlažné vodě a vlije kvásek do mísy",
            "hněte těsto rukama tak dlouho, až přestane lepit",
            "přikryje mísu utěrkou a nechá těsto hodinu kynout na teplém místě",
            "vyklopí vykynuté těsto na pomoučenou desku a vytvaruje z něj bochník",
            "potře bochník vodou a vloží ho do rozpálené trouby",
            "po hodině vytáhne upečený chléb z trouby a nechá ho vychladnout na mřížce",
        ),
    ),
    Activity(
        "Mytí auta",
        ("Mladík", "Muž v kšiltovce", "Řidič", "Dívka v gumových holínkách"),
        (
            "zaparkuje auto na dvoře a připraví si kbelík s teplou vodou",
            "opláchne karoserii hadicí a spláchne z ní hrubou špínu",
            "namočí houbu do saponátu a důkladně umyje kapotu i dveře",
            "vydrhne kola kartáčem a odstraní z disků zaschlé bláto",
            "znovu opláchne celé auto čistou vodou",
            "vysuší karoserii měkkou utěrkou, aby na ní nezůstaly skvrny",
            "vyluxuje sedačky a koberečky uvnitř auta",
        ),
    ),
    Activity(
        "Sekání trávy",
        ("Soused", "Zahradník", "Starší muž v kraťasech", "Žena v zahradních rukavicích"),
        (
            "vytáhne sekačku z kůlny a zkontroluje, jestli je v ní dost benzínu",
            "posbírá z trávníku větvičky a kameny, aby nepoškodily nůž sekačky",
            "nastartuje sekačku zatažením za šňůru",
            "poseká trávník v rovných pruzích od plotu až k domu",
            "vysype plný koš s posekanou trávou na kompost",
            "ostříhá nůžkami trávu kolem záhonů a podél plotu",
            "opláchne sekačku hadicí a uklidí ji zpátky do kůlny",
        ),
    ),
    Activity(
        "Malování pokoje",
        ("Malíř", "Otec rodiny", "Žena v montérkách", "Malíř v bílé kombinéze"),
        (
            "odsune nábytek doprostřed místnosti a přikryje ho fólií",
            "přelepí lišty a vypínače malířskou páskou",
            "nalije barvu do plastové vaničky a namočí do ní váleček",
            "natře strop pomalými tahy válečku",
            "přetře stěny světle žlutou barvou a rohy dotře štětcem",
            "počká, až barva zaschne, a nanese druhou vrstvu",
            "strhne pásku, odstraní fólii a vrátí nábytek na původní místo",
        ),
    ),
    Activity(
        "Výměna pneumatiky",
        ("Řidič", "Automechanik", "Mladá řidička", "Muž v reflexní vestě"),
        (
            "zastaví auto na rovném místě a zapne výstražná světla",
            "vytáhne z kufru rezervu, hever a klíč na kola",
            "povolí šrouby na kole, dokud auto stojí na zemi",
            "podloží auto heverem a zvedne ho tak, aby se kolo nedotýkalo země",
            "vyšroubuje povolené šrouby a sejme poškozené kolo",
            "nasadí rezervu a rukou zašroubuje všechny šrouby",
            "spustí auto zpátky na zem a šrouby pořádně dotáhne klíčem",
        ),
    ),
    Activity(
        "Stavění stanu",
        ("Skaut", "Turista s batohem", "Táborník", "Mladá turistka"),
        (
            "vybere rovné místo bez kamenů a kořenů",
            "rozloží na zem plachtu a na ni položí stan",
            "prostrčí tyčky kanály ve stanu a vztyčí kostru",
            "zatluče kolíky do země pomocí malé palice",
            "napne šňůry, aby stan pevně držel i ve větru",
            "přehodí přes stan nepromokavou plachtu a připevní ji ke kolíkům",
            "vnese dovnitř karimatku a spacák",
        ),
    ),
    Activity(
        "Rybaření",
        ("Rybář", "Starý rybář", "Chlapec s prutem", "Rybářka v holínkách"),
        (
            "rozloží na břehu rybníka stoličku a připraví si prut",
            "navlékne na háček tlustou žížalu",
            "nahodí udici daleko od břehu a sleduje splávek",
            "po chvíli zaznamená, že se splávek potápí, a prudce zasekne",
            "pomalu navíjí vlasec a přitáhne rybu k břehu",
            "vytáhne kapra podběrákem z vody a opatrně mu vyjme háček z tlamy",
            "změří rybu a pustí ji zpátky do vody",
        ),
    ),
    Activity(
        "Jízda na kole",
        ("Cyklista", "Mladá cyklistka", "Muž v helmě", "Chlapec v dresu"),
        (
            "zapne přezku přilby pod bradou a zkontroluje tlak v pneumatikách",
            "vyveze kolo z garáže na silnici",
            "šlape do pedálů a pomalu nabírá rychlost",
            "na křižovatce zpomalí a ukáže rukou, že odbočuje doleva",
            "přeřadí na lehčí převod a vyjede do prudkého kopce",
            "sjede z kopce k řece a zastaví u lavičky",
            "vytáhne z brašny láhev a napije se vody",
        ),
    ),
    Activity(
        "Plavání",
        ("Plavec", "Mladá plavkyně", "Chlapec v plavkách", "Starší paní"),
        (
            "nasadí plaveckou čepici a brýle",
            "sejde po schůdkách do bazénu",
            "ponoří hlavu pod vodu a odrazí se od stěny",
            "uplave kraulem dvě délky bazénu",
            "u stěny udělá obrátku a pokračuje dál na znak",
            "zastaví u okraje bazénu a chvíli klidně dýchá",
            "vyleze po žebříku z vody a zabalí se do ručníku",
        ),
    ),
    Activity(
        "Venčení psa",
        ("Majitel psa", "Majitelka psa", "Dívka", "Starší pán s holí"),
        (
            "vezme z věšáku vodítko a zavolá psa",
            "připne psovi obojek a otevře dveře",
            "vyjde se psem do parku za domem",
            "pustí psa z vodítka na louce, kde je to dovolené",
            "hází psovi míček a pes ho nadšeně přináší zpátky",
            "uklidí po psovi sáčkem a sáček vyhodí do koše",
            "připne psa znovu na vodítko a vrátí se domů",
        ),
    ),
    Activity(
        "Zalévání zahrady",
        ("Zahradnice", "Děda", "Soused", "Mladá žena"),
        (
            "napustí konev vodou ze sudu pod okapem",
            "zalije rajčata a papriky přímo ke kořenům",
            "rozmotá zahradní hadici a připojí ji ke kohoutku",
            "nastaví na hadici jemnou sprchu a kropí záhon se zeleninou",
            "vytrhá plevel, který vyrostl mezi mrkví",
            "zkontroluje prstem, jestli je zemina dostatečně vlhká",
            "smotá hadici a uloží konev do stínu",
        ),
    ),
    Activity(
        "Žehlení",
        ("Žena", "Muž v tričku", "Hospodyně", "Student"),
        (
            "rozloží žehlicí prkno a zapojí žehličku do zásuvky",
            "nalije do žehličky vodu a nastaví teplotu podle štítku",
            "položí na prkno košili a uhladí ji rukou",
            "přežehlí límec a manžety košile",
            "pečlivě vyžehlí rukávy a záda košile",
            "pověsí vyžehlenou košili na ramínko",
            "vypne žehličku a nechá ji vychladnout",
        ),
    ),
    Activity(
        "Úklid kuchyně",
        ("Hospodyně", "Mladý muž", "Maminka", "Uklízečka"),
        (
            "sklidí ze stolu špinavé nádobí",
            "napustí do dřezu horkou vodu a přidá pár kapek saponátu",
            "umyje talíře a hrnky a skládá je do odkapávače",
            "utře nádobí utěrkou a uloží ho do skříňky",
            "otře kuchyňskou linku vlhkým hadříkem",
            "zamete podlahu a vytře ji mopem",
            "vynese koš s odpadky před dům",
        ),
    ),
    Activity(
        "Pletení šály",
        ("Babička", "Dívka", "Mladá maminka", "Pletařka"),
        (
            "vybere klubko měkké vlny a dvě pletací jehlice",
            "nahodí na jehlici třicet oček",
            "plete řadu za řadou hladce i obrace",
            "po každých deseti centimetrech změří délku šály",
            "přidá pruh vlny jiné barvy, aby byla šála veselejší",
            "uzavře poslední řadu oček a ustřihne přebytečnou vlnu",
            "přiváže na oba konce šály krátké třásně",
        ),
    ),
    Activity(
        "Hra na kytaru",
        ("Kytarista", "Mladík s dlouhými vlasy", "Dívka", "Učitel hudby"),
        (
            "vytáhne kytaru z pouzdra a posadí se na židli",
            "naladí struny podle ladičky",
            "položí prsty levé ruky na hmatník a zahraje akord C dur",
            "střídá akordy G dur a D dur a pravou rukou brnká do rytmu",
            "začne zpívat první sloku písně",
            "u refrénu hraje hlasitěji a publikum tleská do rytmu",
            "dohraje poslední akord a ukloní se posluchačům",
        ),
    ),
    Activity(
        "Stříhání vlasů",
        ("Kadeřnice", "Holič", "Mladý kadeřník", "Kadeřnice v černé zástěře"),
        (
            "posadí zákazníka do křesla a přehodí mu přes ramena pelerínu",
            "navlhčí vlasy rozprašovačem a pečlivě je pročeše",
            "rozdělí vlasy sponkami na několik pramenů",
            "zastřihne konce vlasů nůžkami asi o dva centimetry",
            "strojkem zkrátí vlasy na spáncích a vzadu na krku",
            "vysuší vlasy fénem a vytvaruje je kulatým kartáčem",
            "podá zákazníkovi zrcadlo, aby si prohlédl výsledek",
        ),
    ),
    Activity(
        "Balení dárku",
        ("Dívka", "Prodavačka", "Otec", "Chlapec"),
        (
            "postaví krabici s dárkem doprostřed stolu",
            "odměří kus balicího papíru a ustřihne ho nůžkami",
            "zabalí krabici do papíru a okraje přilepí izolepou",
            "ováže balíček stužkou a udělá na ní velkou mašli",
            "napíše na malou kartičku krátké přání",
            "připevní kartičku ke stužce",
            "schová dárek pod vánoční stromek",
        ),
    ),
    Activity(
        "Sázení stromu",
        ("Lesník", "Dobrovolník", "Žena v pracovních rukavicích", "Dědeček s vnukem"),
        (
            "vyhloubí rýčem jámu dost hlubokou pro kořeny stromku",
            "nasype na dno jámy trochu kompostu",
            "vloží stromek do jámy a narovná ho",
            "zasype kořeny hlínou a lehce ji prošlape",
            "zatluče vedle stromku kůl a přiváže k němu kmínek",
            "vydatně zalije stromek dvěma konvemi vody",
            "obloží okolí kmene kůrou, aby v půdě zůstala vlhkost",
        ),
    ),
    Activity(
        "Lyžování",
        ("Lyžař", "Lyžařka v červené bundě", "Instruktor", "Chlapec"),
        (
            "zacvakne boty do vázání a uchopí hůlky",
            "vyjede lanovkou na vrchol sjezdovky",
            "upraví brýle a rozhlédne se po svahu",
            "vyrazí dolů po sjezdovce v širokých obloucích",
            "v prudší části svahu přibrzdí pluhem",
            "objede skupinku dětí, které stojí uprostřed sjezdovky",
            "zastaví u dolní stanice lanovky a vycvakne boty z vázání",
        ),
    ),
    Activity(
        "Bruslení",
        ("Bruslařka", "Chlapec", "Otec s dcerou", "Mladík"),
        (
            "pevně zaváže tkaničky bruslí",
            "vstoupí opatrně na led a chytí se mantinelu",
            "pomalu objíždí kluziště podél mantinelu",
            "nabere rychlost a zkusí jet pozpátku",
            "upadne na led, ale hned se zvedne",
            "udělá uprostřed kluziště malou piruetu",
            "odjede ke střídačce a zuje brusle",
        ),
    ),
    Activity(
        "Stavění sněhuláka",
        ("Holčička", "Chlapec v čepici", "Tatínek", "Malá dívka"),
        (
            "uplácá ze sněhu malou kouli",
            "koulí kouli po zahradě, dokud nevyroste do velikosti pneumatiky",
            "udělá stejným způsobem druhou, menší kouli a postaví ji na první",
            "nasadí navrch malou kouli jako hlavu",
            "vyrobí oči z uhlíků a nos z mrkve",
            "nasadí sněhulákovi na hlavu starý hrnec",
            "vloží sněhulákovi do ruky koště",
        ),
    ),
    Activity(
        "Výměna žárovky",
        ("Domovník", "Elektrikář", "Studentka", "Muž v teplákách"),
        (
            "vypne jistič, aby ve světle nebyl proud",
            "přistaví pod lustr štafle a vyleze na ně",
            "vyšroubuje prasklou žárovku z objímky",
            "zašroubuje do objímky novou úspornou žárovku",
            "sleze ze štaflí a odnese je do komory",
            "zapne jistič a zkusí rozsvítit vypínačem",
            "odnese starou žárovku do sběrného dvora",
        ),
    ),
    Activity(
        "Příprava kávy",
        ("Barista", "Servírka", "Muž v županu", "Studentka"),
        (
            "nasype kávová zrna do mlýnku a namele je najemno",
            "vsype mletou kávu do páky a upěchuje ji tamperem",
            "upne páku do kávovaru a postaví pod ni šálek",
            "spustí kávovar a nechá do šálku natéct espresso",
            "napění v konvičce studené mléko párou",
            "nalije mléčnou pěnu do kávy a vykreslí na hladině srdíčko",
            "postaví šálek na podšálek a přinese ho zákazníkovi ke stolu",
        ),
    ),
)

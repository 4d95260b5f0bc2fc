"""Hand-written Czech phrase banks for encyclopedic and history texts (corpus ``cs_web``).

Nature and craft entries are fixed, ordered sentence lists; town, castle and history entries
are templates whose slots are filled with fictional names in the nominative.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

__all__ = [
    "CASTLES",
    "CASTLE_SENTENCES",
    "ENCYCLOPEDIA_ENTRIES",
    "HISTORY_SENTENCES",
    "HISTORY_TITLES",
    "NOBLES",
    "TOWN_SENTENCES",
]

#: Fixed encyclopedic entries as ``(title, ordered sentences)``.
ENCYCLOPEDIA_ENTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Ježek",
        (
            "Ježek je drobný savec, který žije v zahradách, parcích a na okrajích lesů.",
            "Jeho hřbet pokrývají tisíce ostnů, které mu slouží jako ochrana před predátory.",
            "Při ohrožení se ježek stočí do klubíčka a ostny naježí do všech stran.",
            "Živí se hlavně hmyzem, žížalami a slimáky, a proto ho zahrádkáři vítají.",
            "Je aktivní převážně v noci, přes den odpočívá v hromadách listí.",
            "Na zimu upadá do zimního spánku, během něhož výrazně zpomalí dech i tep srdce.",
            "Mláďata se rodí slepá a jejich ostny jsou zpočátku měkké a bílé.",
        ),
    ),
    (
        "Liška obecná",
        (
            "Liška obecná je šelma z čeledi psovitých.",
            "Má rezavě zbarvenou srst, bílou hruď a dlouhý huňatý ocas.",
            "Obývá lesy, pole i okraje měst, kde hledá potravu v odpadcích.",
            "Živí se drobnými hlodavci, ptáky, hmyzem i lesními plody.",
            "Nory si často vyhrabává na stráních nebo využívá opuštěné nory jezevců.",
            "Mláďata se rodí na jaře a rodiče je společně krmí.",
            "V lidových pohádkách vystupuje liška jako chytré a lstivé zvíře.",
        ),
    ),
    (
        "Lípa srdčitá",
        (
            "Lípa srdčitá je listnatý strom, který dorůstá výšky až třiceti metrů.",
            "Má srdčité listy a v létě voňavé žlutavé květy, které lákají včely.",
            "Z usušených lipových květů se připravuje čaj, který pomáhá při nachlazení.",
            "Lípa je považována za národní strom Čechů.",
            "Na návsích mnoha vesnic rostou staleté lípy, pod kterými se scházeli sousedé.",
            "Lipové dřevo je měkké a snadno se opracovává, proto ho oblíbili řezbáři.",
        ),
    ),
    (
        "Buk lesní",
        (
            "Buk lesní je statný listnatý strom s hladkou šedou kůrou.",
            "Roste v pahorkatinách i v horách, kde vytváří rozsáhlé bučiny.",
            "Jeho plody se nazývají bukvice a jsou oblíbenou potravou lesní zvěře.",
            "Bukové dřevo je tvrdé a používá se k výrobě nábytku a parket.",
            "V hustém bukovém lese je i v létě příjemný chládek a šero.",
            "Na podzim se listí buků barví do zlatavých a měděných odstínů.",
        ),
    ),
    (
        "Vlaštovka obecná",
        (
            "Vlaštovka obecná je tažný pták, který na zimu odlétá do Afriky.",
            "Na jaře se vrací do stejných míst, často do stejného hnízda.",
            "Staví si hnízda z bláta a slámy ve chlévech, stájích a pod střechami.",
            "Loví hmyz v letu, často nízko nad vodní hladinou.",
            "Poznáme ji podle dlouhého rozeklaného ocasu a rezavého hrdla.",
            "Podle lidové pranostiky nízko létající vlaštovky věští déšť.",
        ),
    ),
    (
        "Kapr obecný",
        (
            "Kapr obecný je sladkovodní ryba, která se chová v rybnících.",
            "Rybníkářství má v jižních Čechách dlouhou tradici sahající do středověku.",
            "Kapr se živí drobnými živočichy ze dna a rybáři ho přikrmují obilím.",
            "Výlov rybníků probíhá obvykle na podzim a láká mnoho diváků.",
            "Kapr je tradiční součástí štědrovečerní večeře v mnoha českých rodinách.",
            "Dospělý kapr může vážit i přes deset kilogramů.",
        ),
    ),
    (
        "Brambory",
        (
            "Brambory jsou hlízy rostliny lilku bramboru, která pochází z Jižní Ameriky.",
            "Do Evropy se dostaly v 16. století a zpočátku se pěstovaly jako okrasná rostlina.",
            "V českých zemích se začaly ve velkém pěstovat v 18. století.",
            "Hlízy obsahují hodně škrobu a po uvaření jsou snadno stravitelné.",
            "Z brambor se připravují polévky, kaše, bramboráky i knedlíky.",
            "Brambory se sázejí na jaře a sklízejí se na konci léta nebo na podzim.",
        ),
    ),
    (
        "Chléb",
        (
            "Chléb patří k nejstarším potravinám lidstva.",
            "Základem chleba je mouka, voda, sůl a kvásek nebo droždí.",
            "Těsto se musí důkladně prohníst a nechat vykynout na teplém místě.",
            "Český chléb se tradičně peče z žitné a pšeničné mouky a ochucuje se kmínem.",
            "Dříve měla každá vesnice svou pekárnu nebo společnou obecní pec.",
            "Dobře upečený chléb má křupavou kůrku a vláčnou střídu.",
        ),
    ),
    (
        "Včela medonosná",
        (
            "Včela medonosná je společenský hmyz, který žije ve velkých rodinách.",
            "V čele včelstva stojí královna, která klade vajíčka.",
            "Dělnice sbírají nektar a pyl a při tom opylují květy ovocných stromů.",
            "Z nektaru vyrábějí včely med, který ukládají do voskových plástů.",
            "Včelaři chovají včely v úlech a med vytáčejí obvykle dvakrát do roka.",
            "Bez včel by byla úroda ovoce i mnoha plodin mnohem menší.",
        ),
    ),
    (
        "Rybník",
        (
            "Rybník je umělá vodní nádrž, která vznikla přehrazením údolí hrází.",
            "Většina českých rybníků byla založena mezi 14. a 16. stoletím.",
            "Rybníky sloužily k chovu ryb, ale také jako zásobárna vody pro mlýny.",
            "Voda se z rybníka vypouští stavidlem, kterému se říká požerák.",
            "Rybníky jsou domovem mnoha druhů ptáků, obojživelníků a vodních rostlin.",
            "Některé rybníky se v zimě mění v přírodní kluziště.",
        ),
    ),
    (
        "Jízdní kolo",
        (
            "Jízdní kolo je dopravní prostředek poháněný silou lidských nohou.",
            "První kola neměla pedály a jezdec se odrážel nohama od země.",
            "Na konci 19. století se objevilo kolo s řetězem, které se podobá dnešním kolům.",
            "Moderní kola mají převody, které usnadňují jízdu do kopce.",
            "Při jízdě na kole je vhodné nosit přilbu a za šera svítit.",
            "Cyklistika je oblíbeným sportem i způsobem, jak se dopravit do práce.",
        ),
    ),
    (
        "Káva",
        (
            "Káva je nápoj připravovaný z pražených a mletých semen kávovníku.",
            "Kávovník pochází z Afriky, dnes se pěstuje v mnoha tropických zemích.",
            "Do Evropy se káva rozšířila v 17. století a brzy vznikly první kavárny.",
            "Espresso se připravuje protlačením horké vody přes jemně namletou kávu.",
            "Cappuccino vzniká přidáním mléčné pěny do espressa.",
            "Kofein obsažený v kávě povzbuzuje a zahání únavu.",
        ),
    ),
    (
        "Kytara",
        (
            "Kytara je strunný drnkací nástroj s dlouhým krkem a hmatníkem.",
            "Klasická kytara má šest strun, které se ladí podle ladičky nebo sluchu.",
            "Na kytaru se hraje prsty nebo trsátkem.",
            "Akordy vznikají přitisknutím strun k hmatníku levou rukou.",
            "Kytara je oblíbená u táboráků, protože se snadno přenáší.",
            "Elektrická kytara potřebuje ke hře zesilovač.",
        ),
    ),
    (
        "Ovčí vlna",
        (
            "Ovčí vlna se získává stříháním ovcí, obvykle jednou ročně na jaře.",
            "Surová vlna se musí vyprat, vyčesat a spřádat do příze.",
            "Z příze se pletou svetry, šály, čepice i ponožky.",
            "Vlna dobře hřeje i ve vlhku, a proto je vhodná na zimní oblečení.",
            "Pletení na jehlicích je ruční práce, která se předává z generace na generaci.",
            "Vlněné výrobky je třeba prát jemně a v chladné vodě.",
        ),
    ),
    (
        "Jabloň domácí",
        (
            "Jabloň domácí je nejrozšířenější ovocný strom v českých zahradách.",
            "Kvete na jaře bílými až narůžovělými květy.",
            "Existují stovky odrůd jablek, které se liší chutí, barvou i dobou zrání.",
            "Letní odrůdy dozrávají už v srpnu, zimní vydrží ve sklepě až do jara.",
            "Z jablek se vyrábí mošt, povidla, křížaly i jablečný závin.",
            "Staré aleje ovocných stromů podél cest jsou cenným krajinným prvkem.",
        ),
    ),
)

#: Fictional castle names (used only after the noun ``hrad``).
CASTLES: tuple[str, ...] = ("Vrabinec", "Skalka", "Lichnov", "Sokolec", "Bukov", "Kamenec")

#: Fictional noble families in the nominative plural (subjects of masculine plural verbs).
NOBLES: tuple[str, ...] = (
    "páni z Kamenice",
    "páni z Březnice",
    "rytíři z Olešné",
    "páni z Lipé",
    "vladykové z Dubé",
)

#: Ordered sentences for an encyclopedic entry about a fictional town.
TOWN_SENTENCES: tuple[str, ...] = (
    "{Town_nom} leží {region_loc} v nadmořské výšce {alt} metrů.",
    "Žije zde přibližně {num_big} obyvatel.",
    "První písemná zmínka o {this_locn} pochází z roku {year_old}.",
    "Dominantou {town_gen_noun} je {church} {century_gen}.",
    "Obyvatelé se dříve živili hlavně zemědělstvím, pěstováním lnu a tkalcovstvím.",
    "V 19. století sem byla přivedena železnice, která přinesla rozvoj průmyslu.",
    "V okolí se rozkládají rozsáhlé lesy a soustava rybníků.",
    "Mezi místní tradice patří masopustní průvod a podzimní posvícení.",
    "Z místních rodáků je nejznámější malíř {name_m}, který maloval okolní krajinu.",
    "Dnes je zde základní škola, pošta, knihovna a obchod se smíšeným zbožím.",
    "Okolím vede několik turistických tras a naučná stezka kolem rybníků.",
)

#: Ordered sentences for an encyclopedic entry about a fictional castle.
CASTLE_SENTENCES: tuple[str, ...] = (
    "Hrad {castle} je zřícenina gotického hradu {region_loc}.",
    "Hrad byl založen {century_loc} na skalnatém ostrohu nad řekou.",
    "Založili ho {nobles}, kteří odtud spravovali okolní vesnice.",
    "Hrad měl dvě brány, hlubokou studnu a mohutnou válcovou věž.",
    "Za třicetileté války byl hrad dobyt a vypálen.",
    "Od té doby chátral a jeho kameny si místní brali na stavbu domů.",
    "Dodnes se dochovaly zbytky obvodových hradeb a část věže.",
    "Zřícenina je volně přístupná a z věže je krásný výhled do kraje.",
    "V létě se na nádvoří konají divadelní představení a rytířské souboje.",
)

#: Titles for history pieces.
HISTORY_TITLES: tuple[str, ...] = (
    "Z historie {town_gen}",
    "Jak se žilo {town_loc} před sto lety",
    "Hrad {castle} a jeho páni",
    "Zapomenuté příběhy z okolí hradu {castle}",
)

#: History sentences; none of them needs the grammatical gender of the town.
HISTORY_SENTENCES: tuple[str, ...] = (
    "Okolní vesnice patřily {century_loc} k panství hradu {castle}.",
    "Poddaní museli na panském odvádět robotu a část úrody.",
    "Podle kroniky se v roce {year_hist} {town_loc} rozšířil mor a zemřela třetina lidí.",
    "Na památku obětí moru nechali sousedé postavit kamenný kříž u cesty.",
    "Velký požár v roce {year_hist2} zničil většinu dřevěných chalup na návsi.",
    "Po velkém požáru se domy stavěly z kamene a cihel a střechy se kryly taškami.",
    "V 19. století vznikl {town_loc} sbor dobrovolných hasičů.",
    "Místní škola byla postavena z peněz, které vybrali sami sousedé.",
    "Za první republiky zde fungovala mlékárna, pila a dva mlýny.",
    "Kronikář zapsal, že zima roku {year_hist3} byla tak krutá, že zamrzly studně.",
    "Každou neděli se lidé scházeli v hospodě na návsi a probírali novinky.",
    "Děti chodily do školy pěšky, často i několik kilometrů přes les.",
    "Hlavní obživou bylo zemědělství a v zimě se doma tkalo plátno.",
    "Po roce 1948 byly soukromé statky sloučeny do družstva.",
    "{Nobles} nechali {century2_loc} postavit na kopci nad vsí malý kostel.",
    "Traduje se, že v podzemí hradu {castle} je ukrytý poklad.",
    "Podle pověsti se na hradě {castle} zjevuje bílá paní.",
    "Staré fotografie ukazují náves s lípou, studnou a dřevěnou zvonicí.",
)

"""Hand-written Czech phrase banks for *inappropriate* documents (spam and toxic posts).

These banks exist so that the sample crawl contains documents that a quality filter should
remove.  They are deliberately mild: gambling and "quick money" spam, non-explicit adult
service adverts and rude, aggressive comments without slurs or targeted groups.  No single
word or phrase is shared by all of them.

Written by hand by the csmpt authors; released as CC0-1.0.
"""

from __future__ import annotations

__all__ = [
    "ADULT_SPAM",
    "GAMBLING_SPAM",
    "MONEY_SPAM",
    "SPAM_CALLS",
    "SPAM_DOMAIN_PARTS",
    "SPAM_TLDS",
    "TOXIC_OPENERS",
    "TOXIC_SENTENCES",
]

#: Online casino and betting spam.
GAMBLING_SPAM: tuple[str, ...] = (
    "Vyhrajte až {win_czk} Kč ještě dnes!",
    "Nové online kasino nabízí uvítací bonus {pct} % k prvnímu vkladu.",
    "Zaregistrujte se za pět minut a získejte sto otočení zdarma.",
    "Automaty, ruleta i živý blackjack na jednom místě.",
    "Výhry vyplácíme nonstop a bez zbytečných otázek.",
    "Stačí vložit pouhých {dep_czk} Kč a hra může začít.",
    "Tisíce spokojených hráčů už vyhrály, teď jste na řadě vy.",
    "Sázky na fotbal, hokej i tenis s nejvyššími kurzy na trhu.",
    "Klikněte na odkaz a aktivujte svůj bonus, nabídka platí jen do půlnoci!!!",
    "Jackpot dnes přesáhl {win_czk} Kč a roste každou minutou.",
    "Hrajte z mobilu kdekoli, v tramvaji, v práci i na gauči.",
    "Bez ověřování totožnosti, výběr výhry do deseti minut.",
    "Věrní hráči dostávají každý týden část prohraných peněz zpět.",
    "Vsaďte si teď a váš první tiket je bez rizika.",
    "Šťastné sedmičky čekají právě na vás!",
)

#: "Get rich quick", fake investment and predatory loan spam.
MONEY_SPAM: tuple[str, ...] = (
    "Vydělávejte {income_czk} Kč měsíčně z pohodlí domova!",
    "Žádné zkušenosti nejsou potřeba, stačí mobil a hodina denně.",
    "Tajná metoda, o které banky nechtějí, abyste věděli.",
    "Investujte do kryptoměn přes náš automatický obchodní systém a sledujte, jak peníze rostou.",
    "Garantovaný zisk {pct} % týdně bez jakéhokoli rizika.",
    "Maminka na mateřské si takto vydělala na nové auto za dva měsíce.",
    "Počet míst je omezený, neváhejte a napište nám ještě dnes!",
    "Pošlete jen malý aktivační poplatek a přístup vám obratem zašleme.",
    "Půjčka bez registru a bez doložení příjmů, peníze na účtu do hodiny!",
    "Už žádné ranní vstávání do práce, nechte peníze pracovat za vás.",
    "Známý podnikatel prozradil, jak zbohatl za jediný rok.",
    "Odkaz platí pouze dvacet čtyři hodin, pak bude smazán.",
    "Stovky lidí už daly výpověď v práci a žijí jen z pasivního příjmu.",
    "Nejde o žádný podvod, vše je stoprocentně legální.",
    "Staňte se naším partnerem a vydělávejte na doporučení přátel.",
)

#: Non-explicit adult-service and dating spam.
ADULT_SPAM: tuple[str, ...] = (
    "Osamělé dámy z vašeho okolí hledají diskrétní seznámení.",
    "Nezávazné schůzky pro dospělé, naprostá diskrétnost zaručena.",
    "Krásné slečny čekají právě na tvou zprávu.",
    "Privát v centru města s milými společnicemi, otevřeno nonstop.",
    "Pouze pro osoby starší osmnácti let.",
    "Relaxační masáže pro pány s nadstandardními službami.",
    "Ověřené profily s fotkami najdeš na našem webu.",
    "Intimní chat bez cenzury, prvních deset minut zdarma.",
    "Horké slečny online právě teď, neváhej!",
    "Společnice na večer, na víkend i na služební cesty.",
    "Zaregistruj se zdarma a odemkni soukromé galerie.",
    "Mladá blondýnka nabízí příjemnou společnost solventním pánům.",
)

#: Calls to action; ``{url}`` and ``{phone}`` are generated.
SPAM_CALLS: tuple[str, ...] = (
    "Více informací na {url}",
    "Registrace na {url}",
    "Neváhejte a klikněte: {url}",
    "Pište na WhatsApp {phone}.",
    "Volej na {phone}, diskrétnost je samozřejmostí.",
    "Odkaz: {url} (platí jen dnes)",
)

#: Parts from which fake spam domains are assembled.
SPAM_DOMAIN_PARTS: tuple[str, ...] = (
    "mega",
    "lucky",
    "zlata",
    "vyhra",
    "bonus",
    "kasino",
    "bet",
    "rychle",
    "penize",
    "hot",
    "sexy",
    "sance",
    "win",
    "happy",
    "royal",
    "cash",
)

#: Top-level domains for fake spam domains.
SPAM_TLDS: tuple[str, ...] = (".xyz", ".club", ".top", ".win", ".bet", ".site")

#: Optional first lines of a toxic post (thread context).
TOXIC_OPENERS: tuple[str, ...] = (
    "Re: Co si myslíte o nové cyklostezce?",
    "Re: Sousedi mi parkují před vjezdem",
    "Re: Recenze pračky",
    "Komentáře k článku",
    "Re: Kolik stojí rekonstrukce koupelny?",
)

#: Aggressive, insulting sentences (rude but without slurs or targeted groups).
TOXIC_SENTENCES: tuple[str, ...] = (
    "Ty jsi fakt úplnej idiot, že se vůbec odvažuješ něco takovýho napsat.",
    "Takovejch blbců jako ty by mělo bejt míň.",
    "Drž hubu a nepiš sem, když ničemu nerozumíš.",
    "Všichni tady jste banda ubožáků, co nemají nic lepšího na práci.",
    "Sousedi jsou hloupí jak tágo a ještě se tím chlubí.",
    "Tyhle politiky by měli všechny vyházet, jsou to zloději a lháři.",
    "Tobě snad vypadl mozek z hlavy, ty trubko.",
    "Jsi tak hloupej, že to až bolí číst.",
    "Nikdo tě tu nechce, tak se sbal a vypadni.",
    "Za takovej komentář by sis zasloužil pořádnou facku.",
    "Ten článek psal nějakej blbec, co nemá o ničem ani páru.",
    "Vy jste fakt banda zoufalců a ubožáků.",
    "Styď se, ty hnusnej lháři.",
    "Kdo tohle napsal, je totální magor.",
    "Seš úplně mimo, jdi se léčit.",
    "Takoví lidi jako ty by neměli mít ani internet.",
    "Admini jsou líní idioti, co tu nechávají takovej hnůj.",
    "Řidiči jako ty by měli jezdit leda tak na koloběžce, ty hlupáku.",
    "Sklapni, nikoho tvoje kecy nezajímají.",
    "Jdi do háje i s tím svým blbým názorem.",
    "Jsi ubohej trapák a všichni se ti smějou.",
    "Pořád jen fňukáš, ty ufňukanej chudáku.",
    "Vypadni z tohohle fóra, ty troubo.",
    "Hloupější příspěvek jsem v životě nečetl.",
    "Doufám, že tě za tohle vyhodí z práce, ty kreténe.",
    "Už mě fakt štvou takoví pitomci jako ty.",
)

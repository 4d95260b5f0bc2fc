"""Language codes ``csmpt init`` accepts: ISO 639-1 (two letters) or ISO 639-2/3 (three).

A two-letter code must be one of ISO 639-1's; the usual slip is a country code (``cz`` for
Czech, whose language code is ``cs``), which would otherwise write a project without the
language's benchmark and task pack. A three-letter code that has a two-letter one csmpt keys its
tables by (``ces``/``cze``) is pointed at it. Region or script subtags (``pt-BR``, ``sr-Latn``)
are kept as given.
"""

from __future__ import annotations

import re

from csmpt.errors import ConfigError

__all__ = ["ISO_639_1", "check_language"]

ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy "
    "da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu "
    "hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb "
    "lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om "
    "or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw "
    "ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu".split()
)
# Country codes typed for a language (ISO 3166 -> ISO 639-1), where the country code is not
# itself a language code.
_COUNTRY = {
    "al": "sq",
    "at": "de",
    "by": "be",
    "cn": "zh",
    "cz": "cs",
    "dk": "da",
    "gr": "el",
    "ir": "fa",
    "jp": "ja",
    "rs": "sr",
    "ua": "uk",
    "us": "en",
    "vn": "vi",
}
# Three-letter codes of the languages csmpt ships a benchmark or task pack for.
_THREE = {"ces": "cs", "cze": "cs", "slk": "sk", "slo": "sk", "pol": "pl"}


def check_language(code: str) -> None:
    """Check a ``--language`` value.

    Raises:
        ConfigError: Not a language code, a two-letter code outside ISO 639-1 (a country code
            names its language), or a three-letter code csmpt knows by its two letters.
    """
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", code):
        raise ConfigError(f"--language {code!r}: an ISO 639 code such as cs, sk, pl, eu")
    head = code.split("-")[0]
    if head in _COUNTRY:
        raise ConfigError(
            f"--language {code!r}: a country code; the language code is {_COUNTRY[head]!r}"
        )
    if len(head) == 2 and head not in ISO_639_1:
        raise ConfigError(f"--language {code!r}: not an ISO 639-1 code (cs, sk, pl, eu, ...)")
    if head in _THREE:
        raise ConfigError(f"--language {code!r}: csmpt names this language {_THREE[head]!r}")

"""The offline provider's vocabulary: label synonyms, field roles and typed value finders.

Kept apart from the scanning code so the word lists can grow without touching the logic.
Everything here is compiled once at import; ``field_vocabulary`` is cached per ``FieldSet``.

* Labels are compared after ``normalise_label``: lower case, accents kept, punctuation and
  numbers dropped, and every way of writing "number" (``No.``, ``#``, ``Nr.``, ``n°``) read
  as ``no``. So "Invoice No.:", "Invoice #" and "Invoice number" are the same label.
* A field's synonyms come from three places: its own name ("date_of_birth" → "date of
  birth"), the table below (by name, or by a known alias such as ``issuer`` → ``vendor``),
  and the phrases its description puts in double quotes (the presets do this on purpose).
* Generic one-word labels ("Name", "Date", "From") are *weak*: they count, with a lower
  confidence, so a real label elsewhere wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.values import MONTH_NAMES

__all__ = [
    "AMOUNT",
    "COMPANY",
    "CURRENCY_CODES",
    "CURRENCY_MARK",
    "CURRENCY_SYMBOLS",
    "DATE",
    "DURATION",
    "EMAIL",
    "ID_TOKEN",
    "PHONE",
    "FieldVocabulary",
    "Role",
    "field_vocabulary",
    "normalise_label",
]

# --------------------------------------------------------------------------- labels

_NUMBER_WORDS = re.compile(
    r"(?<!\w)(?:n[°ºo]\.?|nr\.?|#|num(?:ber|éro|ero)?\.?|nummer|numer)(?=\s|$|[:.#])",
    re.IGNORECASE)
_PAREN = re.compile(r"\([^)]*\)")
_NON_WORD = re.compile(r"[^\w]+|[\d_]+")


@lru_cache(maxsize=8192)  # headers, footers and table headings repeat across chunks
def normalise_label(text: str, *, keep_parens: bool = True) -> str:
    """"Invoice No.:" → "invoice no"; "Total Due (USD)" → "total due usd" (or "total due")."""
    text = text.casefold()
    if not keep_parens:
        text = _PAREN.sub(" ", text)
    text = _NUMBER_WORDS.sub(" no ", text.replace("#", " # "))
    return " ".join(_NON_WORD.sub(" ", text).split())


_WEAK = frozenset({
    "name", "date", "from", "to", "no", "amount", "id", "ref", "reference", "address",
    "title", "by", "due", "invoice", "notice", "law", "term", "party", "between", "issued",
    "patient", "born", "dated", "experience", "mail", "tel", "signature", "datum",
})

_TABLE: dict[str, tuple[str, ...]] = {
    "invoice_number": (
        "invoice no", "invoice", "inv no", "invoice id", "bill no", "invoice ref",
        "invoice reference", "rechnung no", "rechnungsnummer", "rechnungsnr", "factuurnummer",
        "factuur no", "facture no", "faktura no", "factura no", "fattura no", "receipt no"),
    "invoice_date": (
        "invoice date", "date of invoice", "date of issue", "issue date", "issued", "issued on",
        "billing date", "invoice issue date", "date", "datum", "rechnungsdatum",
        "factuurdatum", "factuur datum", "date de facture", "data wystawienia",
        "fecha de factura", "data fattura", "fecha"),
    "due_date": (
        "due date", "payment due", "due by", "pay by", "payment due date", "date due", "due",
        "payment date", "faelligkeitsdatum", "fälligkeitsdatum", "fällig am", "zahlungsziel",
        "vervaldatum", "date d échéance", "échéance", "date limite de paiement",
        "termin płatności", "fecha de vencimiento"),
    "vendor": (
        "vendor", "seller", "supplier", "issuer", "from", "sold by", "service provider",
        "billed by", "payee", "remit to", "provider", "verkäufer", "lieferant", "sprzedawca",
        "fournisseur", "vendeur", "leverancier", "proveedor"),
    "customer": (
        "customer", "bill to", "billed to", "sold to", "invoice to", "client", "buyer",
        "bill to address", "customer name", "client name", "to", "ship to", "nabywca",
        "rechnungsempfänger", "kunde", "klant", "destinataire", "cliente"),
    "currency": ("currency", "währung", "devise", "valuta", "waluta", "moneda"),
    "subtotal": (
        "subtotal", "sub total", "net amount", "net total", "total net", "net",
        "total excl vat", "total excl tax", "total before tax", "amount before tax",
        "taxable amount", "total ht", "montant ht", "nettobetrag", "zwischensumme",
        "exclusief btw", "subtotaal", "razem netto", "base imponible", "imponibile",
        "amount untaxed"),
    "tax": (
        "tax", "vat", "sales tax", "gst", "hst", "tax amount", "vat amount", "total tax",
        "tva", "montant tva", "mwst", "ust", "btw", "iva", "mehrwertsteuer", "umsatzsteuer",
        "kwota vat", "btw bedrag"),
    "total": (
        "total", "total due", "amount due", "grand total", "balance due", "total amount",
        "amount payable", "total payable", "invoice total", "total to pay", "total amount due",
        "total incl vat", "total incl tax", "gesamtbetrag", "rechnungsbetrag", "endbetrag",
        "gesamtsumme", "summe", "totaal", "te betalen", "total ttc", "montant ttc",
        "somme à payer", "net à payer", "montant total", "total facture", "należność ogółem",
        "do zapłaty", "importe total", "totale", "factuur totaal", "total for this invoice",
        "balance"),
    "patient_name": ("patient name", "patient", "name of patient", "patient full name", "name"),
    "mrn": ("mrn", "medical record no", "medical record", "record no", "patient id",
            "hospital no", "chart no", "mrn no", "patient no"),
    "date_of_birth": ("date of birth", "dob", "birth date", "born", "birthdate", "d o b"),
    "admission_date": ("admission date", "date of admission", "admitted", "admit date",
                       "admitted on", "admission"),
    "discharge_date": ("discharge date", "date of discharge", "discharged", "discharged on"),
    "attending_physician": ("attending physician", "attending", "attending doctor",
                            "attending consultant", "consultant", "responsible physician"),
    "diagnoses": ("diagnoses", "diagnosis", "discharge diagnoses", "discharge diagnosis",
                  "final diagnoses", "final diagnosis", "principal diagnosis",
                  "secondary diagnoses", "problem list", "diagnoses on discharge"),
    "medications": ("medications", "discharge medications", "medications on discharge",
                    "discharge meds", "meds", "current medications", "medication list",
                    "medication", "prescriptions", "home medications"),
    "follow_up": ("follow up", "follow up appointment", "follow up plan", "followup",
                  "follow up instructions", "follow up appointments"),
    "parties": ("parties", "party", "between", "contracting parties"),
    "effective_date": ("effective date", "effective as of", "dated", "commencement date",
                       "date of agreement", "effective"),
    "term": ("term", "initial term", "term of agreement", "duration", "term of this agreement"),
    "governing_law": ("governing law", "applicable law", "choice of law", "law",
                      "jurisdiction"),
    "termination_notice_days": ("termination notice", "notice period", "notice of termination",
                                "written notice", "prior written notice", "notice"),
    "signatories": ("signatories", "signatures", "signatory", "signed by", "signature",
                    "name", "authorised signatories", "authorized signatories"),
    "name": ("name", "full name", "candidate name", "candidate"),
    "email": ("email", "e mail", "mail", "email address"),
    "phone": ("phone", "mobile", "tel", "telephone", "cell", "phone no", "mobile no"),
    "location": ("location", "address", "city", "based in"),
    "current_title": ("current title", "job title", "title", "position", "current position",
                      "role"),
    "years_experience": ("years of experience", "experience", "total experience"),
    "skills": ("skills", "technical skills", "core skills", "key skills", "competencies",
               "technologies", "tools"),
    "employers": ("experience", "work experience", "employment history",
                  "professional experience", "employment", "work history"),
    "education": ("education", "academic background", "qualifications", "degrees"),
    "languages": ("languages", "language skills", "language"),
}

_ALIASES = {
    "issuer": "vendor", "seller": "vendor", "supplier": "vendor", "partner_name": "vendor",
    "company": "vendor", "buyer": "customer", "client": "customer", "bill_to": "customer",
    "amount": "total", "amount_total": "total", "total_amount": "total", "grand_total": "total",
    "amount_untaxed": "subtotal", "net_amount": "subtotal", "amount_tax": "tax", "vat": "tax",
    "tax_amount": "tax", "date": "invoice_date", "issue_date": "invoice_date",
    "date_due": "due_date", "payment_due": "due_date", "invoice_no": "invoice_number",
    "invoice_id": "invoice_number", "dob": "date_of_birth", "birth_date": "date_of_birth",
    "diagnosis": "diagnoses", "medication": "medications", "party": "parties",
    "jurisdiction": "governing_law", "signers": "signatories", "full_name": "name",
    "e_mail": "email", "phone_number": "phone", "telephone": "phone",
}

_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{1,40})[\"“”«»]")


class Role(Enum):
    """What kind of thing a string field holds, guessed from its name; picks the cleaning."""

    PLAIN = "plain"
    COMPANY = "company"
    PERSON = "person"
    CURRENCY = "currency"
    IDENTIFIER = "identifier"
    EMAIL = "email"
    PHONE = "phone"
    DURATION = "duration"
    LAW = "law"


def _role(spec: FieldSpec) -> Role:
    words = set(spec.name.lower().split("_"))
    name = spec.name.lower()
    if "currency" in words:
        return Role.CURRENCY
    if words & {"email", "mail"}:
        return Role.EMAIL
    if words & {"phone", "telephone", "mobile", "tel", "fax"}:
        return Role.PHONE
    if words & {"law", "jurisdiction"}:
        return Role.LAW
    if words & {"term", "duration", "period"} and spec.type is FieldType.STRING:
        return Role.DURATION
    if words & {"number", "no", "id", "mrn", "ref", "reference", "code", "nr"}:
        return Role.IDENTIFIER
    if words & {"physician", "doctor", "signatories", "signatory", "signers", "attending",
                "patient", "author", "name", "names"} and "company" not in words:
        return Role.PERSON
    if words & {"vendor", "supplier", "seller", "issuer", "customer", "buyer", "client",
                "parties", "party", "employer", "employers", "company", "payee", "partner"}:
        return Role.COMPANY
    return Role.PLAIN


@dataclass(frozen=True)
class FieldVocabulary:
    """Synonyms of every field of one ``FieldSet``, ready for look-ups."""

    specs: tuple[FieldSpec, ...]
    roles: tuple[Role, ...]
    phrases: dict[str, tuple[tuple[int, bool], ...]]  # normalised label → (field index, weak)
    canonical: tuple[str, ...]  # the table name each field was read as ("" when none)
    mention: re.Pattern[str] | None  # any strong synonym as words in lower-cased text
    mention_any_case: re.Pattern[str] | None  # the same, for texts lower() changes in length
    mention_fields: dict[str, tuple[int, ...]]  # normalised synonym → fields it names
    first_words: frozenset[str]
    last_words: frozenset[str]

    def match(self, label: str) -> list[tuple[int, float]]:
        """Fields a label names, with confidence: 0.9 exact, 0.8 partial, 0.6 weak."""
        best: dict[int, float] = {}
        for variant in {normalise_label(label), normalise_label(label, keep_parens=False)}:
            words = variant.split()
            if not words or (words[0] not in self.first_words
                             and words[-1] not in self.last_words):
                continue  # every synonym starts a label, ends it, or is all of it
            for phrase, exact in _sub_phrases(words):
                for index, weak in self.phrases.get(phrase, ()):
                    if not exact and (weak or self._other_attribute(index, words, phrase)):
                        continue  # "date" in "delivery date", "customer" in "customer no"
                    score = 0.6 if weak else 0.9 if exact else 0.8
                    best[index] = max(best.get(index, 0.0), score)
        if not best:
            return []
        top = max(best.values())
        return [(index, score) for index, score in best.items() if score == top]


    def _other_attribute(self, index: int, words: list[str], phrase: str) -> bool:
        """Whether the words around a partial match name another attribute of the thing."""
        rest = set(words) - set(phrase.split())
        spec, role = self.specs[index], self.roles[index]
        if rest & _ID_WORDS and role is not Role.IDENTIFIER:
            return True
        if rest & _DATE_WORDS and spec.type is not FieldType.DATE:
            return True
        return bool(rest & _OTHER_WORDS)


_ID_WORDS = frozenset({"no", "id", "idnr", "code", "ref", "reference", "reg", "registration"})
_DATE_WORDS = frozenset({"date", "datum"})
_OTHER_WORDS = frozenset({"address", "email", "mail", "phone", "tel", "fax", "rate", "iban",
                          "bic", "account", "percent", "website", "url"})


def _sub_phrases(words: list[str]) -> Iterator[tuple[str, bool]]:
    """The whole label (exact), then its leading and trailing word runs (partial)."""
    if len(words) > 9:
        return
    yield " ".join(words), True
    for n in range(len(words) - 1, 0, -1):
        yield " ".join(words[:n]), False
        yield " ".join(words[-n:]), False


@lru_cache(maxsize=128)
def field_vocabulary(fields: FieldSet) -> FieldVocabulary:
    """The synonyms of ``fields`` (cached: a run asks with the same set thousands of times)."""
    phrases: dict[str, dict[int, bool]] = {}
    canonical: list[str] = []
    mention_fields: dict[str, set[int]] = {}

    def add(phrase: str, index: int, weak: bool) -> None:
        key = normalise_label(phrase)
        if not key:
            return
        weak = weak or key in _WEAK
        slot = phrases.setdefault(key, {})
        slot[index] = slot.get(index, True) and weak
        if not weak and len(key) > 2:
            mention_fields.setdefault(key, set()).add(index)

    for index, spec in enumerate(fields):
        name = spec.name.lower()
        table_name = name if name in _TABLE else _ALIASES.get(name, "")
        canonical.append(table_name)
        add(name.replace("_", " "), index, False)
        for synonym in _TABLE.get(table_name, ()):
            add(synonym, index, False)
        for quoted in _QUOTED.findall(spec.description):
            add(quoted, index, False)
    specs = fields.fields
    nearby = {key: {i for i in found if _mentionable(specs[i])}
              for key, found in mention_fields.items()}
    nearby = {key: found for key, found in nearby.items() if found}
    pattern = any_case = None
    if nearby:  # lower-cased text beats re.IGNORECASE; no leading assertion keeps re's
        # first-character scan, so the caller checks the character before a match
        source = _trie_pattern([p.split() for p in nearby]) + r"(?!\w)"
        pattern, any_case = re.compile(source), re.compile(source, re.IGNORECASE)
    return FieldVocabulary(
        specs=fields.fields,
        roles=tuple(_role(spec) for spec in fields),
        phrases={k: tuple(v.items()) for k, v in phrases.items()},
        canonical=tuple(canonical),
        mention=pattern,
        mention_any_case=any_case,
        mention_fields={k: tuple(sorted(v)) for k, v in nearby.items()},
        first_words=frozenset(key.split()[0] for key in phrases),
        last_words=frozenset(key.split()[-1] for key in phrases),
    )


def _mentionable(spec: FieldSpec) -> bool:
    """Fields whose value can be told apart in running text: dates, amounts, counts, terms."""
    return (not spec.many and (spec.type in (FieldType.DATE, FieldType.NUMBER, FieldType.INTEGER)
                               or _role(spec) is Role.DURATION))


def _trie_pattern(phrases: list[list[str]]) -> str:
    """One regex for many phrases, factored by shared leading words and letters.

    Python's ``re`` tries the branches of ``a|b|c`` one by one at every position; a trie
    shares the work, which makes the mention scan several times faster.
    """
    trie: dict[str, Any] = {}
    for words in phrases:
        node = trie
        for char in " ".join(words):
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = []
        optional = "" in node
        for char, child in sorted(node.items()):
            if char == "":
                continue
            head = r"\s+" if char == " " else re.escape(char)
            branches.append(head + build(child))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + body + ")?" if optional else body

    return build(trie)


# --------------------------------------------------------------------------- typed patterns

CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY CHF CAD AUD NZD INR PLN SEK NOK DKK CNY HKD SGD ZAR BRL MXN CZK HUF RUB "
    "TRY KRW ILS AED SAR THB MYR IDR PHP RON BGN ISK".split())
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW",
                    "₽": "RUB", "₺": "TRY", "₪": "ILS", "zł": "PLN", "Rs": "INR",
                    "Rs.": "INR"}

_CODES = "|".join(sorted(CURRENCY_CODES))
_CUR = rf"(?:[$€£¥₹₩₽₺₪]|\b(?:{_CODES}|Rs\.?|zł)(?![A-Za-z]))"
AMOUNT = re.compile(
    rf"(?:(?P<pre>{_CUR})[ \u00a0]?)?(?P<neg>[-−(])?(?<![\d.,])"
    r"(?P<num>(?:\d{1,3}(?:(?P<sep>[,.'’\u00a0 ])\d{3})(?:(?P=sep)\d{3})*|\d+)(?:[.,]\d{1,2})?)"
    rf"(?![\d%]|[.,]\d|\s?%)\)?(?:[ \u00a0]?(?P<post>{_CUR}))?")
"""An amount with optional currency; ``num`` must be followed by neither digits nor %."""

_MONTH_WORDS = _trie_pattern([[m] for m in MONTH_NAMES])
CURRENCY_MARK = re.compile(rf"{_CUR}(?=[ \u00a0]?[-−(]?\d)|(?<=\d)[ \u00a0]?{_CUR}")
"""A currency symbol or code written right before or after a number."""

DATE = re.compile(
    r"(?<![\w/.-])(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})"
    r"|\d{1,2}(?:st|nd|rd|th|er)?\.?(?:\s+day)?(?:\s+of)?[\s-]+"
    rf"(?:{_MONTH_WORDS})\.?,?[\s-]+\d{{4}}"
    rf"|(?:{_MONTH_WORDS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,?\s*\d{{4}}"
    r")(?![\w/]|[.-]\d)",
    re.IGNORECASE)
"""A date written in one of the forms ``values.parse_date`` reads (validated there)."""

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+?\(?\d[\d ()./-]{6,}\d")
ID_TOKEN = re.compile(r"(?<![\w-])#?\s?(?=[\w/.#-]*\d)[A-Za-z0-9][\w/.#-]{2,}(?<![.-])")

_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
                r"twenty|thirty|forty|forty-five|fifty|sixty|ninety|hundred|[a-z]+-[a-z]+)")
DURATION = re.compile(
    rf"\b(?:{_NUMBER_WORD}\s*\(\d+\)|\d+|{_NUMBER_WORD})\s+"
    r"(?:calendar\s+|business\s+|working\s+)?(?:years?|months?|weeks?|days?)\b",
    re.IGNORECASE)

_WORD = r"[A-Z0-9À-Þ][\w&'’.\-]*"
_LINK = r"(?:&|and|of|de|du|des|la|le|der|und|et|the|für|y)"
_SUFFIX = (r"(?:Inc\.?|Incorporated|LLC|L\.L\.C\.|Ltd\.?|Limited|GmbH|AG|SAS|SARL|S\.A\.S\.?|"
           r"S\.A\.|SA|S\.p\.A\.|SpA|B\.V\.|BV|N\.V\.|NV|plc|PLC|LLP|LP|L\.P\.|Corp\.?|"
           r"Corporation|Co\.|Company|Pty\.? Ltd\.?|Pvt\.? Ltd\.?|KG|AB|A/S|Oy|S\.r\.l\.|Srl|"
           r"spółka akcyjna|S\.A\.)")
COMPANY = re.compile(rf"{_WORD}(?:\s+(?:{_LINK}\s+)?{_WORD})*?,?\s+{_SUFFIX}(?![\w])")
"""A company name: capitalised words ending in a legal-form suffix (Inc., GmbH, SAS …)."""

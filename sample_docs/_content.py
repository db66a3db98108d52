"""Data and document builders for the sample documents (all people and companies fictional).

Every field value lives in exactly one place: the dataclass instances below.
The builders render those values into blocks (via the ``fmt_*`` helpers) and
return them together with ``FieldSpec``s that hold the true value and its
printed form, so expected.json can never drift from the documents.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from _clauses import LOWERABLE, MISC, MSA_POOLS, NDA_POOLS, OPENERS, POOLS
from _layout import (Block, Bullets, Chrome, Columns, DocSpec, FieldSpec, Heading, KeyValues,
                     Lines, PageBreak, Para, Rule, Run, Spacer, Table, Theme, Title, Totals)

# --------------------------------------------------------------------------- formatting

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
CENT = Decimal("0.01")
DateFmt = Callable[[date], str]


def fmt_us(d: date) -> str:
    """January 17, 2024"""
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def fmt_uk(d: date) -> str:
    """3 April 2024"""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def fmt_dot(d: date) -> str:
    """05.03.2024 (day first)"""
    return f"{d.day:02d}.{d.month:02d}.{d.year}"


def fmt_slash_us(d: date) -> str:
    """03/14/1957 (month first)"""
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def fmt_abbr(d: date) -> str:
    """02 Nov 1949"""
    return f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}"


def fmt_money(x: Decimal) -> str:
    """12,450.00"""
    return f"{x:,.2f}"


def fmt_qty(x: Decimal) -> str:
    """2,500 / 7.5"""
    return f"{x.normalize():,f}"


def as_number(x: Decimal) -> int | float:
    return int(x) if x == x.to_integral_value() else float(x)


SPELLED = {2: "two", 3: "three", 30: "thirty", 90: "ninety"}


def spelled(n: int, unit: str) -> str:
    """'three (3) years' -- legal style, number spelled out and repeated in digits."""
    return f"{SPELLED[n]} ({n}) {unit}"


# --------------------------------------------------------------------------- invoices


@dataclass(frozen=True)
class Item:
    description: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Invoice:
    stem: str
    number: str
    issued: date
    due: date
    vendor: str
    vendor_lines: tuple[str, ...]
    customer: str
    customer_lines: tuple[str, ...]
    currency: str
    symbol: str  # printed before amounts in the totals ("$", "EUR ", "£")
    tax_label: str
    tax_rate: Decimal
    items: tuple[Item, ...]
    date_fmt: DateFmt

    @property
    def subtotal(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal("0"))

    @property
    def tax(self) -> Decimal:
        return (self.subtotal * self.tax_rate).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    def money(self, x: Decimal) -> str:
        return f"{self.symbol}{fmt_money(x)}"


def invoice_fields(inv: Invoice) -> dict[str, FieldSpec]:
    def amount(x: Decimal) -> FieldSpec:
        return FieldSpec(as_number(x), fmt_money(x))

    return {
        "invoice_number": FieldSpec(inv.number, inv.number),
        "invoice_date": FieldSpec(inv.issued.isoformat(), inv.date_fmt(inv.issued)),
        "due_date": FieldSpec(inv.due.isoformat(), inv.date_fmt(inv.due)),
        "vendor": FieldSpec(inv.vendor, inv.vendor),
        "customer": FieldSpec(inv.customer, inv.customer),
        "currency": FieldSpec(inv.currency, inv.currency),
        "subtotal": amount(inv.subtotal),
        "tax": amount(inv.tax),
        "total": amount(inv.total),
        "line_items": FieldSpec(
            [{"description": i.description, "quantity": as_number(i.quantity),
              "unit_price": as_number(i.unit_price), "amount": as_number(i.amount)}
             for i in inv.items],
            [{"description": i.description, "quantity": fmt_qty(i.quantity),
              "unit_price": fmt_money(i.unit_price), "amount": fmt_money(i.amount)}
             for i in inv.items],
        ),
    }


def unlabelled(fields: dict[str, FieldSpec], *names: str) -> dict[str, FieldSpec]:
    """Mark fields whose value the layout prints without a label (see ``FieldSpec``)."""
    for name in names:
        fields[name].labelled = False
    return fields


def D(s: str) -> Decimal:
    return Decimal(s)


ACME = Invoice(
    stem="invoices/acme-2024-0117",
    number="INV-2024-0117",
    issued=date(2024, 1, 17),
    due=date(2024, 2, 16),
    vendor="Acme Cloud Services, Inc.",
    vendor_lines=("1200 Market Street, Suite 400", "Philadelphia, PA 19107", "United States",
                  "billing@acme-cloud.example", "EIN 00-0000000"),
    customer="Northwind Traders LLC",
    customer_lines=("Attn: Zoë Lindqvist, Accounts Payable", "88 Harbor View Road",
                    "Portland, ME 04101", "United States"),
    currency="USD",
    symbol="$",
    tax_label="Sales tax (8.875%)",
    tax_rate=D("0.08875"),
    items=(
        Item("Platform subscription - Enterprise tier (January 2024)", D("1"), D("4800.00")),
        Item("Implementation consulting (hours)", D("32"), D("165.00")),
        Item("Document review [Confidential] - Phase 2", D("8"), D("120.00")),
        Item("CMS export cleanup: stray [/bold] tags in 1,200 pages", D("1"), D("610.00")),
        Item("Premium support add-on", D("1"), D("800.00")),
    ),
    date_fmt=fmt_us,
)

MUELLER = Invoice(
    stem="invoices/mueller-re-2024-0342",
    number="RE-2024-0342",
    issued=date(2024, 3, 5),
    due=date(2024, 4, 4),
    vendor="Müller & Söhne Feinmechanik GmbH",
    vendor_lines=("Industriestraße 12", "70565 Stuttgart", "Germany"),
    customer="Studio Hartmann & Lefèvre GmbH",
    customer_lines=("z. Hd. François Lefèvre", "Große Elbstraße 145", "22767 Hamburg",
                    "Germany"),
    currency="EUR",
    symbol="EUR ",
    tax_label="VAT 19%",
    tax_rate=D("0.19"),
    items=(
        Item("Precision shaft Ø 12 mm, hardened and ground (drawing W-1183)", D("250"),
             D("18.40"), "W-1183"),
        Item("Bearing bush PTFE 12/16 x 20 mm", D("500"), D("3.85"), "LB-1216"),
        Item("Custom flange per drawing Z-4471 [Rev. C]", D("40"), D("96.50"), "Z-4471"),
        Item("Surface treatment: black anodising (batch)", D("1"), D("1240.00"), "OB-200"),
        Item("Packaging and freight (forwarding agent)", D("1"), D("412.50"), "VS-001"),
    ),
    date_fmt=fmt_dot,
)

KESTREL = Invoice(
    stem="invoices/kestrel-kp-24-1009",
    number="KP-24-1009",
    issued=date(2024, 4, 3),
    due=date(2024, 5, 3),
    vendor="Kestrel & Hart Print Works Ltd",
    vendor_lines=("Unit 7, Cowley Trade Park", "Oxford OX4 2XX", "United Kingdom",
                  "VAT Reg. No. GB 000 0000 00"),
    customer="The Old Vicarage Bakery Ltd",
    customer_lines=("FAO: Niamh O'Sullivan", "2 Church Lane", "Headington, Oxford OX3 9XX"),
    currency="GBP",
    symbol="£",
    tax_label="VAT @ 20%",
    tax_rate=D("0.20"),
    items=(
        Item("Business cards, 400gsm silk, double-sided (box of 250)", D("4"), D("38.50")),
        Item("A5 flyers, 170gsm gloss, full colour both sides", D("5000"), D("0.05")),
        Item("Menu boards, A2 foamex, laminated", D("6"), D("42.00")),
        Item("Window vinyl lettering for shopfront, cut and applied on site", D("1"),
             D("385.00")),
        Item("Paper bags, kraft, printed 1 colour, two sizes (small and large; see proof ref. "
             "OV-117 approved by email)", D("3000"), D("0.21")),
        Item("Greaseproof wrap, custom logo print, 500 sheets per ream", D("12"), D("64.75")),
        Item("Loyalty stamp cards, 350gsm uncoated", D("2000"), D("0.09")),
        Item("Roller banner 850 x 2000 mm incl. carry case", D("2"), D("119.00")),
        Item("Design time: seasonal menu layout (hours)", D("7.5"), D("55.00")),
        Item("Artwork retouching for allergen labels [Rev. 3]", D("4"), D("55.00")),
        Item("Allergen labels, 50 x 30 mm, roll of 1,000", D("8"), D("27.40")),
        Item("Cake box sleeves, printed, die-cut, assorted sizes", D("1500"), D("0.38")),
        Item("Gift vouchers, numbered 0001-0500, with counterfoils", D("500"), D("0.64")),
        Item("Pavement A-board poster inserts (set of 4)", D("3"), D("46.00")),
        Item("Rush production surcharge - Easter order", D("1"), D("150.00")),
        Item("Local delivery - Oxford zone", D("2"), D("18.50")),
    ),
    date_fmt=fmt_uk,
)

def build_acme(inv: Invoice = ACME) -> DocSpec:
    """Classic US layout: letterhead left, metadata right, one page."""
    f = unlabelled(invoice_fields(inv), "vendor")  # vendor: letterhead only
    blocks: list[Block] = [
        Title("INVOICE", align="R", scale=2.2),
        Columns(
            [Run(inv.vendor, "B", 1.15), *inv.vendor_lines],
            [f"Invoice No.: {inv.number}",
             f"Invoice Date: {inv.date_fmt(inv.issued)}",
             f"Due Date: {inv.date_fmt(inv.due)}",
             f"Currency: {inv.currency}",
             "Terms: Net 30",
             "PO Number: NW-PO-88213"],
            split=0.55, anchors=("vendor", "invoice_number", "invoice_date", "due_date",
                                 "currency"),
        ),
        Spacer(3),
        Heading("Bill To", level=2),
        Lines([Run(inv.customer, "B"), *inv.customer_lines], anchors=("customer",)),
        Spacer(2),
        Table(["Description", "Qty", "Unit Price", "Amount"],
              [[i.description, fmt_qty(i.quantity), fmt_money(i.unit_price),
                fmt_money(i.amount)] for i in inv.items],
              widths=[56, 9, 17, 18], aligns="LRRR", anchors=("line_items",)),
        Totals([("Subtotal", inv.money(inv.subtotal)),
                (inv.tax_label, inv.money(inv.tax)),
                (f"Total Due ({inv.currency})", inv.money(inv.total))],
               anchors=("subtotal", "tax", "total")),
        Spacer(6),
        Heading("Payment Instructions", level=2),
        Para("Please pay by ACH or wire transfer to First Fictional Bank, routing number "
             "000000000, account 0000000000, referencing the invoice number. Payments received "
             "after the due date may incur a late fee of 1.5% per month. Questions about this "
             "invoice? Contact billing@acme-cloud.example."),
        Para("Thank you for your business!", style="I"),
    ]
    return DocSpec(inv.stem, "invoice", ".txt", f"Invoice {inv.number}",
                   Theme("Helvetica", 10, "Letter", margin=19, accent=(20, 60, 140),
                         fill=(225, 233, 247)),
                   Chrome(footer=(f"{inv.vendor} - fictional sample document",)),
                   blocks, f)


def build_mueller(inv: Invoice = MUELLER) -> DocSpec:
    """German layout: sender line, address window left, info box right, positions table."""
    # vendor: letterhead; customer: address window; due date: in a sentence
    f = unlabelled(invoice_fields(inv), "vendor", "customer", "due_date")
    sender = " · ".join([inv.vendor, *inv.vendor_lines[:2]])
    blocks: list[Block] = [
        Lines([Run(inv.vendor, "B", 1.5), Run("Präzisionsteile · Baugruppen · Oberflächen", "I")],
              anchors=("vendor",)),
        Rule(),
        Lines([Run(sender, "", 0.75)]),
        Columns(
            [Run(inv.customer, "B"), *inv.customer_lines],
            [Run("Rechnung / Invoice", "B", 1.2),
             f"Invoice No.: {inv.number}",
             f"Invoice date: {inv.date_fmt(inv.issued)}",
             "Delivery date: 28.02.2024",
             "Customer No.: K-10293",
             "Your order: PO-55817 of 12.02.2024",
             f"Currency: {inv.currency}"],
            split=0.58, anchors=("customer", "invoice_number", "invoice_date", "currency"),
        ),
        Spacer(4),
        Title(f"Invoice {inv.number}", scale=1.4),
        Para("Dear Mr. Lefèvre, thank you for your order. We invoice the following deliveries "
             "and services in accordance with our general terms and conditions:"),
        Table(["Pos.", "Art. No.", "Description", "Qty", "Unit price", "Amount"],
              [[str(n), i.sku, i.description, fmt_qty(i.quantity), fmt_money(i.unit_price),
                fmt_money(i.amount)] for n, i in enumerate(inv.items, 1)],
              widths=[7, 11, 44, 8, 13, 15], aligns="LLLRRR", anchors=("line_items",)),
        Totals([("Net amount", inv.money(inv.subtotal)),
                (inv.tax_label, inv.money(inv.tax)),
                ("Total amount", inv.money(inv.total))],
               anchors=("subtotal", "tax", "total")),
        Spacer(5),
        Para(f"Payment due without deduction by {inv.date_fmt(inv.due)}. Please transfer the "
             f"total amount to IBAN DE00 0000 0000 0000 0000 00 (BIC FICTDEFFXXX), quoting "
             f"invoice number {inv.number}. Goods remain our property until paid in full.",
             anchors=("due_date",)),
        Para("Mit freundlichen Grüßen / Kind regards"),
        Lines(["Jürgen Weiß", "Accounts Receivable"]),
    ]
    return DocSpec(inv.stem, "invoice", ".txt", f"Invoice {inv.number}",
                   Theme("Times", 11, "A4", margin=20, accent=(120, 20, 30), fill=(240, 228, 228)),
                   Chrome(footer=(f"{inv.vendor} · Amtsgericht Stuttgart HRB 000000 · "
                                  "USt-IdNr. DE000000000",
                                  "Managing directors: Heinz Müller, Agnès Müller - fictional "
                                  "sample document")),
                   blocks, f)


def build_kestrel(inv: Invoice = KESTREL) -> DocSpec:
    """Monospaced two-page layout: items on page 1, totals and remittance on page 2."""
    f = unlabelled(invoice_fields(inv), "vendor")  # vendor: letterhead ("From:" is the payer)
    blocks: list[Block] = [
        Lines([Run(inv.vendor.upper(), "B", 1.3), Run(inv.vendor, "I"), *inv.vendor_lines],
              anchors=("vendor",)),
        Rule(),
        Title("TAX INVOICE", scale=1.5),
        KeyValues([("Invoice number", inv.number),
                   ("Invoice date / tax point", inv.date_fmt(inv.issued)),
                   ("Payment due", inv.date_fmt(inv.due)),
                   ("Account ref", "OVB-0042"),
                   ("Currency", f"{inv.currency} (£)")],
                  label_width=58,
                  anchors=("invoice_number", "invoice_date", "due_date", "currency")),
        Spacer(2),
        KeyValues([("Invoice to", inv.customer), *[("", x) for x in inv.customer_lines]],
                  label_width=58, anchors=("customer",)),
        Spacer(2),
        Table(["#", "Description", "Qty", "Unit £", "Net £"],
              [[str(n), i.description, fmt_qty(i.quantity), fmt_money(i.unit_price),
                fmt_money(i.amount)] for n, i in enumerate(inv.items, 1)],
              widths=[5, 50, 9, 9, 11], aligns="RLRRR", scale=0.9, anchors=("line_items",)),
        Para("Continued on page 2.", style="I", align="R"),
        PageBreak(),
        Heading(f"Invoice {inv.number} - summary"),
        Totals([("Goods and services (net)", inv.money(inv.subtotal)),
                (inv.tax_label, inv.money(inv.tax)),
                ("TOTAL DUE", inv.money(inv.total))],
               label_width=70, anchors=("subtotal", "tax", "total")),
        Spacer(4),
        Heading("How to pay", level=2),
        Para("By bank transfer to Kestrel & Hart Print Works Ltd, sort code 00-00-00, account "
             "00000000. Please use the invoice number as your payment reference. Cheques are "
             "no longer accepted."),
        Heading("Terms and conditions (extract)", level=2),
        Para("1. Title to the goods passes to the customer only when payment has been received "
             "in full. Until then the customer holds the goods as bailee and must store them "
             "separately and keep them insured. 2. Claims for short delivery or damage must be "
             "notified in writing within five working days of delivery; colour variations "
             "within normal industry tolerances are not defects. 3. Artwork, proofs and "
             "plates prepared by us remain our property unless expressly purchased. 4. We are "
             "entitled to charge statutory interest and compensation on late payments under "
             "the Late Payment of Commercial Debts (Interest) Act 1998. 5. Overs or unders of "
             "up to five per cent of the quantity ordered are accepted trade practice and will "
             "be charged or credited pro rata."),
        Spacer(6),
        Rule(),
        Title("REMITTANCE ADVICE", scale=1.2),
        KeyValues([("From", inv.customer), ("Invoice number", inv.number),
                   ("Amount due", inv.money(inv.total)),
                   ("Due by", inv.date_fmt(inv.due))], label_width=58),
    ]
    return DocSpec(inv.stem, "invoice", ".txt", f"Invoice {inv.number}",
                   Theme("Courier", 9, "A4", margin=18, leading=1.35),
                   Chrome(header=f"{inv.vendor} - Invoice {inv.number}",
                          footer=("Registered in England No. 00000000 - fictional sample "
                                  "document",)),
                   blocks, f)


# --------------------------------------------------------------------------- contracts


@dataclass(frozen=True)
class Party:
    name: str
    short: str
    description: str  # "a Delaware corporation ..."
    defined_as: str  # '"Halcyon"' or 'the "Customer"'
    signatory: str
    signatory_title: str
    notice_lines: tuple[str, ...]


@dataclass(frozen=True)
class Sub:
    """A numbered sub-clause: optional fixed text (may use {term}/{notice}/{law}) + pool text."""

    title: str
    pool: str | None = None
    n: tuple[int, int] = (3, 4)
    fixed: str = ""
    anchors: tuple[str, ...] = ()
    after: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    subs: tuple[Sub, ...] = ()


@dataclass(frozen=True)
class Contract:
    stem: str
    title: str
    seed: int
    effective: date
    date_fmt: DateFmt
    parties: tuple[Party, Party]
    term_years: int
    notice_days: int
    governing_law: str  # value, e.g. "New York"
    law_display: str  # as printed, e.g. "State of New York"
    preamble: str  # uses {date}
    recitals: tuple[str, ...]
    definitions: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    pools: dict[str, list[str]]
    theme: Theme
    header: str
    schedule: tuple[Block, ...] = field(default=())

    @property
    def term_display(self) -> str:
        return spelled(self.term_years, "years")

    @property
    def notice_display(self) -> str:
        return spelled(self.notice_days, "days")


def contract_fields(c: Contract) -> dict[str, FieldSpec]:
    names = [p.name for p in c.parties]
    signers = [p.signatory for p in c.parties]
    return unlabelled({  # all in clauses, except the signature block's "Name:" lines
        "parties": FieldSpec(names, names),
        "effective_date": FieldSpec(c.effective.isoformat(), c.date_fmt(c.effective)),
        "term": FieldSpec(f"{c.term_years} years", c.term_display),
        "governing_law": FieldSpec(c.governing_law, c.law_display),
        "termination_notice_days": FieldSpec(c.notice_days, c.notice_display),
        "signatories": FieldSpec(signers, signers),
    }, "parties", "effective_date", "term", "governing_law", "termination_notice_days")


class Composer:
    """Turns clause templates into sentences; deterministic given the RNG seed."""

    def __init__(self, rng: random.Random, pools: dict[str, list[str]],
                 refs: dict[str, int], slots: dict[str, str]) -> None:
        self.rng = rng
        self.pools = pools
        self.refs = refs
        self.slots = slots
        self.used: Counter[tuple[str, int]] = Counter()

    def fill(self, template: str) -> str:
        s = re.sub(r"<([^<>]*)>", lambda m: self.rng.choice(m.group(1).split("|")), template)
        s = re.sub(r"\{ref:(\w+)\}", lambda m: str(self.refs[m.group(1)]), s)
        for k, v in self.slots.items():
            s = s.replace("{" + k + "}", v)
        if "{" in s or "<" in s:
            raise ValueError(f"unresolved placeholder in: {s}")
        return s

    def decorate(self, s: str) -> str:
        first, _, rest = s.partition(" ")
        if first in LOWERABLE and self.rng.random() < 0.2:
            s = f"{self.rng.choice(OPENERS)} {first.lower()} {rest}"
        return s

    def sentences(self, pool: str, k: int) -> list[str]:
        """k distinct templates, least used first, kept in the pool's (logical) order.

        Pools are written in topic order, so sub-clauses consume them roughly in sequence
        (a little jitter keeps the two contracts from reading identically).
        """
        items = self.pools[pool]
        order = sorted(range(len(items)),
                       key=lambda i: (self.used[(pool, i)], i + self.rng.uniform(0, 2.5)))
        picks = sorted(order[:min(k, len(items))])
        for i in picks:
            self.used[(pool, i)] += 1
        return [self.decorate(self.fill(items[i])) for i in picks]


def build_contract(c: Contract) -> DocSpec:
    rng = random.Random(c.seed)
    refs = {s.key: n for n, s in enumerate(c.sections, 1)}
    a, b = c.parties
    pools = {**POOLS, **c.pools, **{f"misc:{k}": v for k, v in MISC.items()}}
    comp = Composer(rng, pools, refs, {
        "A": a.short, "B": b.short, "term": c.term_display, "notice": c.notice_display,
        "law": c.law_display, "date": c.date_fmt(c.effective)})

    blocks: list[Block] = [
        Title(c.title.upper(), align="C", scale=1.6),
        Spacer(2),
        Para(comp.fill(c.preamble), anchors=("effective_date",)),
        *[Para(f"({i}) {p.name}, {p.description} ({p.defined_as}){end}", indent=6,
               anchors=("parties",))
          for i, (p, end) in enumerate(zip(c.parties, ("; and", ".")), 1)],
        Heading("Background", level=2),
        *[Para(f"({chr(65 + i)}) {comp.fill(r)}", indent=6) for i, r in enumerate(c.recitals)],
        Para("NOW, THEREFORE, in consideration of the mutual covenants set out below, and for "
             "other good and valuable consideration, the receipt and sufficiency of which are "
             "hereby acknowledged, the Parties agree as follows:"),
    ]
    for n, sec in enumerate(c.sections, 1):
        blocks.append(Heading(f"{n}. {sec.title}"))
        m = 0
        if sec.key == "definitions":
            blocks.append(Para("In this Agreement, the following capitalised terms have the "
                               "meanings set out below:"))
            for m, (term, meaning) in enumerate(c.definitions, 1):
                blocks.append(Para(f'"{term}" {comp.fill(meaning)}', lead=f"{n}.{m}"))
        for m, sub in enumerate(sec.subs, m + 1):
            body = [comp.fill(sub.fixed)] if sub.fixed else []
            if sub.pool:
                body += comp.sentences(sub.pool, rng.randint(*sub.n))
            blocks.append(Para(" ".join(body), lead=f"{n}.{m} {sub.title}.",
                               anchors=sub.anchors))
            blocks.extend(sub.after)

    blocks += [
        PageBreak(),
        Heading("Signatures"),
        Para("IN WITNESS WHEREOF, the Parties have caused this Agreement to be executed by their "
             "duly authorised representatives as of the Effective Date."),
        Spacer(6),
        Columns(*[[Run(p.name.upper(), "B"), "", "", "By: ______________________________",
                   f"Name: {p.signatory}", f"Title: {p.signatory_title}",
                   "Date: ____________________"] for p in c.parties],
                anchors=("signatories",)),
        *c.schedule,
    ]
    return DocSpec(c.stem, "contract", ".md", c.title, c.theme,
                   Chrome(header=c.header, footer=("Fictional sample document - not legal "
                                                   "advice",)),
                   blocks, contract_fields(c))


def _notice_block(parties: tuple[Party, Party]) -> Columns:
    return Columns(*[[Run(f"If to {p.short}:", "B"), *p.notice_lines] for p in parties])


def _misc(keys: list[str]) -> tuple[Sub, ...]:
    return tuple(Sub(k, f"misc:{k}", (len(MISC[k]), len(MISC[k]))) for k in keys)


HALCYON = Party(
    name="Halcyon Biometrics, Inc.", short="Halcyon",
    description="a Delaware corporation with its principal place of business at 400 Harbor "
                "Drive, Suite 1200, San Diego, California 92101, United States",
    defined_as='"Halcyon"', signatory="Margaret O'Connell",
    signatory_title="Chief Executive Officer",
    notice_lines=("400 Harbor Drive, Suite 1200", "San Diego, California 92101",
                  "Attention: Daniel Whitcombe, General Counsel",
                  "Email: legal@halcyon-biometrics.example"),
)
LUMIERE = Party(
    name="Lumière Analytics SAS", short="Lumière",
    description="a société par actions simplifiée incorporated under the laws of France, with "
                "its registered office at 18 rue de la Pépinière, 75008 Paris, France",
    defined_as='"Lumière"', signatory="François Lemaire", signatory_title="Président",
    notice_lines=("18 rue de la Pépinière", "75008 Paris, France",
                  "Attention: Céline Marchetti, Directrice juridique",
                  "Email: juridique@lumiere-analytics.example"),
)

NDA = Contract(
    stem="contracts/mutual-nda-halcyon-lumiere",
    title="Mutual Non-Disclosure Agreement",
    seed=20240301,
    effective=date(2024, 3, 1),
    date_fmt=fmt_us,
    parties=(HALCYON, LUMIERE),
    term_years=3,
    notice_days=30,
    governing_law="New York",
    law_display="State of New York",
    preamble='This Mutual Non-Disclosure Agreement (the "Agreement") is made and entered into '
             'as of {date} (the "Effective Date") by and between the following parties (each a '
             '"Party" and together the "Parties"):',
    recitals=(
        "Halcyon develops biometric authentication hardware and software, and Lumière develops "
        "analytics software for retail and transport operators.",
        "The Parties wish to evaluate a potential collaboration and, for that purpose, expect to "
        "exchange information that each of them regards as confidential and valuable.",
        "The Parties have agreed to protect that information on the terms of this Agreement.",
    ),
    definitions=(
        ("Affiliate", 'means any entity that directly or indirectly controls, is controlled by, '
         'or is under common control with a Party, where "control" means the ownership of more '
         'than fifty percent (50%) of the voting securities of that entity or the power to '
         'direct its management and policies.'),
        ("Agreement", "means this Mutual Non-Disclosure Agreement, including any schedules and "
         "any amendments made in accordance with Section {ref:misc}."),
        ("Business Day", "means a day other than a Saturday, Sunday or public holiday on which "
         "banks are open for general business in the place where a notice is received."),
        ("Confidential Information", "means all information, in whatever form or medium, that "
         "is disclosed by or on behalf of the Disclosing Party to the Receiving Party, whether "
         "before or after the Effective Date, including without limitation technical data, "
         "trade secrets, know-how, research, product plans, products, services, customer lists, "
         "markets, software, source code, algorithms, developments, inventions, processes, "
         "designs, drawings, engineering and hardware configuration information, biometric "
         "templates, marketing plans, pricing, finances and other business information, "
         "together with all Derivatives."),
        ("Derivatives", "means any notes, analyses, compilations, forecasts, studies, "
         "interpretations or other documents prepared by the Receiving Party or its "
         "Representatives that contain, reflect or are based upon Confidential Information."),
        ("Disclosing Party", "means the Party disclosing Confidential Information, whether "
         "directly or through its Affiliates or Representatives."),
        ("Effective Date", "means the date stated in the preamble to this Agreement."),
        ("Intellectual Property Rights", "means patents, utility models, rights to inventions, "
         "copyright and related rights, trade marks, business names and domain names, rights "
         "in designs, rights in computer software, database rights, rights to preserve the "
         "confidentiality of information, and all other intellectual property rights, in each "
         "case whether registered or unregistered and wherever in the world they subsist."),
        ("Personal Data", "has the meaning given to it, or to any equivalent term, in the data "
         "protection laws applicable to the relevant processing."),
        ("Purpose", "means the evaluation by the Parties of a potential collaboration "
         "concerning the integration of Halcyon's biometric authentication modules with "
         "Lumière's analytics software, and any negotiation relating thereto."),
        ("Receiving Party", "means the Party receiving Confidential Information, whether "
         "directly or through its Affiliates or Representatives."),
        ("Representatives", "means, in relation to a Party, its Affiliates and its and their "
         "respective directors, officers, employees, agents, professional advisers, auditors "
         "and actual or prospective financing sources."),
        ("Security Incident", "means any actual or reasonably suspected unauthorised access to, "
         "or acquisition, use, loss or disclosure of, Confidential Information."),
        ("Term", "has the meaning given in Section {ref:term}."),
        ("Trade Secret", "means any Confidential Information that derives independent economic "
         "value from not being generally known and that is the subject of reasonable efforts "
         "to maintain its secrecy."),
    ),
    sections=(
        Section("definitions", "Definitions and Interpretation",
                (Sub("Interpretation", "misc:Interpretation", (3, 3)),)),
        Section("purpose", "Purpose and Scope", (
            Sub("Purpose", "purpose", (3, 4)), Sub("Mutuality", "purpose", (2, 3)),
            Sub("Coordinators", "purpose", (2, 3)))),
        Section("confidentiality", "Confidentiality Obligations", (
            Sub("Non-Disclosure", "confidentiality", (3, 4)),
            Sub("Restrictions on Use", "confidentiality", (3, 4)),
            Sub("Standard of Care", "confidentiality", (3, 4)),
            Sub("Disclosure to Representatives", "confidentiality", (3, 4)),
            Sub("Form of Disclosure", "confidentiality", (3, 4)),
            Sub("Records and Copies", "confidentiality", (3, 4)))),
        Section("exclusions", "Exclusions", (
            Sub("Public and Prior Information", "exclusions", (3, 4)),
            Sub("Independent Development", "exclusions", (2, 3)),
            Sub("Burden of Proof", "exclusions", (2, 3)))),
        Section("term", "Term", (
            Sub("Duration", "term_extra", (1, 2), anchors=("term",),
                fixed='This Agreement shall commence on the Effective Date and, unless '
                      'terminated earlier in accordance with Section {ref:termination}, shall '
                      'continue in force for a period of {term} (the "Term").'),
            Sub("Survival", "term_extra", (2, 3)))),
        Section("termination", "Termination", (
            Sub("Termination for Convenience", "termination", (1, 2),
                anchors=("termination_notice_days",),
                fixed="Either Party may terminate this Agreement for convenience at any time by "
                      "giving the other Party not less than {notice}' prior written notice."),
            Sub("Termination for Cause", "termination", (3, 3)),
            Sub("Effect of Termination", "termination", (2, 3)))),
        Section("compelled", "Compelled Disclosure", (
            Sub("Legal Requirement", "compelled", (3, 4)),
            Sub("Limited Disclosure", "compelled", (3, 4)))),
        Section("security", "Information Security", (
            Sub("Safeguards", "security", (3, 4)), Sub("Security Incidents", "security", (2, 3)))),
        Section("return", "Return and Destruction of Information", (
            Sub("Return on Request", "return", (3, 4)), Sub("Retained Copies", "return", (2, 3)))),
        Section("ownership", "Ownership; No Licence", (
            Sub("Ownership", "ownership", (3, 4)), Sub("No Obligation", "ownership", (3, 3)))),
        Section("warranty", "No Warranty", (
            Sub("Disclaimer", "warranty", (2, 3)), Sub("Authority", "warranty", (3, 3)))),
        Section("data", "Data Protection", (
            Sub("Compliance with Law", "data", (3, 4)),
            Sub("Security of Personal Data", "data", (3, 4)),
            Sub("Data Subject Rights", "data", (2, 3)))),
        Section("governing", "Governing Law and Jurisdiction", (
            Sub("Governing Law", "governing", (1, 1), anchors=("governing_law",),
                fixed="This Agreement, and any dispute or claim arising out of or in connection "
                      "with it, shall be governed by and construed in accordance with the laws "
                      "of the {law}, without giving effect to any choice of law or conflict of "
                      "law rules that would cause the application of the laws of any other "
                      "jurisdiction."),
            Sub("Jurisdiction", "governing", (2, 3),
                fixed="Each Party irrevocably submits to the exclusive jurisdiction of the "
                      "state and federal courts located in the Borough of Manhattan for the "
                      "resolution of any such dispute or claim."),
            Sub("Waiver of Jury Trial", "governing", (1, 2),
                fixed="Each Party hereby waives, to the fullest extent permitted by law, any "
                      "right it may have to a trial by jury in respect of any proceedings "
                      "arising out of or relating to this Agreement."))),
        Section("remedies", "Remedies", (
            Sub("Equitable Relief", "remedies", (3, 4)),
            Sub("Indemnity and Costs", "remedies", (2, 3)))),
        Section("nonsolicit", "Non-Solicitation", (Sub("Employees", "nonsolicit", (3, 4)),)),
        Section("export", "Export Control", (Sub("Compliance", "export", (3, 4)),)),
        Section("notices", "Notices", (
            Sub("Form of Notice", "notices", (3, 4)),
            Sub("Addresses", fixed="Notices shall be sent to the following addresses:",
                after=(_notice_block((HALCYON, LUMIERE)),)),
            Sub("Deemed Receipt", "notices", (2, 2)))),
        Section("misc", "Miscellaneous", _misc(
            ["Entire Agreement", "Amendment", "Assignment", "Severability", "Waiver",
             "Counterparts", "Relationship of the Parties", "Force Majeure",
             "Third-Party Rights", "Costs"])),
    ),
    pools=NDA_POOLS,
    theme=Theme("Times", 11, "Letter", margin=25.4, leading=1.4, justify=True),
    header="Mutual Non-Disclosure Agreement | Halcyon / Lumière | Confidential",
)

BLUEGATE = Party(
    name="Bluegate Logistics LLC", short="Bluegate",
    description="a Texas limited liability company whose principal office is at 2300 Commerce "
                "Street, Houston, Texas 77002, United States",
    defined_as='the "Customer"', signatory="Aoife Ní Bhriain",
    signatory_title="Chief Operating Officer",
    notice_lines=("2300 Commerce Street", "Houston, Texas 77002, United States",
                  "Attention: Priya Raman, Vice President, Procurement",
                  "Email: contracts@bluegate-logistics.example"),
)
CORVID = Party(
    name="Corvid Data Systems Limited", short="Corvid",
    description="a private company limited by shares incorporated in Ireland with company "
                "number 000000, whose registered office is at 5 Grand Canal Quay, Dublin 2, "
                "Ireland",
    defined_as='the "Supplier"', signatory="Søren Kjær", signatory_title="Managing Director",
    notice_lines=("5 Grand Canal Quay", "Dublin 2, Ireland",
                  "Attention: Cormac Doyle, Company Secretary",
                  "Email: legal@corvid-data.example"),
)

MSA_EXTRA: dict[str, list[str]] = {
    "term_extra": [
        "Each Renewal Term shall be on the terms of this Agreement as in force at the end of the "
        "preceding term, unless the Parties agree otherwise in writing.",
        "A notice of non-renewal shall be given no later than <four (4)|six (6)> months before "
        "the end of the then-current term.",
        "Any Statement of Work in force on the expiry of this Agreement shall continue to be "
        "governed by the terms of this Agreement until its own completion or termination.",
        'References in this Agreement to the "Term" include the Initial Term and any Renewal '
        "Term.",
        "The Parties shall meet at least annually during the Term to review the performance of "
        "the Services and the Charges.",
    ],
}

MSA = Contract(
    stem="contracts/msa-bluegate-corvid",
    title="Master Services Agreement",
    seed=20240615,
    effective=date(2024, 6, 15),
    date_fmt=fmt_uk,
    parties=(BLUEGATE, CORVID),
    term_years=2,
    notice_days=90,
    governing_law="England and Wales",
    law_display="England and Wales",
    preamble='This Master Services Agreement (the "Agreement") is dated {date} (the "Effective '
             'Date") and is made between the following parties (each a "Party" and together the '
             '"Parties"):',
    recitals=(
        "The Customer operates freight forwarding and warehousing services and wishes to "
        "procure software development, data engineering and managed hosting services.",
        "The Supplier is a provider of such services and has agreed to provide them to the "
        "Customer from time to time under Statements of Work governed by this Agreement.",
    ),
    definitions=(
        ("Acceptance", "means the written confirmation by the Customer that a Deliverable "
         "conforms to its acceptance criteria, and Accepted shall be construed accordingly."),
        ("Affiliate", "means, in relation to a Party, any entity that controls, is controlled "
         "by, or is under common control with that Party from time to time."),
        ("Business Day", "means a day other than a Saturday, Sunday or public holiday in "
         "Houston, Texas or in Dublin, Ireland."),
        ("Change Request", "means a written request to change the scope, timing or Charges of "
         "any Services, submitted in accordance with Section {ref:services}."),
        ("Charges", "means the fees payable by the Customer for the Services as set out in the "
         "applicable Statement of Work."),
        ("Confidential Information", "means all information of a confidential nature disclosed "
         "by or on behalf of a Party to the other Party in connection with this Agreement, "
         "including the terms of this Agreement, Customer Data, business plans, pricing, "
         "software and technical documentation."),
        ("Customer Data", "means all data, including Personal Data, supplied by or on behalf of "
         "the Customer or generated by the Supplier in the course of providing the Services."),
        ("Deliverables", "means all documents, software, reports and other materials developed "
         "by the Supplier or Supplier Personnel for the Customer in the course of providing the "
         "Services."),
        ("Disclosing Party", "means a Party that discloses Confidential Information to the "
         "other Party."),
        ("Good Industry Practice", "means the exercise of the degree of skill, care, prudence, "
         "efficiency and foresight that would reasonably be expected from a leading supplier "
         "of services similar to the Services."),
        ("Intellectual Property Rights", "means patents, rights to inventions, copyright and "
         "related rights, trade marks, rights in software, database rights, rights in "
         "confidential information and all other intellectual property rights, whether "
         "registered or unregistered, anywhere in the world."),
        ("Key Personnel", "means the individuals identified as such in a Statement of Work."),
        ("Personal Data", "has the meaning given in the data protection legislation applicable "
         "to the relevant processing."),
        ("Purpose", "means the performance of this Agreement and the receipt of the Services."),
        ("Receiving Party", "means a Party that receives Confidential Information from the "
         "other Party."),
        ("Representatives", "means, in relation to a Party, its Affiliates and its and their "
         "employees, officers, subcontractors and professional advisers."),
        ("Service Credits", "means the reductions in the Charges that apply when a Service Level "
         "is not met, as set out in the applicable Statement of Work."),
        ("Service Levels", "means the performance standards for the Services set out in a "
         "Statement of Work."),
        ("Services", "means the services described in a Statement of Work, together with any "
         "ancillary services reasonably necessary for their performance."),
        ("Statement of Work", "means a document substantially in the form set out in Schedule "
         "1 that describes specific Services and is signed by both Parties."),
        ("Supplier Personnel", "means all employees, agents, consultants and subcontractors of "
         "the Supplier engaged in the provision of the Services."),
    ),
    sections=(
        Section("definitions", "Definitions and Interpretation",
                (Sub("Interpretation", "misc:Interpretation", (3, 3)),)),
        Section("services", "Services and Statements of Work", (
            Sub("Provision of Services", "services", (3, 4)),
            Sub("Statements of Work", "services", (3, 3)),
            Sub("Change Control", "services", (3, 3)),
            Sub("Acceptance", "services", (3, 3)))),
        Section("sla", "Service Levels", (
            Sub("Performance Standards", "sla", (3, 3)), Sub("Service Credits", "sla", (3, 3)),
            Sub("Remediation", "sla", (2, 3)))),
        Section("governance", "Governance and Reporting", (
            Sub("Relationship Managers", "governance", (3, 3)),
            Sub("Steering Committee", "governance", (3, 4)))),
        Section("personnel", "Supplier Personnel", (
            Sub("Qualifications", "personnel", (3, 3)), Sub("Key Personnel", "personnel", (3, 3)),
            Sub("Subcontracting", "personnel", (2, 3)))),
        Section("customer", "Customer Responsibilities", (
            Sub("Cooperation", "customer", (3, 3)),
            Sub("Customer Materials", "customer", (3, 3)))),
        Section("fees", "Charges and Payment", (
            Sub("Charges", "fees", (3, 3)), Sub("Invoicing", "fees", (3, 3)),
            Sub("Disputed Invoices", "fees", (3, 3)))),
        Section("term", "Term", (
            Sub("Initial Term", "term_extra", (1, 1), anchors=("term",),
                fixed='This Agreement shall commence on the Effective Date and shall continue '
                      'for an initial term of {term} (the "Initial Term"), after which it shall '
                      'automatically renew for successive periods of twelve (12) months (each a '
                      '"Renewal Term") unless either Party gives notice of non-renewal in '
                      'accordance with this Section.'),
            Sub("Renewal", "term_extra", (2, 3)))),
        Section("termination", "Termination", (
            Sub("Termination for Convenience", "termination", (1, 2),
                anchors=("termination_notice_days",),
                fixed="Either Party may terminate this Agreement, or any Statement of Work, for "
                      "convenience by giving the other Party at least {notice}' written "
                      "notice."),
            Sub("Termination for Cause", "termination", (3, 3)),
            Sub("Consequences of Termination", "termination", (2, 3)))),
        Section("exit", "Exit Assistance", (
            Sub("Transfer of Services", "exit", (3, 3)), Sub("Return of Data", "exit", (2, 2)))),
        Section("confidentiality", "Confidentiality", (
            Sub("Obligations", "confidentiality", (5, 6)),
            Sub("Representatives", "confidentiality", (4, 5)),
            Sub("Exceptions", "exclusions", (3, 4)),
            Sub("Compelled Disclosure", "compelled", (3, 3)))),
        Section("ip", "Intellectual Property", (
            Sub("Background Rights", "ip", (2, 3)), Sub("Deliverables", "ip", (2, 3)),
            Sub("Open Source", "ip", (2, 2)))),
        Section("warranties", "Warranties", (
            Sub("Supplier Warranties", "warranties", (3, 4)),
            Sub("Exclusion of Implied Terms", "warranties", (2, 2)))),
        Section("indemnity", "Indemnification", (
            Sub("Infringement Indemnity", "indemnity", (2, 3)),
            Sub("Conduct of Claims", "indemnity", (2, 3)))),
        Section("liability", "Limitation of Liability", (
            Sub("Unlimited Liability", "liability", (2, 2)), Sub("Cap", "liability", (3, 4)))),
        Section("governing", "Governing Law and Dispute Resolution", (
            Sub("Governing Law", "governing", (1, 1), anchors=("governing_law",),
                fixed="This Agreement and any dispute or claim (including non-contractual "
                      "disputes or claims) arising out of or in connection with it or its "
                      "subject matter or formation shall be governed by and construed in "
                      "accordance with the law of {law}."),
            Sub("Jurisdiction", "governing", (1, 2),
                fixed="Each Party irrevocably agrees that the courts of {law} shall have "
                      "exclusive jurisdiction to settle any such dispute or claim."),
            Sub("Escalation", "governing", (2, 3)))),
        Section("data", "Data Protection", (
            Sub("Compliance", "data", (3, 4)), Sub("Security", "data", (3, 4)))),
        Section("insurance", "Insurance", (Sub("Cover", "insurance", (3, 4)),)),
        Section("notices", "Notices", (
            Sub("Form of Notice", "notices", (3, 4)),
            Sub("Addresses", fixed="Notices shall be sent to the following addresses:",
                after=(_notice_block((BLUEGATE, CORVID)),)),
            Sub("Deemed Receipt", "notices", (2, 2)))),
        Section("misc", "General", _misc(
            ["Entire Agreement", "Amendment", "Assignment", "Severability", "Waiver",
             "Counterparts", "Relationship of the Parties", "Force Majeure",
             "Third-Party Rights"])),
    ),
    pools={**MSA_POOLS, **MSA_EXTRA},
    theme=Theme("Helvetica", 10, "A4", margin=22, leading=1.45, justify=True,
                accent=(10, 70, 90)),
    header="Master Services Agreement | Bluegate / Corvid",
    schedule=(
        PageBreak(),
        Heading("Schedule 1 - Form of Statement of Work"),
        Para("Each Statement of Work shall contain at least the following information. Text in "
             "square brackets is to be completed by the Parties."),
        KeyValues([("SOW number", "[SOW-000]"),
                   ("SOW start date", "[date]"),
                   ("Services", "[description of the Services and their location]"),
                   ("Deliverables", "[list of Deliverables and acceptance criteria]"),
                   ("Key Personnel", "[names and roles]"),
                   ("Service Levels", "[metrics, targets, measurement period]"),
                   ("Service Credits", "[credit per missed Service Level]"),
                   ("Charges", "[fixed price / time and materials rates; milestones]"),
                   ("Customer dependencies", "[information, access and resources required]"),
                   ("Authorised signatories", "[name and title for each Party]")],
                  label_width=55),
    ),
)


# --------------------------------------------------------------------------- medical


@dataclass(frozen=True)
class Patient:
    stem: str
    hospital: str
    hospital_lines: tuple[str, ...]
    name: str
    mrn: str
    dob: date
    sex: str
    admitted: date
    discharged: date
    attending: str
    service: str
    pcp: str
    diagnoses: tuple[str, ...]
    chief_complaint: str
    hpi: str
    course: tuple[tuple[str, str], ...]
    procedures: tuple[str, ...]
    labs: tuple[tuple[str, str, str, str], ...]
    condition: str
    medications: tuple[str, ...]
    med_changes: str
    allergies: str
    instructions: tuple[str, ...]
    follow_up: str
    date_fmt: DateFmt
    theme: Theme


def patient_fields(p: Patient) -> dict[str, FieldSpec]:
    def d(x: date) -> FieldSpec:
        return FieldSpec(x.isoformat(), p.date_fmt(x))

    return {
        "patient_name": FieldSpec(p.name, p.name),
        "mrn": FieldSpec(p.mrn, p.mrn),
        "date_of_birth": d(p.dob),
        "admission_date": d(p.admitted),
        "discharge_date": d(p.discharged),
        "attending_physician": FieldSpec(p.attending, p.attending),
        "diagnoses": FieldSpec(list(p.diagnoses), list(p.diagnoses)),
        "medications": FieldSpec(list(p.medications), list(p.medications)),
        "follow_up": FieldSpec(p.follow_up, p.follow_up),
    }


def build_discharge(p: Patient) -> DocSpec:
    stay = (p.discharged - p.admitted).days
    blocks: list[Block] = [
        Lines([Run(p.hospital, "B", 1.4), *p.hospital_lines]),
        Rule(),
        Title("Discharge Summary", scale=1.5),
        KeyValues([("Patient name", p.name), ("MRN", p.mrn),
                   ("Date of birth", p.date_fmt(p.dob)), ("Sex", p.sex),
                   ("Admission date", p.date_fmt(p.admitted)),
                   ("Discharge date", p.date_fmt(p.discharged)),
                   ("Length of stay", f"{stay} days"),
                   ("Attending physician", f"{p.attending}, MD"), ("Service", p.service),
                   ("Primary care physician", p.pcp),
                   ("Discharge disposition", "Home with self-care")],
                  label_width=48,
                  anchors=("patient_name", "mrn", "date_of_birth", "admission_date",
                           "discharge_date", "attending_physician")),
        Heading("Diagnoses", level=2),
        Para("Principal diagnosis first, followed by secondary diagnoses:", style="I"),
        Bullets(list(p.diagnoses), numbered=True, anchors=("diagnoses",)),
        Heading("Chief Complaint", level=2),
        Para(p.chief_complaint),
        Heading("History of Present Illness", level=2),
        Para(p.hpi),
        Heading("Hospital Course", level=2),
        *[Para(text, lead=lead) for lead, text in p.course],
        Heading("Procedures", level=2),
        Bullets(list(p.procedures)),
        Heading("Pertinent Results", level=2),
        Table(["Test", "Admission", "Peak / nadir", "Discharge"], [list(r) for r in p.labs],
              widths=[40, 20, 20, 20], aligns="LRRR"),
        Heading("Condition at Discharge", level=2),
        Para(p.condition),
        Heading("Discharge Medications", level=2),
        Bullets(list(p.medications), anchors=("medications",)),
        Para(p.med_changes),
        Heading("Allergies", level=2),
        Para(p.allergies),
        Heading("Discharge Instructions", level=2),
        Bullets(list(p.instructions)),
        Heading("Follow-up Appointment", level=2),
        Para(p.follow_up, anchors=("follow_up",)),
        Spacer(4),
        Para(f"Electronically signed by {p.attending}, MD on {p.date_fmt(p.discharged)}.",
             style="I"),
    ]
    return DocSpec(p.stem, "discharge_summary", ".txt", f"Discharge Summary - {p.name}",
                   p.theme,
                   Chrome(header=f"{p.name} | MRN {p.mrn} | DOB {p.date_fmt(p.dob)}",
                          footer=("FICTIONAL PATIENT - synthetic record created for software "
                                  "testing. Not real medical data.",)),
                   blocks, patient_fields(p))


MUELLER_ZOE = Patient(
    stem="medical/discharge-zoe-mueller",
    hospital="Lakeshore General Hospital",
    hospital_lines=("Department of Cardiology", "1 Lakeshore Drive, Milwaukee, WI 53202",
                    "Tel. (000) 555-0100"),
    name="Zoë Müller",
    mrn="00482913",
    dob=date(1957, 3, 14),
    sex="Female",
    admitted=date(2024, 2, 8),
    discharged=date(2024, 2, 13),
    attending="Amara Okonkwo",
    service="Cardiology",
    pcp="Dr. Tomás Herrera",
    diagnoses=(
        "Non-ST-elevation myocardial infarction (NSTEMI)",
        "Single-vessel coronary artery disease, status post drug-eluting stent to proximal "
        "left circumflex artery",
        "Contrast-associated acute kidney injury, resolved",
        "Type 2 diabetes mellitus",
        "Essential hypertension",
        "Hyperlipidemia",
    ),
    chief_complaint="Substernal chest pressure for three hours.",
    hpi="Ms. Müller is a 66-year-old woman with type 2 diabetes mellitus, hypertension and "
        "hyperlipidemia who presented to the emergency department on the evening of admission "
        "with approximately three hours of substernal chest pressure radiating to the left arm, "
        "associated with diaphoresis and mild shortness of breath. The pain began while she "
        "was carrying groceries up two flights of stairs and did not resolve with rest. She "
        "denied any prior similar episodes, syncope, palpitations, orthopnea or leg swelling. "
        "She is a lifelong non-smoker and drinks alcohol rarely. In the emergency department "
        "her blood pressure was 168/94 mmHg, heart rate 98 beats per minute and oxygen "
        "saturation 96% on room air. The initial electrocardiogram showed 1 mm horizontal ST "
        "depressions in leads V4 through V6 without ST elevation. High-sensitivity troponin I "
        "was 412 ng/L on arrival and rose to 2,870 ng/L at three hours. She received aspirin "
        "324 mg chewed, a weight-based heparin infusion and sublingual nitroglycerin with "
        "partial relief, and was admitted to the cardiology step-down unit.",
    course=(
        ("1. NSTEMI.", "She was treated with dual antiplatelet therapy, a high-intensity statin "
         "and intravenous heparin. Coronary angiography on hospital day 2 demonstrated a 90% "
         "stenosis of the proximal left circumflex artery with mild non-obstructive disease "
         "elsewhere, and a drug-eluting stent was placed without complication via the right "
         "radial artery. Transthoracic echocardiography showed a left ventricular ejection "
         "fraction of 50% with mild inferolateral hypokinesis and no significant valvular "
         "disease. A beta-blocker was started and titrated to a resting heart rate in the 60s. "
         "She remained free of chest pain after the procedure and walked the length of the "
         "ward without symptoms on hospital day 4. A referral to cardiac rehabilitation was "
         "placed before discharge."),
        ("2. Acute kidney injury.", "Creatinine rose from a baseline of 0.9 mg/dL to 1.6 mg/dL on "
         "the day after catheterization, consistent with contrast-associated kidney injury. "
         "Metformin and lisinopril were held and she received intravenous isotonic fluids; "
         "creatinine returned to 1.0 mg/dL by the day of discharge. Lisinopril was resumed at a "
         "reduced dose and metformin was restarted on the morning of discharge."),
        ("3. Type 2 diabetes mellitus.", "Hemoglobin A1c was 7.9%. Glucose was managed with "
         "basal-bolus insulin while metformin was held. Her home glipizide has been "
         "discontinued because of two episodes of hypoglycemia in the preceding month; her "
         "diabetes regimen will be reviewed by her primary care physician."),
        ("4. Hypertension and hyperlipidemia.", "Blood pressure was well controlled on the "
         "beta-blocker and low-dose ACE inhibitor. LDL cholesterol was 142 mg/dL; high-intensity "
         "atorvastatin was started with a target LDL below 55 mg/dL."),
    ),
    procedures=(
        "02/09/2024: Coronary angiography via right radial artery",
        "02/09/2024: Percutaneous coronary intervention, drug-eluting stent to proximal left "
        "circumflex artery",
        "02/10/2024: Transthoracic echocardiogram",
    ),
    labs=(
        ("Troponin I, high-sensitivity (ng/L)", "412", "2,870", "390"),
        ("Creatinine (mg/dL)", "0.9", "1.6", "1.0"),
        ("Potassium (mmol/L)", "4.1", "4.8", "4.3"),
        ("Hemoglobin (g/dL)", "13.2", "12.1", "12.4"),
        ("LDL cholesterol (mg/dL)", "142", "-", "-"),
        ("Hemoglobin A1c (%)", "7.9", "-", "-"),
    ),
    condition="Stable. Free of chest pain, ambulating independently, alert and oriented. Right "
              "radial access site without hematoma; radial pulse palpable.",
    medications=(
        "Aspirin 81 mg once daily",
        "Clopidogrel 75 mg once daily",
        "Atorvastatin 80 mg once daily at bedtime",
        "Metoprolol tartrate 25 mg twice daily",
        "Lisinopril 2.5 mg once daily",
        "Metformin 500 mg twice daily with meals",
        "Nitroglycerin 0.4 mg sublingual every 5 minutes as needed for chest pain, up to 3 "
        "doses",
    ),
    med_changes="Changes: glipizide 5 mg daily STOPPED (hypoglycemia). Lisinopril dose reduced "
                "from 10 mg. Aspirin, clopidogrel, atorvastatin, metoprolol tartrate and "
                "nitroglycerin are NEW. Do not stop clopidogrel without talking to your "
                "cardiologist.",
    allergies="Penicillin (rash).",
    instructions=(
        "Do not lift more than 10 lb (4.5 kg) with the right arm for 5 days.",
        "Call 911 for chest pain that is not relieved by one nitroglycerin tablet within 5 "
        "minutes.",
        "Heart-healthy, low-sodium, carbohydrate-controlled diet.",
        "No driving for one week.",
        "Basic metabolic panel 3 to 5 days before the cardiology visit.",
        "See your primary care physician, Dr. Tomás Herrera, within two weeks.",
    ),
    follow_up="Cardiology clinic with Dr. Lena Castellanos on 02/27/2024 at 9:30 AM",
    date_fmt=fmt_slash_us,
    theme=Theme("Helvetica", 9.5, "Letter", margin=18, accent=(15, 75, 120),
                fill=(222, 235, 245)),
)

DUBOIS_FRANCOIS = Patient(
    stem="medical/discharge-francois-dubois",
    hospital="St. Aldric Memorial Hospital",
    hospital_lines=("Department of Internal Medicine - Ward 4B",
                    "220 Aldric Avenue, Burlington, VT 05401"),
    name="François Dubois",
    mrn="7730155",
    dob=date(1949, 11, 2),
    sex="Male",
    admitted=date(2024, 1, 22),
    discharged=date(2024, 1, 29),
    attending="Henrik Sjöberg",
    service="Internal Medicine",
    pcp="Dr. Ingrid Åkesson",
    diagnoses=(
        "Community-acquired pneumonia, right lower lobe",
        "Acute exacerbation of chronic obstructive pulmonary disease (COPD)",
        "Atrial fibrillation with rapid ventricular response, now rate controlled",
        "Chronic kidney disease, stage 3a",
    ),
    chief_complaint="Three days of productive cough, fever and worsening shortness of breath.",
    hpi="Mr. Dubois is a 74-year-old man with severe COPD (GOLD 3, former smoker with a "
        "45 pack-year history, quit in 2009), permanent atrial fibrillation on "
        "anticoagulation and stage 3a chronic kidney disease who presented with three days of "
        "cough productive of green sputum, fevers to 38.9 °C at home, increasing breathlessness "
        "and wheeze. He had been using his rescue inhaler every two hours without relief. He "
        "denied chest pain, hemoptysis or leg swelling. On arrival his oxygen saturation was "
        "86% on room air, respiratory rate 28 per minute, heart rate 134 beats per minute and "
        "irregular, blood pressure 118/72 mmHg and temperature 38.7 °C. He was using accessory "
        "muscles and had diffuse expiratory wheeze with coarse crackles at the right base. The "
        "chest radiograph showed right lower lobe consolidation without effusion. He received "
        "nebulised bronchodilators, intravenous methylprednisolone 125 mg, ceftriaxone and "
        "azithromycin, and intravenous diltiazem for rate control, and was admitted to the "
        "medical ward on 2 L/min of oxygen by nasal cannula.",
    course=(
        ("1. Pneumonia.", "He completed five days of intravenous ceftriaxone with three days of "
         "azithromycin and was then changed to oral amoxicillin-clavulanate to complete a "
         "seven-day course. Blood cultures remained negative; sputum culture grew "
         "Streptococcus pneumoniae sensitive to penicillin. Fever resolved on hospital day 3 "
         "and C-reactive protein fell from 186 mg/L to 22 mg/L."),
        ("2. COPD exacerbation.", "He was treated with scheduled nebulised bronchodilators and "
         "systemic corticosteroids, changed to oral prednisone on hospital day 3. Oxygen was "
         "weaned to room air by hospital day 6, with a resting saturation of 93% and an "
         "exertional nadir of 90% on a six-minute walk test, so home oxygen is not required. "
         "His maintenance inhaler regimen was escalated to a long-acting antimuscarinic plus "
         "an inhaled corticosteroid/long-acting beta-agonist combination, and inhaler "
         "technique was reviewed with the respiratory therapist."),
        ("3. Atrial fibrillation.", "Rapid ventricular response was attributed to infection and "
         "hypoxia. He was rate controlled with intravenous and then oral diltiazem, with a "
         "resting heart rate of 78 to 88 at discharge. Anticoagulation with apixaban was "
         "continued; the standard dose remains appropriate (age under 80, weight 71 kg, "
         "creatinine 1.4 mg/dL)."),
        ("4. Chronic kidney disease.", "Creatinine was stable at 1.3 to 1.4 mg/dL throughout the "
         "admission (eGFR approximately 50 mL/min/1.73 m²). Medication doses were reviewed for "
         "renal function."),
    ),
    procedures=(
        "None. Chest radiograph on admission and on 26 Jan 2024 (improving consolidation).",
    ),
    labs=(
        ("White cell count (x10^9/L)", "17.8", "18.4", "9.1"),
        ("C-reactive protein (mg/L)", "186", "201", "22"),
        ("Creatinine (mg/dL)", "1.4", "1.5", "1.3"),
        ("Arterial pCO2 (kPa)", "6.9", "6.9", "-"),
        ("Procalcitonin (µg/L)", "2.4", "-", "0.3"),
    ),
    condition="Improved and stable. Afebrile for more than 72 hours, saturation 93% on room air, "
              "walking independently on the ward, eating and drinking normally.",
    medications=(
        "Amoxicillin-clavulanate 875-125 mg twice daily for 2 more days",
        "Prednisone 40 mg once daily for 2 more days, then stop",
        "Tiotropium 18 µg inhaled once daily",
        "Budesonide-formoterol 160/4.5 µg 2 inhalations twice daily",
        "Albuterol 90 µg 2 puffs every 4 to 6 hours as needed for wheeze",
        "Apixaban 5 mg twice daily",
        "Diltiazem extended-release 180 mg once daily",
    ),
    med_changes="Changes: metoprolol 25 mg daily STOPPED (bronchospasm, replaced by diltiazem). "
                "Budesonide-formoterol is NEW and replaces salmeterol. Continue apixaban "
                "without interruption.",
    allergies="No known drug allergies.",
    instructions=(
        "Rinse mouth with water after each use of the budesonide-formoterol inhaler.",
        "Seek urgent care for worsening breathlessness, fever above 38 °C, confusion or "
        "coughing up blood.",
        "Repeat chest X-ray in 6 weeks to confirm resolution.",
        "Pneumococcal and seasonal influenza vaccination to be reviewed by Dr. Ingrid Åkesson.",
        "Pulmonary rehabilitation referral has been sent; the team will call to arrange an "
        "assessment.",
    ),
    follow_up="Pulmonology clinic with Dr. Imogen Achterberg on 12 Feb 2024 at 14:00",
    date_fmt=fmt_abbr,
    theme=Theme("Times", 10.5, "A4", margin=20, accent=(40, 90, 40), fill=(228, 240, 228)),
)


def all_documents() -> list[DocSpec]:
    """Every sample document, in a fixed order."""
    return [
        build_acme(), build_mueller(), build_kestrel(),
        build_contract(NDA), build_contract(MSA),
        build_discharge(MUELLER_ZOE), build_discharge(DUBOIS_FRANCOIS),
    ]

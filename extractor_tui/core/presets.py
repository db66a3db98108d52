"""The built-in field sets, as plain data: invoice, contract, medical, resume.

Why plain tuples and not ``FieldSpec``s: this module is data only, so ``fields.py`` can build
``PRESETS`` from it without an import cycle, and the descriptions can be read and edited
without any code around them.

The descriptions are the instruction the model gets for each field, so they say what to take
and what to leave. Phrases in double quotes are labels the value is often printed under
(the offline provider matches them as synonyms), so example values are never in double
quotes. The invoice, contract and medical names
are the ones ``sample_docs/expected.json`` uses.

Each row: (name, type, many, required, description).
"""

from __future__ import annotations

__all__ = ["PRESET_DATA", "PresetRow"]

PresetRow = tuple[str, str, bool, bool, str]

_INVOICE: tuple[PresetRow, ...] = (
    ("invoice_number", "string", False, True,
     'The invoice\'s own number or identifier, exactly as printed, e.g. after "Invoice No.", '
     '"Invoice #" or "Invoice number". Not a customer, order or PO number.'),
    ("invoice_date", "date", False, True,
     'The date the invoice was issued ("Invoice date", "Date of issue"). Not the delivery, '
     'order or due date.'),
    ("due_date", "date", False, False,
     'The date by which payment is due ("Due date", "Payment due", "Pay by").'),
    ("vendor", "string", False, True,
     'The legal name of the company or person that issued the invoice and is to be paid '
     '("From", "Seller", "Supplier"), usually in the letterhead. Name only, no address.'),
    ("customer", "string", False, False,
     'The name of the company or person being billed ("Bill to", "Invoice to", "Customer", '
     '"Sold to"). Name only, no address or contact person.'),
    ("currency", "string", False, False,
     'The ISO 4217 code of the invoice currency, e.g. USD, EUR, GBP ("Currency").'),
    ("subtotal", "number", False, False,
     'The total before tax ("Subtotal", "Net amount", "Total excl. VAT"). The amount only.'),
    ("tax", "number", False, False,
     'The tax amount charged ("Tax", "VAT", "Sales tax", "GST"); the amount, not the rate.'),
    ("total", "number", False, True,
     'The final amount to pay, tax included ("Total", "Total due", "Amount due", '
     '"Grand total", "Balance due"). The amount only.'),
)

_CONTRACT: tuple[PresetRow, ...] = (
    ("parties", "string", True, True,
     "The full legal names of the parties that enter into the agreement, one item per party, "
     "as named in the preamble (without addresses or roles)."),
    ("effective_date", "date", False, False,
     'The date the agreement takes effect ("Effective Date"); if none is stated, the date it '
     "is made or dated."),
    ("term", "string", False, False,
     'How long the agreement runs, as stated, e.g. two (2) years ("Term", "Initial Term"). '
     "Not renewal periods or survival periods."),
    ("governing_law", "string", False, False,
     "The jurisdiction whose law governs the agreement, e.g. England and Wales or New York "
     '("Governing law").'),
    ("termination_notice_days", "integer", False, False,
     "The number of days' written notice a party must give to terminate the agreement for "
     'convenience ("Termination notice").'),
    ("signatories", "string", True, False,
     'The names of the people who sign the agreement, one item per person, from the '
     '"Signatures" block ("Name", "Signed by"). Names only, no titles.'),
)

_MEDICAL: tuple[PresetRow, ...] = (
    ("patient_name", "string", False, True,
     'The patient\'s full name ("Patient name", "Patient", "Name").'),
    ("mrn", "string", False, False,
     'The patient\'s medical record number ("MRN", "Medical record number", "Patient ID").'),
    ("date_of_birth", "date", False, False,
     'The patient\'s date of birth ("Date of birth", "DOB", "Born").'),
    ("admission_date", "date", False, False,
     'The date the patient was admitted ("Admission date", "Admitted", "Date of admission").'),
    ("discharge_date", "date", False, False,
     'The date the patient was discharged ("Discharge date", "Discharged", '
     '"Date of discharge").'),
    ("attending_physician", "string", False, False,
     'The name of the attending physician responsible for the stay ("Attending physician", '
     '"Attending"), without degrees such as MD.'),
    ("diagnoses", "string", True, False,
     'Every diagnosis made or treated during the stay, one item per diagnosis, principal '
     'first, as listed ("Diagnoses", "Discharge diagnoses").'),
    ("medications", "string", True, False,
     'Every medication the patient is to take after discharge, one item per medication with '
     'its dose and schedule as written ("Discharge medications", "Medications"). Not '
     'stopped medications.'),
    ("follow_up", "string", False, False,
     'The follow-up appointment or plan: with whom, where and when ("Follow-up", '
     '"Follow-up appointment").'),
)

_RESUME: tuple[PresetRow, ...] = (
    ("name", "string", False, True, "The candidate's full name, usually at the top."),
    ("email", "string", False, False, 'The candidate\'s e-mail address ("Email", "E-mail").'),
    ("phone", "string", False, False, 'The candidate\'s phone number ("Phone", "Mobile", '
     '"Tel").'),
    ("location", "string", False, False, 'Where the candidate lives: city and country '
     '("Location", "Address").'),
    ("current_title", "string", False, False,
     "The candidate's current or most recent job title."),
    ("years_experience", "number", False, False,
     'Total years of professional experience, if stated ("Years of experience").'),
    ("skills", "string", True, False,
     'Skills, tools and technologies, one item each ("Skills", "Technical skills").'),
    ("employers", "string", True, False,
     'Companies or organisations the candidate has worked for, one item each, most recent '
     'first ("Experience", "Employment history").'),
    ("education", "string", True, False,
     'Degrees or qualifications with the institution, one item each ("Education").'),
    ("languages", "string", True, False, 'Spoken languages, one item each ("Languages").'),
)

PRESET_DATA: dict[str, tuple[PresetRow, ...]] = {
    "invoice": _INVOICE,
    "contract": _CONTRACT,
    "medical": _MEDICAL,
    "resume": _RESUME,
}
